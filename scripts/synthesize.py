#!/usr/bin/env python
"""Render one dataset of the synthetic scene-biased world as mp4 files, lists and ground truth."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import setup_logging, write_hparams
from scenebias.paths import world_file
from scenebias.synth.world import check_ffmpeg_can_encode, write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", required=True, help="the `world` config section as JSON")
    parser.add_argument("--dataset", required=True, help="'source' or a name under world.targets")
    parser.add_argument("--out", required=True, type=Path, help="world folder; writes OUT/DATASET/")
    args = parser.parse_args()
    setup_logging()
    world = json.loads(args.world)
    check_ffmpeg_can_encode()
    truth = write_dataset(args.dataset, world, args.out)
    write_hparams(world_file(args.out / args.dataset, "hparams"), {"world": world, "dataset": args.dataset})
    print(f"rendered {len(truth)} videos of {args.dataset} into {args.out / args.dataset}")


if __name__ == "__main__":
    main()
