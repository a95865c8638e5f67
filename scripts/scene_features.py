#!/usr/bin/env python
"""Appearance features (k-means scene backend) of one shard's videos, from human-masked sampled frames."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.scene import video_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--packs", type=Path, required=True)
    parser.add_argument("--boxes", type=Path, help="the shard's human boxes (.npz); omit to use unmasked frames")
    parser.add_argument("--frames-per-video", type=int, required=True)
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    index = pd.read_csv(args.index, keep_default_na=False)
    ids, feats = video_features(index, args.packs, args.boxes, args.frames_per_video, args.score_threshold)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, video_ids=np.asarray(ids, dtype=str), features=feats)
    write_hparams(
        args.hparams or sidecar(args.out),
        {
            "frames_per_video": args.frames_per_video,
            "score_threshold": args.score_threshold,
            "masked": args.boxes is not None,
        },
    )
    print(f"{len(ids)} videos, {feats.shape[1] if feats.ndim == 2 else 0} features -> {args.out}")


if __name__ == "__main__":
    main()
