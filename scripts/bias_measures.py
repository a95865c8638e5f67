#!/usr/bin/env python
"""Scene-bias measures of one pretrained model on its source dataset (docs/design.md §7)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import torch

from scenebias.bias.protocol import measure_model
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.device import resolve_device
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--scene-labels", type=Path, required=True)
    parser.add_argument("--boxes", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="ground_truth.csv (synthetic world)")
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--probe-seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    out = measure_model(args.model, args.manifest, args.frames, args.scene_labels, args.boxes, args.truth,
                        args.split, args.probe_seed, args.batch_size, resolve_device(args.device))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    write_hparams(
        args.hparams or sidecar(args.out),
        {"split": args.split, "probe_seed": args.probe_seed, "batch_size": args.batch_size, "device": args.device},
        files={"model": args.model},
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
