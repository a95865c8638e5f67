"""Where every output of a run lives: one named template per file or folder, relative to the results folder.

The rules build their inputs and outputs from these names only, so renaming a folder is a one-line change here.
Fields in braces are Snakemake wildcards; the dataset wildcard is `ds` for any dataset, `src` for a pretraining
source and `tgt` for a fine-tuning target (rules/common.smk constrains each). Nothing reads a run's identity back
from a path: the report receives it from the workflow beside each file.
"""

from __future__ import annotations

import string

LAYOUT = {
    # The synthetic world of a dataset of kind `synthetic` (rendered videos and ground truth).
    "world": "world/{ds}",
    # Per dataset: the manifest, then frames, human boxes and scene labels per shard and merged.
    "manifest": "{ds}/manifest.csv",
    "manifest_report": "{ds}/manifest_report.json",
    "shard_frames": "{ds}/frames/{shard}",  # index.csv and packs/
    "frame_index": "{ds}/frames/index.csv",
    "frames_report": "{ds}/frames/report.json",
    "shard_boxes": "{ds}/humans/{shard}.npz",
    "boxes": "{ds}/humans/boxes.npz",
    "boxes_quality": "{ds}/humans/quality.json",
    "shard_scene_features": "{ds}/scene/features/{shard}.npz",
    "scene_kmeans": "scene_kmeans/model.npz",
    "shard_scene_labels": "{ds}/scene/{shard}.npz",
    "scene_labels": "{ds}/scene/labels.npz",
    "scene_quality": "{ds}/scene/quality.json",
    # Training runs (model.pt, metrics.json, log.csv; fine-tuning runs also eval.json and predictions.csv).
    "pretrain_run": "{src}/pretrain/{variant}/seed{seed}",
    "finetune_run": "{tgt}/finetune/{init}/split{split}/seed{seed}",
    # Measures and the report.
    "bias": "{src}/bias/{variant}/seed{seed}.json",
    "b_scene": "{ds}/bias/b_scene.json",
    "report": "report",
    "sheet": "report/{ds}/{sheet}_sheet",  # contact sheets: .png and .json; sheet is boxes or scenes
    # Job logs, Snakemake benchmarks and resumable training checkpoints (outside every job's outputs).
    "logs": "logs",
    "benchmarks": "benchmarks",
    "checkpoints": "checkpoints",
}


def fill(template: str, **values) -> str:
    """`template` with the given fields replaced and every other field left as a {wildcard}."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(str(values[field]) if field in values else "{" + field + "}")
    return "".join(out)


class Layout:
    """The results folder's layout: `layout("pretrain_run", variant="baseline")` ->
    'results/{src}/pretrain/baseline/seed{seed}'."""

    def __init__(self, results: str):
        self.results = results.rstrip("/")

    def __call__(self, name: str, /, **values) -> str:
        if name not in LAYOUT:
            raise KeyError(f"no results path named {name!r}; the names are in scenebias/paths.py: {sorted(LAYOUT)}")
        return f"{self.results}/{fill(LAYOUT[name], **values)}"
