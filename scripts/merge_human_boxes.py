#!/usr/bin/env python
"""Merge a dataset's per-shard human boxes and write their quality report (valid videos; recall/IoU on synthetic)."""

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams, write_json
from scenebias.humans.boxes import merge_box_files
from scenebias.humans.stage import box_quality
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shards", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quality", type=Path, required=True)
    parser.add_argument("--score-threshold", type=float, required=True)
    parser.add_argument("--valid-ratio", type=float, required=True)
    parser.add_argument("--truth-dir", type=Path, help="synthetic dataset folder with actor_masks.npz")
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    if not args.shards:
        sys.exit(f"error: no shard boxes to merge into {args.out}: the dataset's manifest lists no video")
    merge_box_files(args.shards, args.out)
    report = box_quality(args.out, args.score_threshold, args.valid_ratio, args.truth_dir)
    write_json(args.quality, report)
    write_hparams(
        args.hparams or sidecar(args.out),
        {"shards": len(args.shards), "score_threshold": args.score_threshold, "valid_ratio": args.valid_ratio},
    )
    print(report)


if __name__ == "__main__":
    main()
