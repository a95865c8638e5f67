#!/usr/bin/env python
"""Scene pseudo-labels (soft, per video) for one shard, with the configured backend (scenebias.scene.LABELLERS)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import setup_logging, write_hparams
from scenebias.scene import LABELLERS, save_labels

FILES = {
    "features": "the shard's k-means feature file (kmeans)",
    "model": "the fitted k-means model .npz (kmeans)",
    "index": "the shard's frame index.csv (places365)",
    "packs": "the shard's packs folder (places365)",
    "weights": "resnet50_places365.pth.tar (places365)",
    "categories": "categories_places365.txt (places365, optional)",
}


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
    missing = [f"--{name}" for name in labeller.inputs if name not in files and name != "categories"]
    if missing:
        parser.error(f"the {args.backend} backend needs {' '.join(missing)}")
    settings = json.loads(args.settings)
    ids, soft, names = labeller.label(files, settings)
    save_labels(args.out, ids, soft, names)
    write_hparams(args.out.with_suffix(".hparams.json"), {"backend": args.backend, "settings": settings,
                                                          "files": {k: str(v) for k, v in files.items()}})  # fmt: skip
    print(f"{len(ids)} videos labelled -> {args.out}")


if __name__ == "__main__":
    main()
