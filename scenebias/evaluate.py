"""The paper's evaluation protocol and the accuracy tables it produces.

Video-level top-1: softmax averaged over every non-overlapping clip covering the video, one centre crop each;
clip-level top-1 alongside (docs/design.md §2).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from scenebias.data import EvalClips, Video, normalize
from scenebias.settings import ClipSpec


@torch.no_grad()
def predict(
    net,
    videos: list[Video],
    spec: ClipSpec,
    mean,
    std,
    device: str = "cpu",
    transform: str | None = None,
    batch_size: int = 64,
    workers: int = 0,
    with_features: bool = False,
) -> dict[str, np.ndarray]:
    """Per video: mean softmax over its clips (N, C); per clip: correctness; optionally mean pooled features."""
    dataset = EvalClips(videos, spec, transform)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    net = net.to(device).eval()
    n_classes = net.fc.out_features
    prob_sum = np.zeros((len(videos), n_classes))
    feat_sum = np.zeros((len(videos), net.feature_dim)) if with_features else None
    clips = np.zeros(len(videos))
    clip_correct = []
    for batch in tqdm(loader, desc=f"evaluate{f' ({transform})' if transform else ''}", mininterval=5, leave=False):
        x = normalize(batch["clip"].to(device), mean, std)
        logits, feature = net(x)
        probs = logits.float().softmax(1).cpu().numpy()
        idx = batch["video"].numpy()
        np.add.at(prob_sum, idx, probs)
        np.add.at(clips, idx, 1)
        if with_features:
            np.add.at(feat_sum, idx, feature.float().cpu().numpy())
        clip_correct.extend((probs.argmax(1) == batch["label"].numpy()).tolist())
    out = {
        "probs": prob_sum / np.maximum(clips, 1)[:, None],
        "labels": np.array([v.label for v in videos]),
        "clip_correct": np.array(clip_correct, bool),
        "clips_per_video": clips,
    }
    if with_features:
        out["features"] = feat_sum / np.maximum(clips, 1)[:, None]
    return out


def accuracy_report(pred: dict[str, np.ndarray], class_names: list[str]) -> dict:
    """Video and clip top-1, per-class accuracy and the confusion matrix (rows = true class)."""
    labels, guess = pred["labels"], pred["probs"].argmax(1)
    k = len(class_names)
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (labels, guess), 1)
    per_class = {
        name: (float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None)
        for i, name in enumerate(class_names)
    }
    return {
        "video_top1": float((guess == labels).mean()) if len(labels) else None,
        "clip_top1": float(pred["clip_correct"].mean()) if len(pred["clip_correct"]) else None,
        "n_videos": int(len(labels)),
        "n_clips": int(len(pred["clip_correct"])),
        "per_class": per_class,
        "classes": class_names,
        "confusion": confusion.tolist(),
    }
