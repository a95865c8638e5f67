"""Clips from frame packs: the paper's training augmentation, the evaluation protocol, and human-masked clips.

Clips leave the loader as uint8 (B, T, H, W, C) and are normalised on the training device (`model_input`), which
keeps the loader cheap and the host-to-device copy small (docs/design.md §8).

Randomness: every augmentation draw comes from `numpy.random.default_rng([seed, epoch, index])`, where the
sampler hands the epoch to the dataset with each index. The data a training step sees therefore depends only on
(seed, epoch, step) — not on the number of loader workers, and not on whether the run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler

from scenebias.framepack import read_frames
from scenebias.humans.boxes import is_valid_video, load_boxes, mask_humans
from scenebias.paths import shard_pack
from scenebias.settings import ClipSpec

CORNERS = ("c", "tl", "tr", "bl", "br")


@dataclass
class Video:
    video_id: str
    pack: Path
    n_frames: int
    label: int
    scene: np.ndarray | None = None  # soft scene pseudo label (K,)
    boxes: list[np.ndarray] | None = None  # per-frame human boxes, frame-pack pixels
    valid_for_mask: bool = False


def split_columns(manifest: pd.DataFrame) -> list[str]:
    return sorted(c for c in manifest.columns if c.startswith("split"))


def load_videos(
    manifest_csv: Path,
    frame_index_csv: Path,
    split: int,
    roles: Sequence[str],
    scene_npz: Path | None = None,
    boxes_npz: Path | None = None,
    mask_threshold: float = 0.3,
    valid_ratio: float = 0.7,
) -> list[Video]:
    """The extracted videos whose role in split `split` is one of `roles`, with labels, scene labels and boxes."""
    manifest = pd.read_csv(manifest_csv, keep_default_na=False, dtype={"shard": str})
    column = f"split{split}"
    if column not in manifest.columns:
        raise ValueError(f"{manifest_csv} has no {column} (splits: {', '.join(split_columns(manifest))})")
    index = pd.read_csv(frame_index_csv, keep_default_na=False, dtype={"shard": str})
    index = index[index["status"] == "ok"].set_index("video_id")
    chosen = manifest[manifest[column].isin(roles) & manifest["video_id"].isin(index.index)]
    scenes = _scene_lookup(scene_npz) if scene_npz else {}
    boxes = load_boxes(boxes_npz) if boxes_npz else {}
    videos = []
    for row in chosen.itertuples():
        entry = index.loc[row.video_id]
        video_boxes = boxes[row.video_id].frames if row.video_id in boxes else None
        videos.append(
            Video(
                video_id=row.video_id,
                pack=shard_pack(frame_index_csv, entry["shard"], entry["pack"]),
                n_frames=int(entry["n_frames"]),
                label=int(row.label),
                scene=scenes.get(row.video_id),
                boxes=video_boxes,
                valid_for_mask=bool(video_boxes) and is_valid_video(video_boxes, mask_threshold, valid_ratio),
            )
        )
    return videos


def _scene_lookup(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return dict(zip(data["video_ids"].tolist(), data["soft"].astype(np.float32), strict=True))


# ---------------------------------------------------------------------------------------------------------
# Temporal and spatial sampling


def loop_pad(indices: list[int], length: int) -> list[int]:
    """The official code's LoopPadding: repeat the indices from the start until the clip is full."""
    out = list(indices)
    while len(out) < length:
        out.extend(indices[: length - len(out)])
    return out


def random_window(n_frames: int, length: int, rng: np.random.Generator) -> list[int]:
    """TemporalRandomCrop: `length` consecutive frames from a random start, loop-padded when the video is short."""
    start = int(rng.integers(0, max(1, n_frames - length + 1)))
    return loop_pad(list(range(start, min(start + length, n_frames))), length)


def all_windows(n_frames: int, length: int) -> list[list[int]]:
    """Evaluation: every non-overlapping window covering the video; the last one is loop-padded."""
    return [loop_pad(list(range(s, min(s + length, n_frames))), length) for s in range(0, n_frames, length)]


def corner_crop_box(h: int, w: int, scale: float, corner: str) -> tuple[int, int, int, int]:
    """MultiScaleCornerCrop: a square of side scale * short side at a corner or the centre, as (y0, x0, y1, x1)."""
    side = int(min(h, w) * scale)
    positions = {
        "c": ((h - side) // 2, (w - side) // 2),
        "tl": (0, 0),
        "tr": (0, w - side),
        "bl": (h - side, 0),
        "br": (h - side, w - side),
    }
    y0, x0 = positions[corner]
    return y0, x0, y0 + side, x0 + side


def crop_resize(frames: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Crop (T, H, W, C) uint8 frames and resize the square to size x size (bilinear, antialiased)."""
    y0, x0, y1, x1 = box
    crop = frames[:, y0:y1, x0:x1]
    if crop.shape[1] == size and crop.shape[2] == size:
        return np.ascontiguousarray(crop)
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(0, 3, 1, 2).float()
    shrink = crop.shape[1] > size  # antialiasing matters only when shrinking, and costs when enlarging
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def centre_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Evaluation crop: scale the short side to `size`, then the centre size x size square."""
    h, w = frames.shape[1:3]
    return crop_resize(frames, corner_crop_box(h, w, 1.0, "c"), size)


# ---------------------------------------------------------------------------------------------------------
# Datasets


class FrameSource:
    """Reads frames of a video from its pack; with cache=True keeps every decoded video in memory (small
    datasets such as the synthetic world: 1,200 videos of 8 x 32 x 32 are 30 MB), so later epochs decode nothing.
    Each loader worker holds its own cache."""

    def __init__(self, cache: bool):
        self.cache: dict[Path, np.ndarray] | None = {} if cache else None

    def frames(self, video: Video, indices: list[int]) -> np.ndarray:
        if self.cache is None:
            unique = sorted(set(indices))
            decoded = read_frames(video.pack, unique)
            return decoded[[unique.index(i) for i in indices]]
        if video.pack not in self.cache:
            self.cache[video.pack] = read_frames(video.pack)
        return self.cache[video.pack][indices]


class TrainClips(Dataset):
    """One random clip per video per epoch, with the paper's augmentation.

    Items are dicts: clip (T, H, W, C) uint8, label, scene (K,) float (zeros when unknown), masked (T, H, W, C)
    uint8 (the same clip with human boxes filled; a copy of the clip when the video is not valid for masking) and
    has_mask (bool). Masking happens on the raw frames before crop and flip, as in the official code.
    """

    def __init__(self, videos: list[Video], spec: ClipSpec, seed: int, with_mask: bool, n_scenes: int = 0,
                 mask_threshold: float = 0.3, cache: bool = False):  # fmt: skip
        if not videos:
            raise ValueError("no training videos: check the manifest split and the frame index")
        self.videos, self.spec, self.seed, self.source = videos, spec, seed, FrameSource(cache)
        self.with_mask, self.n_scenes, self.mask_threshold = with_mask, n_scenes, mask_threshold

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        index, epoch = key
        video = self.videos[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        frame_idx = random_window(video.n_frames, self.spec.frames, rng)
        frames = self.source.frames(video, frame_idx)
        h, w = frames.shape[1:3]
        scale = self.spec.scales[int(rng.integers(len(self.spec.scales)))]
        box = corner_crop_box(h, w, scale, CORNERS[int(rng.integers(len(CORNERS)))])
        flip = self.spec.flip and rng.uniform() < 0.5
        item = {"clip": self._finish(frames, box, flip), "label": video.label}
        scene = video.scene if video.scene is not None else np.zeros(self.n_scenes, np.float32)
        item["scene"] = torch.from_numpy(np.asarray(scene, np.float32))
        if self.with_mask:
            has_mask = video.valid_for_mask
            masked = (
                mask_humans(frames, [video.boxes[i] for i in frame_idx], self.mask_threshold) if has_mask else frames
            )
            item["masked"] = self._finish(masked, box, flip)
            item["has_mask"] = has_mask
        return item

    def _finish(self, frames: np.ndarray, box, flip: bool) -> torch.Tensor:
        out = crop_resize(frames, box, self.spec.crop)
        if flip:
            out = out[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(out))


class EvalClips(Dataset):
    """Every non-overlapping clip of every video, one centre crop (the paper's test protocol).

    `transform` optionally changes the frames before cropping: "static" repeats the clip's first frame (motion
    removed), "mask" fills human boxes with the frame mean (actor removed).
    """

    def __init__(self, videos: list[Video], spec: ClipSpec, transform: str | None = None,
                 mask_threshold: float = 0.3, cache: bool = False):  # fmt: skip
        self.videos, self.spec, self.transform, self.mask_threshold = videos, spec, transform, mask_threshold
        self.source = FrameSource(cache)
        self.items = [(v, w) for v, video in enumerate(videos) for w in all_windows(video.n_frames, spec.frames)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        v, window = self.items[i]
        video = self.videos[v]
        frames = self.source.frames(video, window)
        if self.transform == "static":
            frames = np.repeat(frames[:1], len(window), axis=0)
        elif self.transform == "mask" and video.boxes is not None:
            frames = mask_humans(frames, [video.boxes[k] for k in window], self.mask_threshold)
        clip = torch.from_numpy(centre_crop(frames, self.spec.crop))
        return {"clip": clip, "label": video.label, "video": v}


class EpochSampler(Sampler):
    """Shuffled indices for one epoch, paired with the epoch number; shards them across DDP ranks.

    The order depends only on (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.n, self.seed, self.shuffle, self.rank, self.world_size = n, seed, shuffle, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        return np.random.default_rng([self.seed, self.epoch, 7]).permutation(self.n).tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._order()
        per_rank = -(-self.n // self.world_size)
        order = loop_pad(order, per_rank * self.world_size)  # equal shares, as DistributedSampler pads
        for index in order[self.rank :: self.world_size]:
            yield index, self.epoch

    def __len__(self) -> int:
        return -(-self.n // self.world_size)


def seed_worker(worker_id: int) -> None:
    """Loader workers draw nothing from global RNGs (see the module docstring); seed them anyway for safety."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    import random

    random.seed(seed)


def normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (B, T, H, W, C) on the device -> float (B, C, T, H, W): ([0, 255] - mean) / std per channel."""
    x = clip.permute(0, 4, 1, 2, 3).float()
    mean_t = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1, 1)
    std_t = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1, 1)
    return (x - mean_t) / std_t


def model_input(
    clips: torch.Tensor, mean: Sequence[float], std: Sequence[float], channels_last: bool, device: str
) -> torch.Tensor:
    """A loader batch's uint8 clips (B, T, H, W, C) as the model's input on `device`: normalised (`normalize`),
    and in channels_last_3d memory format when asked for on CUDA (where the model is converted too)."""
    x = normalize(clips.to(device, non_blocking=True), mean, std)
    if channels_last and device.startswith("cuda"):
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x
