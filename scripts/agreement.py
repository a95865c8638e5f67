#!/usr/bin/env python
"""Compare two backends' outputs on the same videos of a dataset (`boxes`: human boxes, `scenes`: scene labels):
the agreement JSON (scenebias.agreement) and a contact sheet of where they disagree most."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from scenebias.agreement import box_agreement, label_agreement, worst_frames
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams, write_json
from scenebias.coverage import load_coverage
from scenebias.humans.boxes import load_boxes
from scenebias.paths import sidecar
from scenebias.scene import load_labels
from scenebias.sheets import SheetSettings, write_sheet
from scenebias.sheets.agreement import boxes_agreement_sheet, scenes_agreement_sheet


def merged_boxes(paths: list[Path]) -> dict:
    out = {}
    for path in paths:
        out.update(load_boxes(path))
    return out


def merged_labels(paths: list[Path]) -> dict:
    parts = [load_labels(p) for p in paths]
    sources = [s for p in paths for s in load_coverage(p)[1].sources]
    return {
        "video_ids": np.concatenate([p["video_ids"] for p in parts]),
        "soft": np.concatenate([p["soft"] for p in parts]),
        "top1": np.concatenate([p["top1"] for p in parts]),
        "sources": np.asarray(sources, dtype=str),
        "class_names": next((p["class_names"] for p in parts if "class_names" in p), None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["boxes", "scenes"])
    parser.add_argument("--chosen", nargs="+", type=Path, required=True, help="the chosen backend's shard files")
    parser.add_argument("--other", nargs="+", type=Path, required=True, help="the other backend's shard files")
    parser.add_argument("--names", nargs=2, required=True, metavar=("CHOSEN", "OTHER"), help="the two backends")
    parser.add_argument("--index", type=Path, required=True, help="the dataset's merged frames/index.csv")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--settings", default="{}", help="the sheets config section as JSON")
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--valid-ratio", type=float, default=0.7)
    parser.add_argument("--out", type=Path, required=True, help="the agreement JSON")
    parser.add_argument("--sheet", type=Path, required=True, help="the contact sheet PNG")
    parser.add_argument("--record", type=Path, required=True, help="the JSON of what the sheet shows")
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    settings = SheetSettings(**json.loads(args.settings))
    names = tuple(args.names)
    if args.what == "boxes":
        chosen, other = merged_boxes(args.chosen), merged_boxes(args.other)
        report, frames = box_agreement(chosen, other, names, args.score_threshold, args.valid_ratio)
        worst = worst_frames(frames, settings.videos)
        sheet, record = boxes_agreement_sheet(
            args.dataset, args.index, chosen, other, worst, names, settings, args.score_threshold
        )
    else:
        chosen, other = merged_labels(args.chosen), merged_labels(args.other)
        report, videos = label_agreement(chosen, other, names)
        worst = sorted(videos, key=lambda v: -v["kl"])[: settings.scenes]
        names_of = chosen["class_names"] if chosen["class_names"] is not None else other["class_names"]
        sheet, record = scenes_agreement_sheet(args.dataset, args.index, worst, names_of, names, settings)
    write_json(args.out, report)
    write_sheet(sheet, record, args.sheet, args.record)
    params = {"what": args.what, "names": list(names), "score_threshold": args.score_threshold,
              "valid_ratio": args.valid_ratio, "settings": vars(settings)}  # fmt: skip
    write_hparams(args.hparams or sidecar(args.out), params)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
