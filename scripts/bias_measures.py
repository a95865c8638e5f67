#!/usr/bin/env python
"""Scene-bias measures of one pretrained model on its source dataset (docs/design.md §7)."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import pandas as pd
import torch

from scenebias.bias import accuracy, linear_probe, synthetic_measures
from scenebias.cli import setup_logging
from scenebias.data import load_videos
from scenebias.evaluate import predict
from scenebias.train import TrainSettings, load_model

SYNTHETIC_SETS = ("test_conflict", "test_masked", "test_noactor")


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
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net, record = load_model(args.model)
    s = TrainSettings.from_dict(record["settings"])
    spec = s.clip_spec()
    manifest = pd.read_csv(args.manifest, keep_default_na=False)
    roles = set(manifest[f"split{args.split}"])

    def videos(role):
        return load_videos(args.manifest, args.frames, args.split, [role], args.scene_labels, args.boxes,
                           s.mask_threshold, s.valid_ratio)  # fmt: skip

    def run(vids, transform=None, features=False):
        return predict(net, vids, spec, s.mean, s.std, device, transform, args.batch_size, with_features=features)

    train_v, test_v = videos("train"), videos("test")
    train_p, test_p = run(train_v, features=True), run(test_v, features=True)
    out = {
        "model": str(args.model),
        "in_dist_acc": accuracy(test_p["probs"], test_p["labels"]),
        "human_masked_acc": accuracy(run(test_v, "mask")["probs"], test_p["labels"]),
        "static_clip_acc": accuracy(run(test_v, "static")["probs"], test_p["labels"]),
        "valid_for_mask": float(np.mean([v.valid_for_mask for v in test_v])) if test_v else None,
    }
    scene_top1 = lambda vids: np.array([int(np.argmax(v.scene)) for v in vids])  # noqa: E731
    leakage = linear_probe(train_p["features"], scene_top1(train_v), test_p["features"], scene_top1(test_v),
                           args.probe_seed)  # fmt: skip
    out["scene_leakage_acc"], out["scene_leakage_majority"] = leakage["accuracy"], leakage["majority"]
    if args.truth and args.truth.is_file():
        preds, ids = {"test": test_p}, {"test": [v.video_id for v in test_v]}
        for role in SYNTHETIC_SETS:
            if role in roles:
                vids = videos(role)
                preds[role], ids[role] = run(vids), [v.video_id for v in vids]
        out.update(synthetic_measures(preds, pd.read_csv(args.truth), ids))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
