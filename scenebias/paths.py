"""Where every output of a run lives: one named template per file or folder, relative to the results folder.

The rules build their inputs, outputs, logs and benchmarks from these names only, the stages write the file names
inside a folder from here (a training run's model.pt, the report's tables, the synthetic world's truth), and
results/README.md is generated from this module (`python -m scenebias.paths > results/README.md`; a test checks
it is current). Renaming a file or folder is one edit here.

Fields in braces are Snakemake wildcards; the dataset wildcard is `ds` for any dataset, `src` for a pretraining
source and `tgt` for a fine-tuning target (rules/common.smk constrains each). Nothing reads a run's identity back
from a path: the report receives it from the workflow beside each file.
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

# name -> (template under the results folder, what it holds)
LAYOUT: dict[str, tuple[str, str]] = {
    # The synthetic world of a dataset of kind `synthetic` (files inside: WORLD_FILES).
    "world": ("world/{ds}", "a rendered synthetic dataset (rule synthesize_dataset): see the world's files below"),
    # A backend's preparation, once per run (e.g. the authors' released files read into an indexed store).
    "backend_prepared": (
        "prepared/{section}/{backend}",
        "a backend's prepared files (released files as memory-mappable .npy, report.json, hparams.json)",
    ),
    # Per dataset: the manifest, then frames, human boxes and scene labels per shard and merged.
    "manifest": ("{ds}/manifest.csv", "video_id, path, label, label_name, split<k>, shard"),
    "manifest_report": ("{ds}/manifest_report.json", "listed / used / missing / unlisted videos"),
    "shard_frames": ("{ds}/frames/{shard}", "the frames of one shard (the three entries below)"),
    "shard_frame_index": (
        "{ds}/frames/{shard}/index.csv",
        "per video: status, n_frames, fps, w, h, codec, pack, error",
    ),
    "shard_packs": (
        "{ds}/frames/{shard}/packs",
        "<id>.zip per video: an uncompressed ZIP of 000000.jpg, 000001.jpg, ...",
    ),
    "shard_frames_hparams": ("{ds}/frames/{shard}/hparams.json", "the extraction settings and the ffmpeg used"),
    "frame_index": (
        "{ds}/frames/index.csv",
        "all shards' frame indexes merged: video_id, status, n_frames, fps, w, h, ...",
    ),
    "frames_report": ("{ds}/frames/report.json", "videos extracted and left out, with the reasons"),
    "shard_boxes": (
        "{ds}/humans/{shard}.npz",
        "per-frame person boxes (x1, y1, x2, y2, score) of one shard; .hparams.json beside",
    ),
    "boxes": ("{ds}/humans/boxes.npz", "all shards' boxes merged"),
    "boxes_quality": (
        "{ds}/humans/quality.json",
        "valid videos (the paper's 70 % rule); actor recall and IoU on the synthetic world",
    ),
    "shard_boxes_agreement": (
        "{ds}/humans/agreement/{shard}.npz",
        "boxes of the backend humans.agreement names, for the agreement report; .hparams.json beside",
    ),
    "boxes_agreement": (
        "{ds}/humans/agreement.json",
        "humans.agreement: per-frame recall / precision at IoU 0.5 and validity verdicts, chosen vs the other",
    ),
    "shard_scene_features": (
        "{ds}/scene/features/{shard}.npz",
        "appearance features per video (k-means labels, B_scene)",
    ),
    "scene_model": (
        "scene_model/model.npz",
        "a scene labeller's fitted model (k-means centroids); .hparams.json beside",
    ),
    "shard_scene_labels": (
        "{ds}/scene/{shard}.npz",
        "soft scene pseudo-labels per video of one shard; .hparams.json beside",
    ),
    "scene_labels": ("{ds}/scene/labels.npz", "all shards' scene labels merged"),
    "shard_scene_labels_agreement": (
        "{ds}/scene/agreement/{shard}.npz",
        "labels of the backend scene.agreement names, for the agreement report; .hparams.json beside",
    ),
    "scene_agreement": (
        "{ds}/scene/agreement.json",
        "scene.agreement: top-1 agreement and mean KL divergence of the soft labels, chosen vs the other",
    ),
    "scene_quality": (
        "{ds}/scene/quality.json",
        "label statistics; purity and NMI against the synthetic world's scenes",
    ),
    # Training runs (files inside: RUN_FILES).
    "pretrain_run": (
        "{src}/pretrain/{variant}/seed{seed}",
        "one pretraining run: model.pt, metrics.json, log.csv, hparams.json",
    ),
    "finetune_run": (
        "{tgt}/finetune/{init}/split{split}/seed{seed}",
        "one fine-tuning run: the same, plus eval.json and predictions.csv",
    ),
    # Measures and the report (files inside: REPORT_FILES).
    "bias": ("{src}/bias/{variant}/seed{seed}.json", "bias measures of one pretrained model"),
    "b_scene": ("{ds}/bias/b_scene.json", "B_scene of a dataset: how well its scene features predict its actions"),
    "report": ("report", "the tables and plots of the run (below)"),
    "sheet": (
        "report/{ds}/{sheet}_sheet",
        "contact sheets (.png and .json) of a dataset: sheet is boxes, scenes, boxes_agreement or scenes_agreement",
    ),
    # Job logs, Snakemake benchmarks and resumable training checkpoints (outside every job's outputs).
    "logs": ("logs", "one log per job: logs/<stage>/... (JOBS)"),
    "benchmarks": ("benchmarks", "Snakemake's run time and memory of every job: benchmarks/<stage>/....tsv"),
    "checkpoints": ("checkpoints", "resumable training state of running jobs (removed when a job ends)"),
}

# The files of a rendered synthetic dataset's folder (LAYOUT "world").
WORLD_FILES: dict[str, tuple[str, str]] = {
    "videos": ("videos", "videos/<class>/<id>.mp4"),
    "lists": ("lists", "classInd.txt + <set>list01.txt (UCF101's format)"),
    "truth": ("ground_truth.csv", "scene, bias-conflict and actor flags per video"),
    "actor_boxes": ("actor_boxes.csv", "per-frame actor box (rendered pixels)"),
    "actor_masks": ("actor_masks.npz", "per-frame actor masks, bit-packed along the width"),
    "classes": ("classes.json", "class names in label order"),
    "hparams": ("hparams.json", "the world settings it was rendered with"),
}

WORLD_FOLDERS = ("videos", "lists")  # the world's folders (the rest are files): what a dataset's adapter reads

# The files of a training run's folder (LAYOUT "pretrain_run", "finetune_run").
RUN_FILES: dict[str, tuple[str, str]] = {
    "model": ("model.pt", "the trained network (and heads), with its settings"),
    "metrics": ("metrics.json", "the last epoch's numbers, run sizes and the settings fingerprint"),
    "log": ("log.csv", "one row per epoch: losses, accuracies, learning rate, seconds"),
    "hparams": ("hparams.json", "the run's settings and the command that ran it"),
    "eval": ("eval.json", "fine-tuning runs: the paper's video-level evaluation on the test role"),
    "predictions": ("predictions.csv", "fine-tuning runs: per test video, the label and the prediction"),
    "tensorboard": ("tensorboard", "TensorBoard events (with compute.tensorboard)"),
}

# The files of the report folder (LAYOUT "report").
REPORT_FILES: dict[str, tuple[str, str]] = {
    "md": ("results.md", "the results: transfer table, bias measures, B_scene, contact sheets, videos left out"),
    "csv": ("results.csv", "the transfer table: mean ± std over seeds, paired differences with 95 % intervals"),
    "tex": ("results.tex", "the transfer table for a paper"),
    "runs": ("runs.csv", "every fine-tuning run and its numbers"),
    "bias": ("bias.csv", "bias measures per pretrained model"),
    "bias_summary": ("bias_summary.csv", "bias measures per variant (mean ± std over seeds)"),
    "bias_differences": ("bias_differences.csv", "bias measures paired to the baseline over seeds"),
    "bias_plot": ("bias_measures.png", "the bias measures per variant"),
    "curves": ("training_curves.png", "the pretraining runs' training curves"),
    "sweep_csv": ("p_bias_sweep.csv", "the optional p_bias sweep (target p_bias_sweep)"),
    "sweep_md": ("p_bias_sweep.md", "the sweep's table"),
    "sweep_plot": ("p_bias_sweep.png", "the sweep's plot"),
    "hparams": ("hparams.json", "what the report job ran with (results.md's footer sums up every job's record)"),
}

# Each job's log (logs/<stem>.log) and benchmark (benchmarks/<stem>.tsv), by rule.
JOBS: dict[str, str] = {
    "synthesize_dataset": "synthesize/{ds}",
    "manifest": "manifest/{ds}",
    "extract_frames": "frames/{ds}/{shard}",
    "merge_frame_index": "frames/{ds}/merge",
    "prepare_backend": "prepare/{section}/{backend}",
    "human_boxes": "humans/{ds}/{shard}",
    "merge_human_boxes": "humans/{ds}/merge",
    "human_boxes_agreement": "humans/{ds}/agreement_{shard}",
    "boxes_agreement": "humans/{ds}/agreement",
    "scene_features": "scene/{ds}/features_{shard}",
    "fit_scene_model": "scene/fit_model",
    "scene_labels": "scene/{ds}/{shard}",
    "merge_scene_labels": "scene/{ds}/merge",
    "scene_labels_agreement": "scene/{ds}/agreement_{shard}",
    "scene_agreement": "scene/{ds}/agreement",
    "pretrain": "pretrain/{src}/{variant}/seed{seed}",
    "finetune": "finetune/{tgt}/{init}/split{split}/seed{seed}",
    "bias_measures": "bias/{src}/{variant}/seed{seed}",
    "b_scene": "bias/b_scene_{ds}",
    "boxes_sheet": "sheets/{ds}/boxes",
    "scenes_sheet": "sheets/{ds}/scenes",
    "report": "report",
    "p_bias_sweep": "p_bias_sweep",
}

# Under the resources folder (config `resources`): downloads of the fetch rule, shared by every results folder.
RESOURCE_LAYOUT: dict[str, tuple[str, str]] = {
    "download": ("downloads/{name}", "a file fetched with its pinned sha256 (weights, lists)"),
    "fetch_log": ("logs/fetch/{name}.log", "the log of one download"),
    "download_hparams": ("downloads/{name}.hparams.json", "the record of one download (its url, sha256, environment)"),
}

HPARAMS_SUFFIX = ".hparams.json"  # the settings record beside a stage's output file: <stem>.hparams.json


def sidecar(path: str | Path) -> str:
    """The settings record written beside one output file of a stage: x/<stem>.hparams.json for x/<stem>.<ext>."""
    return str(Path(path).with_suffix(HPARAMS_SUFFIX))


def fill(template: str, **values) -> str:
    """`template` with the given fields replaced and every other field left as a {wildcard}."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(str(values[field]) if field in values else "{" + field + "}")
    return "".join(out)


def _name(table: dict[str, tuple[str, str]], key: str, what: str) -> str:
    if key not in table:
        raise KeyError(f"no {what} named {key!r}; the names are in scenebias/paths.py: {sorted(table)}")
    return table[key][0]


class Layout:
    """The results folder's layout: `layout("pretrain_run", variant="baseline")` ->
    'results/{src}/pretrain/baseline/seed{seed}'."""

    def __init__(self, results: str, templates: dict[str, tuple[str, str]] = LAYOUT):
        self.results = str(results).rstrip("/")
        self.templates = templates

    def __call__(self, name: str, /, **values) -> str:
        return f"{self.results}/{fill(_name(self.templates, name, 'results path'), **values)}"

    def run(self, name: str, file: str, /, **values) -> str:
        """A file of a training run: `run("pretrain_run", "model")` -> '.../seed{seed}/model.pt'."""
        return f"{self(name, **values)}/{_name(RUN_FILES, file, 'run file')}"

    def world(self, file: str, /, **values) -> str:
        """A file of a rendered synthetic dataset: `world("truth")` -> 'results/world/{ds}/ground_truth.csv'."""
        return f"{self('world', **values)}/{_name(WORLD_FILES, file, 'world file')}"

    def report(self, file: str) -> str:
        return f"{self('report')}/{_name(REPORT_FILES, file, 'report file')}"

    def log(self, rule: str, /, **values) -> str:
        return f"{self('logs')}/{fill(_name_of_job(rule), **values)}.log"

    def benchmark(self, rule: str, /, **values) -> str:
        return f"{self('benchmarks')}/{fill(_name_of_job(rule), **values)}.tsv"


def _name_of_job(rule: str) -> str:
    if rule not in JOBS:
        raise KeyError(f"no job named {rule!r}; the jobs are in scenebias/paths.py: {sorted(JOBS)}")
    return JOBS[rule]


def shard_pack(frame_index: str | Path, shard: str, pack: str) -> Path:
    """A video's frame pack, from its dataset's merged frame index (LAYOUT frame_index) and the row's shard and pack
    (the shards' folders lie beside the merged index in the layout)."""
    index_folder = fill(str(Path(LAYOUT["frame_index"][0]).parent), ds="DS")
    packs = Path(fill(LAYOUT["shard_packs"][0], ds="DS", shard=shard)).relative_to(index_folder)
    return Path(frame_index).parent / packs / pack


def run_file(folder: str | Path, file: str) -> Path:
    """A file of a training run's folder (for the stages that write them)."""
    return Path(folder) / _name(RUN_FILES, file, "run file")


def world_file(folder: str | Path, file: str) -> Path:
    """A file of a rendered synthetic dataset's folder (for the stages that write or read them)."""
    return Path(folder) / _name(WORLD_FILES, file, "world file")


def report_file(folder: str | Path, file: str) -> Path:
    return Path(folder) / _name(REPORT_FILES, file, "report file")


def readme() -> str:
    """results/README.md: every file and folder of a results folder, from the tables above."""

    def rows(entries, prefix=""):
        width = 46
        return [f"    {(prefix + template).ljust(width)} {text}" for template, text in entries]

    lines = [
        "# results/ (outputs; ignored by git except this file)",
        "",
        "Generated from scenebias/paths.py (`python -m scenebias.paths > results/README.md`). Fields in braces:",
        "ds any dataset, src the pretraining source, tgt a fine-tuning target, shard a shard of a dataset's videos.",
        "",
        *rows(LAYOUT.values()),
        "",
        "Inside world/{ds}/ (a synthetic dataset):",
        "",
        *rows(WORLD_FILES.values(), "world/{ds}/"),
        "",
        "Inside a training run's folder (pretrain_run, finetune_run above):",
        "",
        *rows(RUN_FILES.values(), "<run>/"),
        "",
        "Inside report/:",
        "",
        *rows(REPORT_FILES.values(), "report/"),
        "",
        "Job logs (logs/<stem>.log) and benchmarks (benchmarks/<stem>.tsv), by rule:",
        "",
        *rows([(stem, rule) for rule, stem in JOBS.items()], "logs/"),
        "",
        "Under the resources folder (config `resources`, shared by every results folder):",
        "",
        *rows(RESOURCE_LAYOUT.values(), "resources/"),
        "",
        "What every result was made with: each job writes a record beside its outputs, `hparams.json` in a folder",
        "(a training run, a shard's frames, report/) or `<stem>.hparams.json` beside a single output file",
        "(humans/0000.hparams.json for humans/0000.npz). It holds the job's settings (`params`), the files that",
        "decide its result with their sha256 (`files`: weights, released files, an initialisation) and its",
        "`environment`: the git commit and whether the code had uncommitted changes, Python, torch and",
        "torchvision, CUDA, cuDNN and the GPUs, the ffmpeg binary and its version, Snakemake's version, the host.",
        "report/results.md ends with the distinct environments of the run and the files read, once.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(readme())
