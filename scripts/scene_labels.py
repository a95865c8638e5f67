#!/usr/bin/env python
"""Scene pseudo-labels (soft, per video) for one shard, with the configured backend (scenebias.scene.LABELLERS)."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.backends import file_flags, missing_inputs, recorded_files
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.released.store import ReleaseFormatError
from scenebias.scene import LABELLERS, label_shard, save_labels

FILES = file_flags(LABELLERS)  # --<name> of every file input a labeller's record names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=sorted(LABELLERS), required=True)
    parser.add_argument("--settings", default="{}", help="the backend's config section (+ frames_per_video), JSON")
    parser.add_argument("--delegate", choices=sorted(LABELLERS), help="the backend for videos --backend lacks")
    parser.add_argument("--delegate-settings", default="{}", help="the delegate's config section, JSON")
    for name, text in FILES.items():
        parser.add_argument(f"--{name}", type=Path, help=text)
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    records = [LABELLERS[args.backend], *([LABELLERS[args.delegate]] if args.delegate else [])]
    files = {name: getattr(args, name) for name in FILES if getattr(args, name) is not None}
    missing = sorted({flag for record in records for flag in missing_inputs(record, files)})
    if missing:
        parser.error(f"the {args.backend} backend needs {' '.join(missing)}")
    settings, delegate_settings = json.loads(args.settings), json.loads(args.delegate_settings)
    delegate = (args.delegate, delegate_settings) if args.delegate else None
    try:
        labels, coverage = label_shard(args.backend, files, settings, delegate)
    except (ReleaseFormatError, FileNotFoundError) as exc:
        sys.exit(f"error: {exc}")
    save_labels(args.out, labels.ids, labels.soft, labels.names, labels.top1, coverage)
    params = {"backend": args.backend, "settings": settings, "files": {k: str(v) for k, v in files.items()}}
    if args.delegate:
        params["delegate"] = {"backend": args.delegate, "settings": delegate_settings}
    recorded = {k: v for record in records for k, v in recorded_files(record, files).items()}
    write_hparams(args.hparams or sidecar(args.out), params, files=recorded)
    print(f"{len(labels.ids)} videos labelled, {len(coverage.left_out)} left out -> {args.out}")


if __name__ == "__main__":
    main()
