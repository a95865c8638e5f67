#!/usr/bin/env python
"""Build a dataset's manifest (video id, path, label, split roles, shard) from its lists and video folder."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import setup_logging
from scenebias.datasets.synthetic import dataset_dirs, read_synthetic
from scenebias.manifest import assign_shards, reconcile_with_disk, write_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", required=True, choices=["synthetic"])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--world-root", type=Path, help="folder of the rendered world (kind synthetic)")
    parser.add_argument("--shard-size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="manifest.csv to write")
    parser.add_argument("--report", type=Path, required=True, help="manifest_report.json to write")
    args = parser.parse_args()
    setup_logging()
    video_root, _ = dataset_dirs(args.world_root, args.dataset)
    listed = read_synthetic(args.world_root, args.dataset)
    manifest, report = reconcile_with_disk(listed, video_root)
    manifest = assign_shards(manifest, args.shard_size)
    write_manifest(manifest, report, args.out, args.report)
    print(f"{args.dataset}: {len(manifest)} videos in {manifest['shard'].nunique()} shard(s) -> {args.out}")


if __name__ == "__main__":
    main()
