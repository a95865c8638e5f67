#!/usr/bin/env python
"""Per-frame human boxes for one shard of frame packs, with the configured backend."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from scenebias.cli import setup_logging, write_hparams
from scenebias.humans import detectors
from scenebias.humans.boxes import save_boxes
from scenebias.humans.motion import MotionSettings
from scenebias.humans.stage import BACKENDS, oracle_boxes, shard_boxes


def make_detector(backend: str, settings: dict, weights: str | None):
    if backend == "torchvision":
        model = detectors.build_torchvision_detector(
            settings["model"], weights, settings["short_side"], settings["min_score"]
        )
        return detectors.torchvision_detect(model, settings["device"], settings["half"], settings["batch_size"])
    if backend == "detectron2":
        detector = detectors.build_detectron2_detector(
            settings["config"], weights, settings["short_side"], settings["min_score"]
        )
        return detectors.detectron2_detect(detector, settings["device"], settings["batch_size"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True, help="the shard's frame index.csv")
    parser.add_argument("--packs", type=Path, required=True, help="the shard's packs folder")
    parser.add_argument("--backend", choices=BACKENDS, required=True)
    parser.add_argument("--settings", default="{}", help="the backend's config section as JSON")
    parser.add_argument("--weights", help="detector weights file (torchvision, detectron2)")
    parser.add_argument("--oracle-boxes", type=Path, help="actor_boxes.csv of a synthetic dataset (oracle)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    settings = json.loads(args.settings)
    index = pd.read_csv(args.index, keep_default_na=False)
    try:
        detect = make_detector(args.backend, settings, args.weights)
    except (detectors.BackendUnavailable, ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
    if args.backend == "oracle" and args.oracle_boxes is None:
        sys.exit("error: the oracle backend needs --oracle-boxes (a synthetic dataset's actor_boxes.csv)")
    videos = shard_boxes(
        index,
        args.packs,
        args.backend,
        args.stride,
        detect=detect,
        motion=MotionSettings(**settings) if args.backend == "motion" else None,
        oracle=oracle_boxes(args.oracle_boxes) if args.backend == "oracle" else None,
    )
    save_boxes(args.out, videos)
    write_hparams(
        args.out.with_suffix(".hparams.json"),
        {"backend": args.backend, "stride": args.stride, "settings": settings, "weights": args.weights},
    )
    n_boxes = sum(len(b) for v in videos for b in v.frames)
    print(f"{len(videos)} videos, {n_boxes} frame boxes -> {args.out}")


if __name__ == "__main__":
    main()
