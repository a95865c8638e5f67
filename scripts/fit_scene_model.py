#!/usr/bin/env python
"""Fit a scene labeller's model (the k-means scene clusters) on the training videos of one dataset."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from scenebias.cli import setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.scene import fit_kmeans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", nargs="+", type=Path, help="per-shard feature files of the fitting dataset")
    parser.add_argument("--manifest", type=Path, required=True, help="its manifest (training videos are used)")
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    ids, feats = [], []
    for path in args.features:
        with np.load(path) as data:
            ids.extend(data["video_ids"].tolist())
            feats.append(data["features"])
    # in video-id order, so the fit does not depend on how the videos are split into shards
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    ids, features = [ids[i] for i in order], np.concatenate(feats)[order]
    manifest = pd.read_csv(args.manifest, keep_default_na=False).set_index("video_id")
    split_cols = [c for c in manifest.columns if c.startswith("split")]
    train = manifest[split_cols].eq("train").any(axis=1)
    use = np.array([bool(train.get(v, False)) for v in ids])
    model = fit_kmeans(features[use], args.k, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **model)
    write_hparams(sidecar(args.out), {"k": args.k, "seed": args.seed, "fit_videos": int(use.sum())})
    print(f"k-means k={args.k} fitted on {int(use.sum())} training videos -> {args.out}")


if __name__ == "__main__":
    main()
