#!/usr/bin/env python
"""Recomposed test sets of one dataset (original, actor only, background only, action swap, SCUBA; on the synthetic
world also the action swap from the true actor masks) from its test videos and the human-box stage's person masks."""

import argparse
import json
import logging
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.humans.stage import downscale_masks
from scenebias.paths import sidecar, world_file
from scenebias.recompose.build import RecomposeSettings, Source, build_sets, write_outputs


def truth_masks(truth_dir: Path, frames_csv: Path) -> tuple[dict, pd.DataFrame]:
    """The world's true actor masks at the frame packs' size, and its ground truth table."""
    from scenebias.synth.truth import load_actor_masks

    index = pd.read_csv(frames_csv, keep_default_na=False).set_index("video_id")
    masks = load_actor_masks(world_file(truth_dir, "actor_masks"))
    sized = {v: downscale_masks(m, (int(index.loc[v, "w"]), int(index.loc[v, "h"]))) for v, m in masks.items()
             if v in index.index}  # fmt: skip
    return sized, pd.read_csv(world_file(truth_dir, "truth"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True, help="the dataset's manifest.csv")
    parser.add_argument("--frames", type=Path, required=True, help="the dataset's merged frames/index.csv")
    parser.add_argument("--splits", type=int, nargs="+", required=True, help="the splits whose test videos to use")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--masks", type=Path, nargs="+", help="the shards' person masks (humans/masks/*.npz)")
    source.add_argument("--boxes", type=Path, help="humans/boxes.npz, for backends that give no masks")
    parser.add_argument("--score-threshold", type=float, default=0.3, help="boxes at or above are the actor")
    parser.add_argument("--settings", default="{}", help="the recompose config section as JSON")
    parser.add_argument("--jpeg-chroma", type=int, choices=[420, 444], default=420)
    parser.add_argument("--truth-dir", type=Path, help="a synthetic dataset's world folder (true actor masks)")
    parser.add_argument("--sets", type=Path, required=True, help="output folder of the packs (sets/<set>/packs)")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--manifest-out", type=Path, required=True)
    parser.add_argument("--videos", type=Path, required=True)
    parser.add_argument("--record", type=Path, required=True)
    add_hparams_argument(parser, "beside --record")
    args = parser.parse_args()
    setup_logging()
    raw = json.loads(args.settings)
    settings = RecomposeSettings(**{**raw, "coverage": tuple(raw.get("coverage", RecomposeSettings.coverage))})
    if args.sets.parent != args.index.parent:
        parser.error("--sets must lie beside --index (the index names packs as sets/<set>/packs/<pack>)")
    truth, table = truth_masks(args.truth_dir, args.frames) if args.truth_dir else (None, None)
    result = build_sets(args.manifest, args.frames, args.splits, Source(args.masks or [], args.boxes,
                        args.score_threshold), settings, args.index.parent, args.jpeg_chroma, truth, table)  # fmt: skip
    args.sets.mkdir(parents=True, exist_ok=True)  # even when no video qualifies: the declared folder exists
    write_outputs(result, args.index, args.manifest_out, args.videos, args.record)
    params = {"splits": args.splits, "settings": raw, "score_threshold": args.score_threshold,
              "jpeg_chroma": args.jpeg_chroma, "masks": bool(args.masks)}  # fmt: skip
    write_hparams(args.hparams or sidecar(args.record), params)
    record = result["record"]
    logging.info("recomposed %d videos into %s: %s, %.0f frames/s", record["counts"]["chosen"], args.sets,
                 record["sets"], record["frames_per_second"] or 0)  # fmt: skip
    print(json.dumps(record))


if __name__ == "__main__":
    main()
