#!/usr/bin/env python
"""Build a dataset's manifest (video id, path, label, split roles, shard) from its official lists and videos."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import setup_logging
from scenebias.datasets import ADAPTERS
from scenebias.manifest import ManifestError, assign_shards, reconcile_with_disk, write_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", required=True, choices=sorted(ADAPTERS))
    parser.add_argument("--root", type=Path, required=True, help="the dataset's folder (official layout)")
    parser.add_argument("--options", default="{}", help="adapter options as JSON (see scenebias.datasets)")
    parser.add_argument("--shard-size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="manifest.csv to write")
    parser.add_argument("--report", type=Path, required=True, help="manifest_report.json to write")
    args = parser.parse_args()
    setup_logging()
    try:
        listed, video_root, adapter_report = ADAPTERS[args.kind](args.root, json.loads(args.options))
        manifest, report = reconcile_with_disk(listed, video_root)
    except ManifestError as exc:
        sys.exit(f"error: {exc}")
    manifest = assign_shards(manifest, args.shard_size)
    report["video_root"] = str(video_root.resolve())
    write_manifest(manifest, {**report, "adapter": adapter_report}, args.out, args.report)
    print(f"{args.root}: {len(manifest)} videos in {manifest['shard'].nunique()} shard(s) -> {args.out}")


if __name__ == "__main__":
    main()
