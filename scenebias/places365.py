"""The Places365 scene classifier (CSAILVision/places365): the paper's scene pseudo-labeller (scene.backend:
places365, scenebias.scene), its checkpoint, category list, preprocessing and per-video soft labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from scenebias.framepack import read_frames

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PLACES365_CLASSES = 365


def sample_indices(n_frames: int, n: int) -> list[int]:
    """n evenly spaced frame indices (all frames when the video is shorter)."""
    if n_frames <= n:
        return list(range(n_frames))
    return np.linspace(0, n_frames - 1, n).round().astype(int).tolist()


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

    for row in tqdm(list(ok.itertuples()), desc="places365", unit="video", mininterval=2):
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
