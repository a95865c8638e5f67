#!/usr/bin/env python
"""Evaluate a model on a dataset split with the paper's protocol: video and clip top-1, per class, confusion."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd
import torch

from scenebias.cli import setup_logging
from scenebias.data import load_videos
from scenebias.device import resolve_device
from scenebias.evaluate import accuracy_report, predict
from scenebias.train import TrainSettings, load_model


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
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    net, record = load_model(args.model)
    settings = TrainSettings.from_dict(record["settings"])
    videos = load_videos(args.manifest, args.frames, args.split, args.roles)
    manifest = pd.read_csv(args.manifest, keep_default_na=False)
    names = manifest.drop_duplicates("label").sort_values("label")["label_name"].tolist()
    pred = predict(net, videos, settings.clip_spec(), settings.mean, settings.std, device, batch_size=args.batch_size)
    report = accuracy_report(pred, names)
    report.update({"model": str(args.model), "split": args.split, "roles": args.roles})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.predictions:
        probs, labels = pred["probs"], pred["labels"]
        table = pd.DataFrame(
            {
                "video_id": [v.video_id for v in videos],
                "label": labels,
                "pred": probs.argmax(1),
                "prob_true": probs[range(len(videos)), labels],
            }
        )
        table.to_csv(args.predictions, index=False)
    print(f"video top-1 {report['video_top1']:.4f}, clip top-1 {report['clip_top1']:.4f} ({report['n_videos']} videos)")


if __name__ == "__main__":
    main()
