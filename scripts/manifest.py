#!/usr/bin/env python
"""Build a dataset's manifest (video id, path, label, split roles, shard) from its official lists and videos."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.datasets import DATASET_KINDS
from scenebias.manifest import ManifestError, assign_shards, reconcile_with_disk, write_manifest
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", required=True, choices=sorted(DATASET_KINDS))
    parser.add_argument("--root", type=Path, required=True, help="the dataset's folder (official layout)")
    parser.add_argument("--options", default="{}", help="adapter options as JSON (see scenebias.datasets)")
    parser.add_argument(
        "--subset-lists",
        default="null",
        help="JSON {role: file} or [file, ...] of subset lists, relative to the working directory (overrides the "
        "options' subset_lists, which are relative to --root)",
    )
    parser.add_argument("--shard-size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="manifest.csv to write")
    parser.add_argument("--report", type=Path, required=True, help="manifest_report.json to write")
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    try:
        options = json.loads(args.options)
        lists = json.loads(args.subset_lists)
        if lists:
            resolve = lambda path: str(Path(path).resolve())  # noqa: E731
            options["subset_lists"] = (
                {k: resolve(v) for k, v in lists.items()} if isinstance(lists, dict) else [resolve(v) for v in lists]
            )
        listed, video_root, adapter_report = DATASET_KINDS[args.kind].adapt(args.root, options)
        manifest, report = reconcile_with_disk(listed, video_root)
    except ManifestError as exc:
        sys.exit(f"error: {exc}")
    if manifest.empty:
        sys.exit(f"error: {args.root}: the dataset's lists name no video, so there is nothing to process")
    manifest = assign_shards(manifest, args.shard_size)
    report["video_root"] = str(video_root.resolve())
    write_manifest(manifest, {**report, "adapter": adapter_report}, args.out, args.report)
    write_hparams(
        args.hparams or sidecar(args.out),
        {"kind": args.kind, "root": str(args.root), "options": options, "shard_size": args.shard_size},
        files={
            f"subset_list_{k}": v for k, v in (lists.items() if isinstance(lists, dict) else enumerate(lists or []))
        },
    )
    print(f"{args.root}: {len(manifest)} videos in {manifest['shard'].nunique()} shard(s) -> {args.out}")


if __name__ == "__main__":
    main()
