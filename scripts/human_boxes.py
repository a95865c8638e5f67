#!/usr/bin/env python
"""Per-frame human boxes for one shard of frame packs, with the configured backend (BOX_BACKENDS)."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from scenebias.backends import file_flags, missing_inputs, recorded_files
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.humans.boxes import save_boxes
from scenebias.humans.detectors import BackendUnavailable
from scenebias.humans.stage import BOX_BACKENDS, shard_boxes
from scenebias.paths import sidecar

FILES = file_flags(BOX_BACKENDS)  # --<name> of every file input a backend's record names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True, help="the shard's frame index.csv")
    parser.add_argument("--packs", type=Path, required=True, help="the shard's packs folder")
    parser.add_argument("--backend", choices=sorted(BOX_BACKENDS), required=True)
    parser.add_argument("--settings", default="{}", help="the backend's config section as JSON")
    parser.add_argument("--delegate", choices=sorted(BOX_BACKENDS), help="the backend for videos --backend lacks")
    parser.add_argument("--delegate-settings", default="{}", help="the delegate's config section as JSON")
    for name, text in FILES.items():
        parser.add_argument(f"--{name}", type=Path, help=text)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    settings, delegate_settings = json.loads(args.settings), json.loads(args.delegate_settings)
    files = {name: getattr(args, name) for name in FILES if getattr(args, name) is not None}
    records = [BOX_BACKENDS[args.backend], *([BOX_BACKENDS[args.delegate]] if args.delegate else [])]
    missing = [flag for record in records for flag in missing_inputs(record, files)]
    if missing:
        parser.error(f"the {args.backend} backend needs {' '.join(sorted(set(missing)))}")
    index = pd.read_csv(args.index, keep_default_na=False)
    try:
        find = BOX_BACKENDS[args.backend].build(settings, files)
        delegate = (
            (args.delegate, BOX_BACKENDS[args.delegate].build(delegate_settings, files)) if args.delegate else None
        )
    except (BackendUnavailable, ValueError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
    left_out: list[tuple[str, str]] = []
    videos = shard_boxes(index, args.packs, find, args.stride, args.backend, delegate, left_out)
    save_boxes(args.out, videos, left_out)
    params = {"backend": args.backend, "stride": args.stride, "settings": settings,
              "files": {k: str(v) for k, v in files.items()}}  # fmt: skip
    if args.delegate:
        params["delegate"] = {"backend": args.delegate, "settings": delegate_settings}
    recorded = {k: v for record in records for k, v in recorded_files(record, files).items()}
    write_hparams(args.hparams or sidecar(args.out), params, files=recorded)
    n_boxes = sum(len(b) for v in videos for b in v.frames)
    print(f"{len(videos)} videos, {n_boxes} frame boxes, {len(left_out)} left out -> {args.out}")


if __name__ == "__main__":
    main()
