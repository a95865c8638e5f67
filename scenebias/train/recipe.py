"""The training recipe: one function that reads as the steps of a run (docs/design.md §3)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from scenebias.settings import TrainSettings
from scenebias.train.distributed import all_sum, barrier, leave_process_group, rank_states, setup_process
from scenebias.train.loaders import RunData, build_loaders, val_indices
from scenebias.train.loop import clip_validation, epoch_row, plateau_metric, train_one_epoch, validates
from scenebias.train.optim import build_optimisation
from scenebias.train.progress import Monitor
from scenebias.train.state import remove_checkpoint, resume, write_checkpoint, write_outputs
from scenebias.train.trainable import build_trainable, wrap_distributed


def train(
    settings: TrainSettings,
    data: RunData,
    out_dir: Path,
    ckpt_dir: Path,
    init: Path | None = None,
    new_classifier: bool = False,
    progress: bool = True,
) -> dict:
    """Train, writing out_dir/{model.pt, metrics.json, log.csv}; returns the metrics."""
    ctx, device = setup_process(settings)
    trainable = build_trainable(settings, data, init, new_classifier, device)
    loaders = build_loaders(settings, data, ctx, device)
    model = wrap_distributed(trainable, ctx, device)
    steps_per_epoch = len(loaders.train)
    optim = build_optimisation(model, trainable, settings, steps_per_epoch, device)
    fingerprint = settings.fingerprint({"n_train": len(data.train), "init": str(init), "world": ctx.world_size})
    ckpt_path = ckpt_dir / "last.pt"
    start_epoch, rows = resume(ckpt_path, fingerprint, trainable, optim)
    monitor = Monitor(settings, out_dir, start_epoch, ctx.main)

    started = time.time()
    for epoch in range(start_epoch, settings.epochs):
        loaders.set_epoch(epoch)
        sums = train_one_epoch(model, loaders, optim, settings, device, epoch, progress and ctx.main)
        totals = dict(zip(sums, all_sum(list(sums.values()), ctx, device), strict=True))
        validated = validates(epoch, settings)
        val = clip_validation(trainable.net, loaders.val, settings, device, ctx) if validated else (math.nan,) * 2
        metric = plateau_metric(val, totals, loaders.val is not None, validated)
        if optim.when == "plateau" and epoch >= settings.warmup_epochs and metric is not None:
            optim.scheduler.step(metric)
        row = epoch_row(epoch, totals, val, optim.for_epoch(epoch, settings), settings, steps_per_epoch, started)
        rows.append(row)
        if ctx.main:
            write_checkpoint(ckpt_path, trainable, optim, epoch, rows, fingerprint)
        monitor.epoch_done(epoch, rows)
        barrier(ctx)
    monitor.close()
    ranks = rank_states(trainable, optim.optimizer, ctx)

    metrics = {
        "epochs": settings.epochs,
        "final": rows[-1] if rows else {},
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_valid_for_mask": sum(v.valid_for_mask for v in data.train),
        "world_size": ctx.world_size,
        "ranks": ranks,
        "device": device,
        "steps_per_epoch": steps_per_epoch,
        "batch_per_rank": settings.rank_batch(ctx.world_size),
        "val_clips": len(val_indices(len(loaders.val.dataset), settings.val_clips)) if loaders.val else 0,
        "fingerprint": fingerprint,
    }
    if ctx.main:
        write_outputs(out_dir, trainable, settings, init, rows, metrics)
        remove_checkpoint(ckpt_path, out_dir)  # the run is complete; its outputs now stand for it
    leave_process_group(ctx)
    return metrics
