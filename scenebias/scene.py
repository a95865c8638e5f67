"""Scene pseudo-labels per video: the paper's Places365 ResNet-50, or offline k-means appearance clusters.

Output (per shard, then merged per dataset) is an `.npz` with `video_ids` (N,), `soft` (N, K) float32 rows that
sum to 1, `top1` (N,) int64 and, when known, `class_names` (K,). The paper found soft labels better than hard
ones (HMDB51 56.2 vs 54.5, docs/design.md §2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.backends import BackendRecord, SettingFile, ShardFrames, StageOutput, Weights
from scenebias.framepack import read_frames
from scenebias.humans.boxes import load_boxes, mask_humans
from scenebias.progress import track

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PLACES365_CLASSES = 365
KMEANS_STD_FLOOR = 1e-2  # smallest per-feature scale used to standardise k-means features (see fit_kmeans)


def sample_indices(n_frames: int, n: int) -> list[int]:
    """n evenly spaced frame indices (all frames when the video is shorter)."""
    if n_frames <= n:
        return list(range(n_frames))
    return np.linspace(0, n_frames - 1, n).round().astype(int).tolist()


def save_labels(path: Path, video_ids, soft: np.ndarray, class_names=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"class_names": np.asarray(class_names, dtype=str)} if class_names is not None else {}
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(
        tmp,
        video_ids=np.asarray(video_ids, dtype=str),
        soft=soft.astype(np.float32),
        top1=soft.argmax(1).astype(np.int64) if len(soft) else np.zeros(0, np.int64),
        **extra,
    )
    tmp.replace(path)


def load_labels(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def merge_label_files(paths: list[Path], out: Path) -> None:
    parts = [load_labels(p) for p in paths]
    names = parts[0].get("class_names") if parts else None
    save_labels(
        out,
        np.concatenate([p["video_ids"] for p in parts]),
        np.concatenate([p["soft"] for p in parts]),
        names,
    )


# ---------------------------------------------------------------------------------------------------------
# k-means backend: colour and texture statistics of human-masked frames


def frame_features(frame: np.ndarray) -> np.ndarray:
    """Appearance statistics of one RGB uint8 frame that ignore overall brightness (lighting varies within a
    scene): chromaticity moments, a saturation-weighted hue histogram (colour identity) and an orientation
    histogram of gradients plus relative gradient energy (texture)."""
    x = frame.astype(np.float32) / 255.0
    pixels = x.reshape(-1, 3)
    chroma = pixels / (pixels.sum(1, keepdims=True) + 1e-3)
    chroma_moments = np.concatenate([chroma.mean(0)[:2], chroma.std(0)[:2]])
    r, g, b = pixels.T
    saturation = pixels.max(1) - pixels.min(1)
    hue = np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)  # angle on the colour wheel
    hue_bins = ((hue + np.pi) / (2 * np.pi) * 12).astype(int) % 12
    hue_hist = np.bincount(hue_bins, saturation, minlength=12)
    hue_hist = hue_hist / max(hue_hist.sum(), 1e-6)
    gray = x.mean(-1)
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # orientation, not direction
    orient = np.bincount(np.minimum((angle / np.pi * 8).astype(int), 7).ravel(), magnitude.ravel(), minlength=8)
    orient = orient / max(orient.sum(), 1e-6)
    energy = magnitude.mean() / (gray.mean() + 1e-3)
    return np.concatenate([chroma_moments, hue_hist, orient, [energy]]).astype(np.float32)


def video_features(
    index: pd.DataFrame, packs: Path, boxes_npz: Path | None, frames_per_video: int, threshold: float
) -> tuple[list[str], np.ndarray]:
    """Mean appearance features over sampled, human-masked frames of each extracted video of a shard."""
    boxes = load_boxes(boxes_npz) if boxes_npz is not None else {}
    ids, feats = [], []
    ok = index[index["status"] == "ok"]
    for row in track(list(ok.itertuples()), "scene features", unit="video"):
        idx = sample_indices(int(row.n_frames), frames_per_video)
        frames = read_frames(packs / row.pack, idx)
        if row.video_id in boxes:
            frames = mask_humans(frames, [boxes[row.video_id].frames[i] for i in idx], threshold)
        ids.append(row.video_id)
        feats.append(np.mean([frame_features(f) for f in frames], axis=0))
    if not ids:  # a shard whose videos all failed extraction: no rows, but the right width
        return ids, np.zeros((0, frame_features(np.zeros((2, 2, 3), np.uint8)).size), np.float32)
    return ids, np.asarray(feats, np.float32)


def fit_kmeans(features: np.ndarray, k: int, seed: int) -> dict[str, np.ndarray]:
    """Standardise features and fit k-means (scikit-learn); returns what `kmeans_soft_labels` needs."""
    from sklearn.cluster import KMeans

    if len(features) < k:
        raise ValueError(f"k-means with k={k} needs at least {k} videos to fit on, got {len(features)}")
    # Floor the scale: a feature that barely varies over the fitting videos (e.g. a hue bin no scene uses) would
    # otherwise be divided by ~0, and any trace of it in a new frame would swamp every centroid distance alike,
    # flattening that frame's soft label towards uniform. The features are fractions and ratios of order 0.1-1.
    mean, std = features.mean(0), np.maximum(features.std(0), KMEANS_STD_FLOOR)
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit((features - mean) / std)
    return {"mean": mean, "std": std, "centroids": model.cluster_centers_.astype(np.float32)}


def kmeans_soft_labels(features: np.ndarray, model: dict[str, np.ndarray], temperature: float) -> np.ndarray:
    """Softmax over negative distances to the centroids (in standardised feature space) / temperature."""
    z = (features - model["mean"]) / model["std"]
    dist = np.linalg.norm(z[:, None, :] - model["centroids"][None], axis=-1)
    logits = -dist / temperature
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# Places365 backend (CSAILVision/places365)


def load_places365(weights: Path):
    """torchvision ResNet-50 with 365 outputs, loaded strictly from the official CSAILVision checkpoint.

    `resnet50_places365.pth.tar` is a dict with `state_dict` whose keys carry DataParallel's `module.` prefix
    (plus `epoch`, `arch`, `best_prec1`). Those are plain tensors and numbers, so `weights_only=True` reads it.
    """
    from torchvision.models import resnet50

    from scenebias.models.common import read_weights

    checkpoint = read_weights(weights, "checkpoint")
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{weights}: not a Places365 checkpoint (expected a dict with 'state_dict')")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = resnet50(weights=None, num_classes=PLACES365_CLASSES)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches raise even with strict=False (e.g. an ImageNet 1000-class fc)
        raise ValueError(f"{weights}: does not match a ResNet-50 with {PLACES365_CLASSES} classes: {exc}") from exc
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{weights}: does not match a ResNet-50 with {PLACES365_CLASSES} classes; missing keys "
            f"{result.missing_keys[:5]}, unexpected keys {result.unexpected_keys[:5]}"
        )
    return model.eval()


def read_places365_categories(path: Path) -> list[str]:
    """Class names from `categories_places365.txt` ("/a/airfield 0" per line), in index order."""
    names, seen = {}, {}
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}:{lineno}: expected '<category> <index>', got {line!r}")
        index = int(parts[1])
        if index in seen:
            raise ValueError(f"{path}:{lineno}: index {index} already given on line {seen[index]}")
        names[index], seen[index] = parts[0], lineno
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{path}: category indices must run 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


def places365_preprocess(frames: np.ndarray):
    """The Places365 demo's preprocessing: resize to 256x256, centre crop 224, ImageNet mean/std."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False, antialias=True)
    x = x[:, :, 16:240, 16:240]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def places365_soft_labels(
    model, index: pd.DataFrame, packs: Path, frames_per_video: int, batch_size: int, device: str
) -> tuple[list[str], np.ndarray]:
    """Per video: mean over sampled frames of the per-frame softmax (the paper's soft pseudo label)."""
    import torch

    model = model.to(device)
    ok = index[index["status"] == "ok"]
    ids, soft = [], []
    pending: list[tuple[str, np.ndarray]] = []

    def flush():
        # Preprocess per video before batching: videos of one shard may differ in size (aspect ratio).
        with torch.inference_mode():
            x = torch.cat([places365_preprocess(f) for _, f in pending])
            probs = torch.cat(
                [model(x[i : i + batch_size].to(device)).softmax(1).cpu() for i in range(0, len(x), batch_size)]
            ).numpy()
        start = 0
        for vid, f in pending:
            ids.append(vid)
            soft.append(probs[start : start + len(f)].mean(0))
            start += len(f)
        pending.clear()

    for row in track(list(ok.itertuples()), "places365", unit="video"):
        pending.append(
            (row.video_id, read_frames(packs / row.pack, sample_indices(int(row.n_frames), frames_per_video)))
        )
        if sum(len(f) for _, f in pending) >= batch_size:
            flush()
    if pending:
        flush()
    if not ids:  # a shard whose videos all failed extraction
        return ids, np.zeros((0, PLACES365_CLASSES), np.float32)
    return ids, np.asarray(soft, np.float32)


# ---------------------------------------------------------------------------------------------------------
# The labellers: one per scene backend (config scene.backend), one signature


@dataclass(frozen=True, kw_only=True)
class Labeller(BackendRecord):
    """A scene backend (config scene.backend): `label(files, settings)` -> (video ids, soft labels (N, K), class
    names or None) for one shard. `files` holds the job's named inputs (`files`, scenebias.backends); `settings` is
    the backend's config section (scene.<name>) plus `frames_per_video`.

    b_scene: what B_scene probes for this backend, (layout name, key in its .npz): per-shard appearance features
    or the merged soft labels.
    """

    label: Callable[[dict[str, Path], dict], tuple[list[str], np.ndarray, list[str] | None]]
    b_scene: tuple[str, str] = ("scene_labels", "soft")


def _kmeans_label(files: dict[str, Path], settings: dict):
    with np.load(files["features"]) as data:
        ids, feats = data["video_ids"].tolist(), data["features"]
    with np.load(files["model"]) as data:
        model = {k: data[k] for k in data.files}
    if not ids:  # a shard whose videos all failed extraction
        return ids, np.zeros((0, len(model["centroids"])), np.float32), None
    return ids, kmeans_soft_labels(feats, model, settings["temperature"]), None


def _places365_label(files: dict[str, Path], settings: dict):
    from scenebias.device import resolve_device

    model = load_places365(files["weights"])
    index = pd.read_csv(files["index"], keep_default_na=False)
    ids, soft = places365_soft_labels(model, index, files["packs"], settings["frames_per_video"],
                                      settings["batch_size"], resolve_device(settings["device"]))  # fmt: skip
    names = read_places365_categories(files["categories"]) if files.get("categories") else None
    return ids, soft, names


# The registry (config scene.backend; the schema's enum lists the same names, tests/test_structure.py checks).
LABELLERS: dict[str, Labeller] = {
    # Clusters fitted on one dataset's training videos (scene.kmeans.fit_on) by the fit_scene_model rule.
    "kmeans": Labeller(
        label=_kmeans_label,
        files={
            "features": StageOutput("shard_scene_features", "the shard's appearance features"),
            "model": StageOutput("scene_model", "the fitted k-means model .npz"),
        },
        dataset_keys=("fit_on",),
        b_scene=("shard_scene_features", "features"),
    ),
    "places365": Labeller(
        label=_places365_label,
        files={
            "index": ShardFrames("index", "the shard's frame index.csv"),
            "packs": ShardFrames("packs", "the shard's packs folder"),
            "weights": Weights("places365_resnet50.pth.tar", "resnet50_places365.pth.tar"),
            "categories": SettingFile("categories", "categories_places365.txt (optional: class names)"),
        },
        uses_network=True,
    ),
}


# ---------------------------------------------------------------------------------------------------------
# Quality against the synthetic world's true scenes


def label_quality(labels_npz: Path, truth_csv: Path | None) -> dict:
    from sklearn.metrics import normalized_mutual_info_score

    labels = load_labels(labels_npz)
    report = {"videos": int(len(labels["video_ids"])), "classes": int(labels["soft"].shape[1])}
    if labels["soft"].size:
        report["mean_max_prob"] = float(labels["soft"].max(1).mean())
    if truth_csv is not None and truth_csv.is_file() and len(labels["video_ids"]):
        truth = pd.read_csv(truth_csv).set_index("video_id").loc[labels["video_ids"], "scene"].to_numpy()
        pred = labels["top1"]
        table = pd.crosstab(pred, truth)
        report["purity"] = float(table.max(axis=1).sum() / len(pred))
        report["nmi"] = float(normalized_mutual_info_score(truth, pred))
        report["true_scenes"] = int(len(np.unique(truth)))
    return report
