"""Scene pseudo-labels: the Places365 checkpoint loader and labeller on real (random-weight) checkpoint files, and
the offline k-means backend on synthetic scenes."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image
from sklearn.metrics import normalized_mutual_info_score

from scenebias.framepack import read_frames, write_pack
from scenebias.scene import (
    PLACES365_CLASSES,
    fit_kmeans,
    frame_features,
    kmeans_soft_labels,
    label_quality,
    load_places365,
    places365_preprocess,
    places365_soft_labels,
    read_places365_categories,
    save_labels,
    video_features,
)

# ---------------------------------------------------------------------------------------------------------
# Places365


@pytest.fixture(scope="module")
def places_state() -> dict[str, torch.Tensor]:
    """A ResNet-50/365 state dict with random weights (seeded: the videos below get clearly different outputs)."""
    torch.manual_seed(0)
    return torchvision.models.resnet50(num_classes=PLACES365_CLASSES).state_dict()


def save_checkpoint(path: Path, state: dict, legacy: bool = False) -> Path:
    """A file in the official CSAILVision layout: DataParallel's `module.` prefix, epoch/arch/best_prec1."""
    checkpoint = {
        "epoch": 1,
        "arch": "resnet50",
        "state_dict": {"module." + k: v for k, v in state.items()},
        "best_prec1": 0.0,
    }
    torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.fixture(scope="module")
def places_checkpoint(places_state, tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("places") / "resnet50_places365.pth.tar", places_state)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_places365_checkpoint_loads_strictly(places_state, tmp_path, legacy):
    # The official 2017 file predates torch's zip format: the legacy pickle format must load too.
    path = save_checkpoint(tmp_path / "w.pth.tar", places_state, legacy=legacy)
    model = load_places365(path)
    assert not model.training
    loaded = model.state_dict()
    assert loaded.keys() == places_state.keys()
    for key in ("conv1.weight", "layer4.2.bn3.running_var", "fc.weight", "fc.bias"):
        assert torch.equal(loaded[key], places_state[key]), key


def write_jpegs(folder: Path, frames: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        paths.append(folder / f"{i:06d}.jpg")
        Image.fromarray(frame).save(paths[-1], quality=95)
    return paths


def make_shard(root: Path, videos: dict[str, np.ndarray]) -> tuple[pd.DataFrame, Path]:
    """Frame packs of the given videos (T, H, W, 3) and a frame index like the frames stage writes."""
    packs = root / "packs"
    rows = []
    for vid, frames in videos.items():
        write_pack(write_jpegs(root / "jpeg" / vid, frames), packs / f"{vid}.zip")
        rows.append({"video_id": vid, "status": "ok", "n_frames": len(frames), "pack": f"{vid}.zip"})
    return pd.DataFrame(rows), packs


def shard_videos(rng) -> dict[str, np.ndarray]:
    """Three small videos of different content and sizes (short side 32, different aspect ratios)."""
    yy, xx = np.mgrid[:32, :40]
    stripes = np.stack([(xx // 4 % 2) * 200 + 20, np.full_like(xx, 90), (yy // 4 % 2) * 150 + 50], -1)
    return {
        "red": np.tile(np.array([200, 30, 30], np.uint8), (3, 32, 32, 1)),
        "noise": rng.integers(0, 256, (3, 32, 57, 3), dtype=np.uint8),
        "stripes": np.repeat(stripes[None].astype(np.uint8), 3, axis=0),
    }


@pytest.fixture(scope="module")
def places_shard(tmp_path_factory):
    videos = shard_videos(np.random.default_rng(0))
    index, packs = make_shard(tmp_path_factory.mktemp("shard"), videos)
    failed = {"video_id": "broken", "status": "failed", "n_frames": 0, "pack": ""}
    return videos, pd.concat([index, pd.DataFrame([failed])], ignore_index=True), packs


def test_places365_soft_labels_per_video(places_checkpoint, places_shard):
    _, index, packs = places_shard
    model = load_places365(places_checkpoint)
    # Batches of 4 frames mix videos (2 sampled frames each, videos of different sizes).
    ids, soft = places365_soft_labels(model, index, packs, frames_per_video=2, batch_size=4, device="cpu")
    assert ids == ["red", "noise", "stripes"]  # the failed video is left out
    assert soft.shape == (3, PLACES365_CLASSES) and soft.dtype == np.float32
    assert np.allclose(soft.sum(1), 1, atol=1e-5) and (soft >= 0).all()
    # Each row is the mean softmax over that video's own sampled frames (first and last), whatever the batching.
    with torch.inference_mode():
        for vid, row in zip(ids, soft, strict=True):
            frames = read_frames(packs / f"{vid}.zip", [0, 2])  # as decoded from the pack (JPEG)
            expected = model(places365_preprocess(frames)).softmax(1).mean(0).numpy()
            assert np.allclose(row, expected, rtol=1e-3, atol=1e-6), vid
    assert np.abs(soft[0] - soft[1]).max() > 0.1  # the check above can tell the videos apart


def test_places365_soft_labels_of_a_shard_without_videos(places_checkpoint, places_shard):
    _, index, packs = places_shard
    model = load_places365(places_checkpoint)
    ids, soft = places365_soft_labels(model, index[index.status != "ok"], packs, 2, 4, "cpu")
    assert ids == [] and soft.shape == (0, PLACES365_CLASSES)


def drop_key(state):
    return {k: v for k, v in state.items() if k != "fc.bias"}


def add_key(state):
    return {**state, "extra.weight": torch.zeros(1)}


def imagenet_fc(state):
    return {**state, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}


@pytest.mark.parametrize(
    "change, message",
    [
        (drop_key, "missing keys ['fc.bias']"),
        (add_key, "unexpected keys ['extra.weight']"),
        (imagenet_fc, "size mismatch for fc.weight"),
    ],
    ids=["missing-key", "extra-key", "imagenet-fc"],
)
def test_places365_checkpoint_that_does_not_match_is_refused(places_state, tmp_path, change, message):
    path = save_checkpoint(tmp_path / "w.pth.tar", change(places_state))
    with pytest.raises(ValueError) as info:
        load_places365(path)
    assert str(path) in str(info.value)
    assert f"ResNet-50 with {PLACES365_CLASSES} classes" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_truncated_places365_checkpoint_is_refused(places_checkpoint, tmp_path, legacy, places_state):
    path = save_checkpoint(tmp_path / "w.pth.tar", places_state, legacy=legacy)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(ValueError, match="cannot be read as a PyTorch checkpoint.*truncated, corrupt") as info:
        load_places365(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content", [[1, 2, 3], torch.zeros(3), {"state_dict": [1, 2]}], ids=["list", "tensor", "state-dict-list"]
)
def test_places365_checkpoint_that_is_not_a_dict_is_refused(tmp_path, content):
    path = tmp_path / "w.pth.tar"
    torch.save(content, path)
    with pytest.raises(ValueError, match="not a Places365 checkpoint .expected a dict with 'state_dict'"):
        load_places365(path)


def test_places365_text_file_is_refused(tmp_path):
    path = tmp_path / "w.pth.tar"
    path.write_text("<html>404 Not Found</html>\n")  # what a broken download link often gives
    with pytest.raises(ValueError, match="cannot be read as a PyTorch checkpoint"):
        load_places365(path)


def test_read_places365_categories(tmp_path):
    path = tmp_path / "categories_places365.txt"
    path.write_text("/a/airfield 0\n/a/airplane_cabin 1\n\n/b/bakery/shop 2\n")
    assert read_places365_categories(path) == ["/a/airfield", "/a/airplane_cabin", "/b/bakery/shop"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("/a/airfield 0\n/a/airplane_cabin\n", ":2: expected '<category> <index>', got '/a/airplane_cabin'"),
        ("/a/airfield 0\n/a/airplane cabin 1\n", ":2: expected '<category> <index>'"),
        ("/a/airfield zero\n", ":1: expected '<category> <index>'"),
        ("/a/airfield 0\n/a/alley -1\n", ":2: expected '<category> <index>'"),
        ("/a/airfield 0\n/a/alley 0\n", ":2: index 0 already given on line 1"),
        ("/a/airfield 0\n/a/alley 2\n", "category indices must run 0..1"),
    ],
    ids=["no-index", "space-in-name", "word-index", "negative", "duplicate", "gap"],
)
def test_read_places365_categories_rejects_malformed_lines(tmp_path, text, message):
    path = tmp_path / "categories_places365.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        read_places365_categories(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# k-means


def scene_frame(scene: int, rng, brightness: float = 1.0, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """One frame of a synthetic scene: a coloured texture at a random phase, with sensor noise."""
    h, w = size
    yy, xx = np.mgrid[:h, :w] + rng.integers(0, 16, 2)[:, None, None]
    if scene == 0:  # warm horizontal stripes
        a, b, on = (180, 60, 40), (140, 90, 30), yy // 4 % 2
    elif scene == 1:  # blue/teal checkerboard
        a, b, on = (40, 80, 170), (30, 140, 150), (yy // 6 + xx // 6) % 2
    else:  # green vertical bars
        a, b, on = (60, 160, 50), (110, 170, 90), xx // 5 % 2
    frame = np.where(on[..., None] == 1, np.array(a, float), np.array(b, float))
    frame = frame * brightness + rng.normal(0, 4, frame.shape)
    return np.clip(frame.round(), 0, 255).astype(np.uint8)


def scene_features(rng, per_scene: int, scenes=(0, 1, 2), brightness=(0.7, 1.3)) -> tuple[np.ndarray, np.ndarray]:
    feats, truth = [], []
    for scene in scenes:
        for _ in range(per_scene):
            feats.append(frame_features(scene_frame(scene, rng, rng.uniform(*brightness))))
            truth.append(scene)
    return np.stack(feats), np.array(truth)


def is_pure(top1: np.ndarray, truth: np.ndarray) -> bool:
    """Purity 1 with as many clusters as scenes: each scene maps to one cluster and vice versa."""
    pairs = set(zip(top1.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(truth.tolist())) == len(set(top1.tolist()))


def test_kmeans_separates_two_scenes():
    rng = np.random.default_rng(1)
    feats, truth = scene_features(rng, 10, scenes=(0, 1))
    model = fit_kmeans(feats, k=2, seed=0)
    soft = kmeans_soft_labels(feats, model, temperature=1.0)
    assert soft.shape == (20, 2)
    assert np.allclose(soft.sum(1), 1, atol=1e-6)
    assert is_pure(soft.argmax(1), truth)
    # Fresh frames of the same scenes land in their scene's cluster.
    new_feats, new_truth = scene_features(rng, 5, scenes=(0, 1))
    cluster_of = {t: c for c, t in zip(soft.argmax(1), truth, strict=True)}
    assert (kmeans_soft_labels(new_feats, model, 1.0).argmax(1) == [cluster_of[t] for t in new_truth]).all()


def test_kmeans_temperature_sharpens():
    feats, _ = scene_features(np.random.default_rng(2), 8)
    model = fit_kmeans(feats, k=3, seed=0)
    peaks = []
    for temperature in (10.0, 1.0, 0.1):
        soft = kmeans_soft_labels(feats, model, temperature)
        assert np.allclose(soft.sum(1), 1, atol=1e-6) and np.isfinite(soft).all()
        peaks.append(soft.max(1).mean())
    assert peaks[0] < peaks[1] < peaks[2]
    assert peaks[2] > 0.99  # low temperature: nearly hard labels
    assert peaks[0] < 0.5  # high temperature: close to uniform over 3 clusters
    assert (kmeans_soft_labels(feats, model, 0.1).argmax(1) == kmeans_soft_labels(feats, model, 10).argmax(1)).all()


def test_kmeans_needs_k_videos():
    with pytest.raises(ValueError, match="k=3 needs at least 3 videos"):
        fit_kmeans(np.zeros((2, 5), np.float32), k=3, seed=0)


def test_frame_features_ignore_brightness():
    # Fitted at one brightness only, so some features (hue bins no scene uses) do not vary in the fitting set.
    rng = np.random.default_rng(3)
    feats, truth = scene_features(rng, 8, brightness=(1.0, 1.0))
    model = fit_kmeans(feats, k=3, seed=0)
    cluster_of = {t: c for c, t in zip(kmeans_soft_labels(feats, model, 1.0).argmax(1), truth, strict=True)}
    assert len(set(cluster_of.values())) == 3
    for scene in range(3):
        for size in ((32, 32), (128, 171)):
            # The same texture (same phase and noise) darker and brighter.
            dark = frame_features(scene_frame(scene, np.random.default_rng(10 + scene), 0.8, size))
            bright = frame_features(scene_frame(scene, np.random.default_rng(10 + scene), 1.2, size))
            soft = kmeans_soft_labels(np.stack([dark, bright]), model, 1.0)
            assert soft.argmax(1).tolist() == [cluster_of[scene]] * 2, (scene, size)
            # The soft labels agree too (they used to flatten to uniform for one of the two: 0.34 vs 1.0).
            assert np.abs(soft[0] - soft[1]).sum() < 0.1, (scene, size, soft)
            assert soft.max(1).min() > 0.9, (scene, size, soft)


def test_video_features_of_a_shard_without_videos(tmp_path):
    index = pd.DataFrame([{"video_id": "broken", "status": "failed", "n_frames": 0, "pack": ""}])
    ids, feats = video_features(index, tmp_path, None, frames_per_video=4, threshold=0.3)
    assert ids == [] and feats.shape == (0, frame_features(np.zeros((8, 8, 3), np.uint8)).size)


def test_frame_features_shape_and_dtype():
    f = frame_features(scene_frame(0, np.random.default_rng(0)))
    assert f.dtype == np.float32 and f.ndim == 1 and np.isfinite(f).all()
    flat = frame_features(np.zeros((16, 16, 3), np.uint8))  # black frame: no division by zero
    assert flat.shape == f.shape and np.isfinite(flat).all()


def test_label_quality_against_ground_truth(tmp_path):
    ids = ["v0", "v1", "v2", "v3", "v4", "v5"]
    top1 = np.array([1, 1, 1, 0, 0, 1])
    soft = np.full((6, 2), 0.2)
    soft[np.arange(6), top1] = 0.8
    save_labels(tmp_path / "labels.npz", ids, soft)
    truth = pd.DataFrame({"video_id": ids[::-1] + ["extra"], "scene": [1, 1, 1, 0, 0, 0, 5]})  # shuffled, + 1
    truth.to_csv(tmp_path / "ground_truth.csv", index=False)
    report = label_quality(tmp_path / "labels.npz", tmp_path / "ground_truth.csv")
    # By id: truth of v0..v5 is 0, 0, 0, 1, 1, 1. Clusters: 1 -> {0, 0, 0, 1}, 0 -> {1, 1}: purity (3 + 2) / 6.
    assert report["videos"] == 6 and report["classes"] == 2 and report["true_scenes"] == 2
    assert report["purity"] == pytest.approx(5 / 6)
    assert report["nmi"] == pytest.approx(normalized_mutual_info_score([0, 0, 0, 1, 1, 1], top1))
    assert 0 < report["nmi"] < 1
    assert report["mean_max_prob"] == pytest.approx(0.8)


def test_label_quality_perfect_and_without_truth(tmp_path):
    ids = [f"v{i}" for i in range(6)]
    save_labels(tmp_path / "labels.npz", ids, np.eye(3)[[2, 2, 0, 0, 1, 1]])
    pd.DataFrame({"video_id": ids, "scene": [7, 7, 8, 8, 9, 9]}).to_csv(tmp_path / "truth.csv", index=False)
    report = label_quality(tmp_path / "labels.npz", tmp_path / "truth.csv")
    assert report["purity"] == 1.0 and report["nmi"] == pytest.approx(1.0)
    assert "purity" not in label_quality(tmp_path / "labels.npz", None)
    assert "purity" not in label_quality(tmp_path / "labels.npz", tmp_path / "missing.csv")
