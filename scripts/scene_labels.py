#!/usr/bin/env python
"""Scene pseudo-labels (soft, per video) for one shard, with the configured backend (scenebias.scene.LABELLERS)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.backends import file_flags, missing_inputs
from scenebias.cli import setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.scene import LABELLERS, save_labels

FILES = file_flags(LABELLERS)  # --<name> of every file input a labeller's record names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=sorted(LABELLERS), required=True)
    parser.add_argument("--settings", default="{}", help="the backend's config section (+ frames_per_video), JSON")
    for name, text in FILES.items():
        parser.add_argument(f"--{name}", type=Path, help=text)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    labeller = LABELLERS[args.backend]
    files = {name: getattr(args, name) for name in FILES if getattr(args, name) is not None}
    missing = missing_inputs(labeller, files)
    if missing:
        parser.error(f"the {args.backend} backend needs {' '.join(missing)}")
    settings = json.loads(args.settings)
    ids, soft, names = labeller.label(files, settings)
    save_labels(args.out, ids, soft, names)
    files_used = {k: str(v) for k, v in files.items()}
    write_hparams(sidecar(args.out), {"backend": args.backend, "settings": settings, "files": files_used})
    print(f"{len(ids)} videos labelled -> {args.out}")


if __name__ == "__main__":
    main()
