#!/usr/bin/env python
"""Merge a dataset's per-shard scene labels and write their quality (purity / NMI on the synthetic world)."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams, write_json
from scenebias.paths import sidecar
from scenebias.scene import label_quality, merge_label_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shards", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quality", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="ground_truth.csv of a synthetic dataset")
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    merge_label_files(args.shards, args.out)
    report = label_quality(args.out, args.truth)
    write_json(args.quality, report)
    write_hparams(args.hparams or sidecar(args.out), {"shards": len(args.shards)})
    print(report)


if __name__ == "__main__":
    main()
