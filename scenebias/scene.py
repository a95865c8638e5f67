"""Scene pseudo-labels per video: the paper's Places365 ResNet-50, or offline k-means appearance clusters.

Output (per shard, then merged per dataset) is an `.npz` with `video_ids` (N,), `soft` (N, K) float32 rows that
sum to 1, `top1` (N,) int64 (the soft label's argmax; the authors' majority vote for released labels) and, when
known, `class_names` (K,), plus the per-video record of where each label came from (scenebias.coverage). The
paper found soft labels better than hard ones (HMDB51 56.2 vs 54.5, docs/design.md §2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.backends import (
    BackendRecord,
    Preparation,
    Prepared,
    SettingFile,
    SettingFiles,
    ShardFrames,
    StageOutput,
    Weights,
)
from scenebias.coverage import Coverage, ShardLabels, load_coverage
from scenebias.coverage import summary as coverage_summary
from scenebias.framepack import read_frames
from scenebias.humans.boxes import load_boxes, mask_humans
from scenebias.places365 import (  # noqa: F401  (re-exported: the labeller's pieces)
    IMAGENET_MEAN,
    IMAGENET_STD,
    PLACES365_CLASSES,
    load_places365,
    places365_preprocess,
    places365_soft_labels,
    read_places365_categories,
    sample_indices,
)
from scenebias.progress import track
from scenebias.released import places as released_places

log = logging.getLogger(__name__)

KMEANS_STD_FLOOR = 1e-2  # smallest per-feature scale used to standardise k-means features (see fit_kmeans)


def save_labels(
    path: Path, video_ids, soft: np.ndarray, class_names=None, top1=None, coverage: Coverage | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"class_names": np.asarray(class_names, dtype=str)} if class_names is not None else {}
    if top1 is None:
        top1 = soft.argmax(1) if len(soft) else np.zeros(0, np.int64)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(
        tmp,
        video_ids=np.asarray(video_ids, dtype=str),
        soft=soft.astype(np.float32),
        top1=np.asarray(top1, np.int64),
        **extra,
        **(coverage.arrays() if coverage is not None else {}),
    )
    tmp.replace(path)


def load_labels(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def merge_label_files(paths: list[Path], out: Path) -> None:
    parts = [load_labels(p) for p in paths]
    names = parts[0].get("class_names") if parts else None
    coverage = Coverage()
    for path in paths:
        coverage.extend(load_coverage(path)[1])
    save_labels(
        out,
        np.concatenate([p["video_ids"] for p in parts]),
        np.concatenate([p["soft"] for p in parts]),
        names,
        np.concatenate([p["top1"] for p in parts]),
        coverage,
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
# The labellers: one per scene backend (config scene.backend), one signature


@dataclass(frozen=True, kw_only=True)
class Labeller(BackendRecord):
    """A scene backend (config scene.backend): `label(files, settings, videos)` -> (video ids, soft labels (N, K),
    class names or None), or a ShardLabels (scenebias.coverage) when it covers only some videos, for one shard's
    extracted videos (those in the set `videos` only, when given: the ones another backend left to it). `files`
    holds the job's named inputs (`files`, scenebias.backends); `settings` is the backend's config section
    (scene.<name>) plus `frames_per_video`.

    b_scene: what B_scene probes for this backend, (layout name, key in its .npz): per-shard appearance features
    or the merged soft labels.
    """

    label: Callable[[dict[str, Path], dict], tuple[list[str], np.ndarray, list[str] | None]]
    b_scene: tuple[str, str] = ("scene_labels", "soft")


def _kmeans_label(files: dict[str, Path], settings: dict, videos: set[str] | None = None):
    with np.load(files["features"]) as data:
        ids, feats = data["video_ids"].tolist(), data["features"]
    if videos is not None:
        keep = [i for i, v in enumerate(ids) if v in videos]
        ids, feats = [ids[i] for i in keep], feats[keep]
    with np.load(files["model"]) as data:
        model = {k: data[k] for k in data.files}
    if not ids:  # a shard whose videos all failed extraction
        return ids, np.zeros((0, len(model["centroids"])), np.float32), None
    return ids, kmeans_soft_labels(feats, model, settings["temperature"]), None


def _places365_label(files: dict[str, Path], settings: dict, videos: set[str] | None = None):
    from scenebias.device import resolve_device

    model = load_places365(files["weights"])
    index = pd.read_csv(files["index"], keep_default_na=False)
    if videos is not None:
        index = index[index["video_id"].isin(videos)]
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
        output_space="places365",
    ),
    # The authors' released Mini-Kinetics Places365 labels (scenebias.released), read once by the prepare step.
    "released": Labeller(
        label=released_places.label_shard,
        files={
            "index": ShardFrames("index", "the shard's frame index.csv"),
            "manifest": StageOutput("manifest", "the dataset's manifest (classes)"),
            "release": Prepared("the released scene labels, prepared"),
            "categories": SettingFile("categories", "categories_places365.txt (optional: class names)"),
        },
        prepare=Preparation(
            files={"labels": SettingFiles("labels", ("*train*.npy", "*val*.npy"), "released Places365 .npy files")},
            run=released_places.import_labels,
        ),
        delegate_key="missing",
        dataset_kinds=("kinetics",),
        output_space="places365",
    ),
}


def label_shard(
    name: str, files: dict, settings: dict, delegate: tuple[str, dict] | None = None
) -> tuple[ShardLabels, Coverage]:
    """One shard's labels from the backend `name`; the videos it does not cover from `delegate` (name, settings)
    when given, else left out. Returns the labels (delegated ones appended) and the per-video record."""
    labels = LABELLERS[name].label(files, settings)
    labels = labels if isinstance(labels, ShardLabels) else ShardLabels(*labels)
    notes = labels.notes or [{} for _ in labels.ids]
    coverage = Coverage([name] * len(labels.ids), notes, [])
    top1 = labels.top1 if labels.top1 is not None else (labels.soft.argmax(1) if len(labels.ids) else None)
    if not labels.uncovered:
        return labels, coverage
    if delegate is None:
        coverage.left_out = list(labels.uncovered)
        log.warning("%d video(s) left out (no scene label), e.g. %s: %s", len(labels.uncovered), *labels.uncovered[0])
        return labels, coverage
    reasons = dict(labels.uncovered)
    extra = LABELLERS[delegate[0]].label(files, delegate[1], set(reasons))
    extra = extra if isinstance(extra, ShardLabels) else ShardLabels(*extra)
    if extra.soft.shape[1:] != labels.soft.shape[1:] and len(labels.ids) and len(extra.ids):
        raise ValueError(
            f"{name} gives {labels.soft.shape[1]} classes, its delegate {delegate[0]} {extra.soft.shape[1]}"
        )
    coverage.extend(Coverage([delegate[0]] * len(extra.ids), [{"delegated": reasons[v]} for v in extra.ids], []))
    soft = np.concatenate([labels.soft, extra.soft]) if len(labels.ids) else extra.soft
    extra_top1 = extra.top1 if extra.top1 is not None else extra.soft.argmax(1)
    merged = ShardLabels(
        labels.ids + list(extra.ids),
        soft,
        labels.names or extra.names,
        np.concatenate([top1, extra_top1]) if top1 is not None else extra_top1,
        coverage.notes,
    )
    return merged, coverage


# ---------------------------------------------------------------------------------------------------------
# Quality against the synthetic world's true scenes


def label_quality(labels_npz: Path, truth_csv: Path | None) -> dict:
    from sklearn.metrics import normalized_mutual_info_score

    labels = load_labels(labels_npz)
    report = {"videos": int(len(labels["video_ids"])), "classes": int(labels["soft"].shape[1])}
    report["coverage"] = coverage_summary(labels["video_ids"].tolist(), load_coverage(labels_npz)[1])
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
