"""The measurement protocol of one pretrained model (docs/design.md §7): which clips, which transforms, which
probe; the measures are computed in scenebias.bias.measures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.bias import SYNTHETIC_SETS
from scenebias.bias.measures import accuracy, linear_probe, synthetic_measures
from scenebias.data import load_videos
from scenebias.evaluate import predict
from scenebias.models import load_model
from scenebias.settings import TrainSettings


def measure_model(
    model_path: Path,
    manifest_csv: Path,
    frames_csv: Path,
    scene_npz: Path,
    boxes_npz: Path,
    truth_csv: Path | None = None,
    split: int = 1,
    probe_seed: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
) -> dict:
    """Every measure of one pretrained model on its source dataset (the protocol of docs/design.md §7).

    The model's own training settings fix the clip protocol and the masking rule. Accuracies are video-level
    on the split's `test` role; the probe trains on the `train` role's pooled features and tests on `test`'s;
    with the synthetic world's ground truth, the bias-conflicting, worst-group and home-action measures are added.
    """
    net, record = load_model(model_path)
    s = TrainSettings.from_dict(record["settings"])
    spec = s.clip_spec()
    roles = set(pd.read_csv(manifest_csv, keep_default_na=False)[f"split{split}"])

    def videos(role):
        return load_videos(manifest_csv, frames_csv, split, [role], scene_npz, boxes_npz, s.mask_threshold,
                           s.valid_ratio)  # fmt: skip

    def run(vids, transform=None, features=False):
        return predict(net, vids, spec, s.mean, s.std, device, transform, batch_size, with_features=features)

    train_v, test_v = videos("train"), videos("test")
    train_p, test_p = run(train_v, features=True), run(test_v, features=True)
    out = {
        "model": str(model_path),
        "in_dist_acc": accuracy(test_p["probs"], test_p["labels"]),
        "human_masked_acc": accuracy(run(test_v, "mask")["probs"], test_p["labels"]),
        "static_clip_acc": accuracy(run(test_v, "static")["probs"], test_p["labels"]),
        "valid_for_mask": float(np.mean([v.valid_for_mask for v in test_v])) if test_v else None,
    }
    leakage = linear_probe(train_p["features"], _scene_top1(train_v), test_p["features"], _scene_top1(test_v),
                           probe_seed)  # fmt: skip
    out["scene_leakage_acc"], out["scene_leakage_majority"] = leakage["accuracy"], leakage["majority"]
    if truth_csv is not None and Path(truth_csv).is_file():
        preds, ids = {"test": test_p}, {"test": [v.video_id for v in test_v]}
        for role in SYNTHETIC_SETS:
            if role in roles:
                vids = videos(role)
                preds[role], ids[role] = run(vids), [v.video_id for v in vids]
        out.update(synthetic_measures(preds, pd.read_csv(truth_csv), ids))
    return out


def _scene_top1(videos) -> np.ndarray:
    return np.array([int(np.argmax(v.scene)) for v in videos])
