#!/usr/bin/env python
"""B_scene of a dataset: a linear probe on scene features predicting the action (Choi et al.)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from scenebias.bias.measures import b_scene, linear_probe
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import sidecar


def load_features(paths: list[Path], key: str) -> dict[str, np.ndarray]:
    out = {}
    for path in paths:
        with np.load(path) as data:
            out.update(zip(data["video_ids"].tolist(), data[key], strict=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", nargs="+", type=Path, help="scene feature files (.npz) of the dataset")
    parser.add_argument("--key", default="features", help="array to use: features (k-means) or soft (Places365)")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    feats = load_features(args.features, args.key)
    manifest = pd.read_csv(args.manifest, keep_default_na=False)
    manifest = manifest[manifest["video_id"].isin(feats)]
    role = manifest[f"split{args.split}"]
    train, test = manifest[role == "train"], manifest[role == "test"]
    stack = lambda rows: np.stack([feats[v] for v in rows["video_id"]])  # noqa: E731
    probe = linear_probe(stack(train), train["label"].to_numpy(), stack(test), test["label"].to_numpy(), args.seed)
    n_classes = int(manifest["label"].max()) + 1
    out = {**b_scene(probe["accuracy"], n_classes), "n_classes": n_classes, "probe": probe, "features": args.key}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    write_hparams(
        args.hparams or sidecar(args.out),
        {"key": args.key, "split": args.split, "seed": args.seed, "files": len(args.features)},
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
