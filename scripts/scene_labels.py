#!/usr/bin/env python
"""Scene pseudo-labels (soft, per video) for one shard: k-means clusters or the Places365 ResNet-50."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from scenebias.cli import setup_logging, write_hparams
from scenebias.device import resolve_device
from scenebias.scene import (
    kmeans_soft_labels,
    load_places365,
    places365_soft_labels,
    read_places365_categories,
    save_labels,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["kmeans", "places365"], required=True)
    parser.add_argument("--out", type=Path, required=True)
    group = parser.add_argument_group("kmeans")
    group.add_argument("--features", type=Path, help="the shard's feature file")
    group.add_argument("--model", type=Path, help="fitted k-means (.npz)")
    group.add_argument("--temperature", type=float, default=1.0)
    group = parser.add_argument_group("places365")
    group.add_argument("--index", type=Path, help="the shard's frame index.csv")
    group.add_argument("--packs", type=Path, help="the shard's packs folder")
    group.add_argument("--weights", type=Path, help="resnet50_places365.pth.tar")
    group.add_argument("--categories", type=Path, help="categories_places365.txt (optional)")
    group.add_argument("--frames-per-video", type=int, default=4)
    group.add_argument("--batch-size", type=int, default=64)
    group.add_argument("--device", default="auto")
    args = parser.parse_args()
    setup_logging()
    if args.backend == "kmeans":
        with np.load(args.features) as data:
            ids, feats = data["video_ids"], data["features"]
        with np.load(args.model) as data:
            model = {k: data[k] for k in data.files}
        soft = (
            kmeans_soft_labels(feats, model, args.temperature) if len(ids) else np.zeros((0, len(model["centroids"])))
        )
        save_labels(args.out, ids, soft)
        params = {"backend": "kmeans", "temperature": args.temperature}
    else:
        model = load_places365(args.weights)
        index = pd.read_csv(args.index, keep_default_na=False)
        device = resolve_device(args.device)
        ids, soft = places365_soft_labels(model, index, args.packs, args.frames_per_video, args.batch_size, device)
        names = read_places365_categories(args.categories) if args.categories else None
        save_labels(args.out, ids, soft, names)
        params = {"backend": "places365", "frames_per_video": args.frames_per_video, "weights": str(args.weights)}
    write_hparams(args.out.with_suffix(".hparams.json"), params)
    print(f"{len(ids)} videos labelled -> {args.out}")


if __name__ == "__main__":
    main()
