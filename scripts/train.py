#!/usr/bin/env python
"""Train one model: a pretraining variant on the source dataset, or a fine-tuning run on a target.

With --eval-out the trained model is then evaluated with the paper's protocol in the same process (the fine-tuning
jobs do this: one PyTorch start-up per run instead of two); scripts/evaluate.py does the same for any model file.
Runs under torchrun for several GPUs (or CPU processes): `torchrun --nproc_per_node N scripts/train.py ...`.
"""

import argparse
import json
import os
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd

from scenebias.cli import setup_logging, write_hparams
from scenebias.data import load_videos
from scenebias.device import resolve_device
from scenebias.evaluate import evaluate_saved_model, write_evaluation
from scenebias.paths import run_file
from scenebias.train import RunData, TrainSettings, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", required=True, help="training settings as JSON (see scenebias.train)")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--frames", type=Path, required=True, help="the dataset's merged frames/index.csv")
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--train-roles", nargs="+", default=["train"])
    parser.add_argument("--val-roles", nargs="*", default=[])
    parser.add_argument("--scene-labels", type=Path, help="labels.npz (needed when scene_weight > 0)")
    parser.add_argument("--boxes", type=Path, help="boxes.npz (needed when mask_weight > 0)")
    parser.add_argument("--init", type=Path, help="model.pt to start from")
    parser.add_argument("--new-classifier", action="store_true", help="replace the classifier (fine-tuning)")
    parser.add_argument("--out-dir", type=Path, required=True, help="receives model.pt, metrics.json, log.csv")
    parser.add_argument("--ckpt-dir", type=Path, required=True, help="resumable checkpoints (outside outputs)")
    parser.add_argument("--eval-out", type=Path, help="then evaluate the trained model on --eval-roles: eval.json")
    parser.add_argument("--eval-roles", nargs="+", default=["test"])
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--predictions", type=Path, help="with --eval-out: the per-video predictions CSV")
    args = parser.parse_args()
    setup_logging()
    settings = TrainSettings.from_dict(json.loads(args.settings))
    if settings.scene_weight > 0 and args.scene_labels is None:
        parser.error("scene_weight > 0 needs --scene-labels")
    if settings.mask_weight > 0 and args.boxes is None:
        parser.error("mask_weight > 0 needs --boxes")
    common = dict(
        scene_npz=args.scene_labels,
        boxes_npz=args.boxes,
        mask_threshold=settings.mask_threshold,
        valid_ratio=settings.valid_ratio,
    )
    train_videos = load_videos(args.manifest, args.frames, args.split, args.train_roles, **common)
    val_videos = load_videos(args.manifest, args.frames, args.split, args.val_roles, **common) if args.val_roles else []
    manifest = pd.read_csv(args.manifest, keep_default_na=False)
    n_scenes = 0
    if args.scene_labels:
        with np.load(args.scene_labels) as data:
            n_scenes = int(data["soft"].shape[1])
    data = RunData(train_videos, val_videos, int(manifest["label"].max()) + 1, n_scenes)
    write_hparams(
        run_file(args.out_dir, "hparams"),
        {"settings": vars(settings), "args": vars(args)},
        files={"init": args.init, "init_checkpoint": settings.init_checkpoint},
    )
    metrics = train(settings, data, args.out_dir, args.ckpt_dir, args.init, args.new_classifier)
    print(json.dumps(metrics.get("final", {})))
    if args.eval_out and int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process evaluates
        device = resolve_device(settings.device)
        model = run_file(args.out_dir, "model")
        report, table = evaluate_saved_model(
            model, args.manifest, args.frames, args.split, args.eval_roles, device, args.eval_batch_size
        )
        write_evaluation(report, table, args.eval_out, args.predictions)
        roles = " ".join(args.eval_roles)
        print(f"evaluated on {roles}: video top-1 {report['video_top1']:.4f} ({report['n_videos']} videos)")


if __name__ == "__main__":
    main()
