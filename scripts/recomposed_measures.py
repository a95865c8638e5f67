#!/usr/bin/env python
"""Measure models on a dataset's recomposed test sets: accuracy on each set, the action swap's rate of predicting
B's label, SCUFO and the contrasted accuracy (scenebias.recompose)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import torch

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.device import resolve_device
from scenebias.paths import sidecar
from scenebias.recompose.measure import measure_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="model.pt files")
    parser.add_argument("--runs", type=json.loads, required=True,
                        help="JSON list aligned with --models: {model, split, seed, ...} of each")  # fmt: skip
    parser.add_argument("--manifest", type=Path, required=True, help="the recomposed manifest.csv")
    parser.add_argument("--index", type=Path, required=True, help="the recomposed index.csv")
    parser.add_argument("--videos", type=Path, required=True, help="the recomposed videos.csv (swap partners)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    table = measure_models(args.models, args.runs, args.manifest, args.index, args.videos,
                           resolve_device(args.device), args.batch_size)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    params = {"runs": args.runs, "batch_size": args.batch_size, "device": args.device}
    write_hparams(args.hparams or sidecar(args.out), params, files={f"model_{i}": m for i, m in enumerate(args.models)})
    print(table.to_string())


if __name__ == "__main__":
    main()
