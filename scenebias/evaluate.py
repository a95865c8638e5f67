"""The paper's evaluation protocol and the accuracy tables it produces.

Video-level top-1: softmax averaged over every non-overlapping clip covering the video, one centre crop each;
clip-level top-1 alongside (docs/design.md §2). `evaluate_saved_model` is what a fine-tuning job runs on its own model
once it is trained (scripts/train.py --eval-out) and what scripts/evaluate.py runs on any model file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from scenebias.data import EvalClips, Video, load_videos, model_input
from scenebias.models import load_model
from scenebias.progress import track
from scenebias.settings import ClipSpec, TrainSettings


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
    for batch in track(loader, f"evaluate{f' ({transform})' if transform else ''}", unit="batch", final=False):
        x = model_input(batch["clip"], mean, std, False, device)
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


def evaluate_saved_model(
    model_path: Path, manifest_csv: Path, frames_csv: Path, split: int, roles: list[str], device: str = "cpu",
    batch_size: int = 64,
) -> tuple[dict, pd.DataFrame]:  # fmt: skip
    """The paper's protocol on a model file: the accuracy report (eval.json) and one row per video (predictions).

    The clip protocol (frames, crop, normalisation) is the model's own, read from its training settings.
    """
    net, record = load_model(model_path)
    settings = TrainSettings.from_dict(record["settings"])
    videos = load_videos(manifest_csv, frames_csv, split, roles)
    manifest = pd.read_csv(manifest_csv, keep_default_na=False)
    names = manifest.drop_duplicates("label").sort_values("label")["label_name"].tolist()
    pred = predict(net, videos, settings.clip_spec(), settings.mean, settings.std, device, batch_size=batch_size)
    report = accuracy_report(pred, names)
    report.update({"model": str(model_path), "split": split, "roles": list(roles)})
    probs, labels = pred["probs"], pred["labels"]
    table = pd.DataFrame(
        {
            "video_id": [v.video_id for v in videos],
            "label": labels,
            "pred": probs.argmax(1),
            "prob_true": probs[range(len(videos)), labels],
        }
    )
    return report, table


def write_evaluation(report: dict, table: pd.DataFrame, out: Path, predictions: Path | None) -> None:
    """eval.json and, when asked for, the per-video predictions CSV."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    if predictions:
        table.to_csv(predictions, index=False)


def class_names(manifest_csv: Path) -> list[str]:
    """A dataset's class names in label order, from its manifest."""
    manifest = pd.read_csv(manifest_csv, keep_default_na=False)
    return manifest.drop_duplicates("label").sort_values("label")["label_name"].tolist()


def evaluate_on_shared_classes(
    model_path: Path, manifest_csv: Path, frames_csv: Path, source_manifest_csv: Path,
    names: dict[str, str] | None = None, device: str = "cpu", batch_size: int = 64,
) -> dict:  # fmt: skip
    """A source model on another dataset's test videos, as it is (no fine-tuning), on the classes both share.

    The dataset's class names are mapped to the source's through `names` (a dataset kind's class map, e.g. Mimetics
    -> Kinetics; names it lacks stay as they are) and matched to the source's class names. Videos of classes the
    source lacks are left out (counted). Top-1 is over the shared classes (the model's other outputs ignored), and
    also over all the model's classes."""
    net, record = load_model(model_path)
    settings = TrainSettings.from_dict(record["settings"])
    source = class_names(source_manifest_csv)
    if len(source) != net.fc.out_features:
        raise ValueError(f"{source_manifest_csv} names {len(source)} classes, the model has {net.fc.out_features}")
    manifest = pd.read_csv(manifest_csv, keep_default_na=False).set_index("video_id")
    mapped = manifest["label_name"].map(lambda n: (names or {}).get(n, n))
    shared = sorted(set(mapped) & set(source))
    videos = [v for v in load_videos(manifest_csv, frames_csv, 1, ["test"]) if mapped[v.video_id] in set(shared)]
    out = {"model": str(model_path), "shared_classes": shared, "n_videos": len(videos),
           "videos_left_out": int((manifest["split1"] == "test").sum()) - len(videos)}  # fmt: skip
    if not videos:
        return {**out, "shared_top1": None, "all_classes_top1": None, "per_class": {}}
    pred = predict(net, videos, settings.clip_spec(), settings.mean, settings.std, device, batch_size=batch_size)
    index = {name: i for i, name in enumerate(source)}
    truth = np.array([index[mapped[v.video_id]] for v in videos])
    columns = np.array([index[name] for name in shared])
    guess = columns[pred["probs"][:, columns].argmax(1)]
    per_class = {name: float((guess[truth == index[name]] == index[name]).mean()) for name in shared
                 if (truth == index[name]).any()}  # fmt: skip
    return {**out, "shared_top1": float((guess == truth).mean()),
            "all_classes_top1": float((pred["probs"].argmax(1) == truth).mean()), "per_class": per_class}  # fmt: skip
