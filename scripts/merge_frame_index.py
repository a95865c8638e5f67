#!/usr/bin/env python
"""Merge the per-shard frame indexes of a dataset and report the videos left out."""

import argparse
import json
import logging
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.frames import write_index
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("indexes", nargs="*", type=Path, help="shard index.csv files")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    if not args.indexes:
        sys.exit(f"error: no shard indexes to merge into {args.out}: the dataset's manifest lists no video")
    parts = []
    for path in args.indexes:
        part = pd.read_csv(path, keep_default_na=False)
        part.insert(1, "shard", path.parent.name)
        parts.append(part)
    index = pd.concat(parts, ignore_index=True)
    failed = index[index["status"] != "ok"]
    for row in failed.itertuples():
        logging.warning("left out %s (shard %s): %s", row.video_id, row.shard, row.error)
    write_index(index, args.out)
    report = {
        "videos": len(index),
        "ok": int((index["status"] == "ok").sum()),
        "failed": len(failed),
        "failed_videos": failed[["video_id", "shard", "error"]].to_dict("records"),
        "frames_total": int(index["n_frames"].sum()),
    }
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    write_hparams(args.hparams or sidecar(args.out), {"shards": len(args.indexes)})
    print(f"{report['ok']}/{report['videos']} videos have frames ({report['failed']} left out) -> {args.out}")


if __name__ == "__main__":
    main()
