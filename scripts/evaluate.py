#!/usr/bin/env python
"""Evaluate a model on a dataset split with the paper's protocol: video and clip top-1, per class, confusion.

The workflow's fine-tuning jobs evaluate their own model (scripts/train.py --eval-out); this script evaluates any
model file, e.g. on another split or role.
"""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import torch

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.device import resolve_device
from scenebias.evaluate import evaluate_saved_model, write_evaluation
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--roles", nargs="+", default=["test"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, required=True, help="eval.json")
    parser.add_argument("--predictions", type=Path, help="per-video predictions CSV")
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    report, table = evaluate_saved_model(args.model, args.manifest, args.frames, args.split, args.roles,
                                         resolve_device(args.device), args.batch_size)  # fmt: skip
    write_evaluation(report, table, args.out, args.predictions)
    params = {"split": args.split, "roles": args.roles, "batch_size": args.batch_size, "device": args.device}
    write_hparams(args.hparams or sidecar(args.out), params, files={"model": args.model})
    print(f"video top-1 {report['video_top1']:.4f}, clip top-1 {report['clip_top1']:.4f} ({report['n_videos']} videos)")


if __name__ == "__main__":
    main()
