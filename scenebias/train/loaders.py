"""A run's data and its loaders: training clips, the separate masked-clip batches, this rank's validation clips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch.utils.data import DataLoader

from scenebias.data import EpochSampler, EvalClips, TrainClips, Video, seed_worker
from scenebias.settings import TrainSettings
from scenebias.train.distributed import Dist


@dataclass
class RunData:
    train: list[Video]
    val: list[Video]
    num_classes: int
    n_scenes: int


@dataclass
class Loaders:
    """The training loader, the separate masked-clip loader (official code's mask_batch 'separate') and this
    rank's share of the validation clips; each sampler is told the epoch, which fixes the augmentation
    (scenebias.data)."""

    train: DataLoader
    samplers: list[EpochSampler]
    masked: DataLoader | None
    val: DataLoader | None

    def set_epoch(self, epoch: int) -> None:
        for sampler in self.samplers:
            sampler.set_epoch(epoch)


def _loader(dataset, sampler, settings: TrainSettings, device: str, world_size: int) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=settings.rank_batch(world_size),
        sampler=sampler,
        num_workers=settings.workers,
        pin_memory=settings.pin_memory and device.startswith("cuda"),
        persistent_workers=settings.persistent_workers and settings.workers > 0,
        worker_init_fn=seed_worker,
        drop_last=False,
    )


def _clips_loader(videos: list[Video], seed: int, with_mask: bool, settings: TrainSettings, data: RunData,
                  ctx: Dist, device: str) -> tuple[DataLoader, EpochSampler]:  # fmt: skip
    dataset = TrainClips(videos, settings.clip_spec(), seed, with_mask, data.n_scenes, settings.mask_threshold,
                         settings.cache_frames)  # fmt: skip
    sampler = EpochSampler(len(dataset), seed, True, ctx.rank, ctx.world_size)
    return _loader(dataset, sampler, settings, device, ctx.world_size), sampler


def val_indices(n: int, clips: int) -> list[int]:
    """The validation clips used: all n, or a fixed subset of `clips` of them, the same for every run and epoch
    (drawn with a constant seed, so runs on one dataset validate on the same clips)."""
    if not clips or clips >= n:
        return list(range(n))
    return sorted(np.random.default_rng(20191208).choice(n, size=clips, replace=False).tolist())


def _val_loader(settings: TrainSettings, data: RunData, ctx: Dist, device: str) -> DataLoader | None:
    """This rank's share of the validation clips (every world_size-th, no padding: the sums over ranks count
    each clip once), through workers like the training loader."""
    if not data.val:
        return None
    dataset = EvalClips(data.val, settings.clip_spec(), cache=settings.cache_frames)
    share = val_indices(len(dataset), settings.val_clips)[ctx.rank :: ctx.world_size]
    return _loader(dataset, share, settings, device, ctx.world_size)


def build_loaders(settings: TrainSettings, data: RunData, ctx: Dist, device: str) -> Loaders:
    with_mask = settings.mask_weight > 0
    train_loader, sampler = _clips_loader(data.train, settings.seed, with_mask, settings, data, ctx, device)
    samplers, masked = [sampler], None
    if with_mask and settings.mask_batch == "separate":
        valid = [v for v in data.train if v.valid_for_mask]
        if not valid:
            raise ValueError("mask_batch 'separate' needs videos valid for masking; none passed the rule")
        masked, mask_sampler = _clips_loader(valid, settings.seed + 1, True, settings, data, ctx, device)
        samplers.append(mask_sampler)
    return Loaders(train_loader, samplers, masked, _val_loader(settings, data, ctx, device))
