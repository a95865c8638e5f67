"""Training: pretraining variants (baseline, scene adversarial, mask confusion, both) and fine-tuning.

One readable loop in the style of torchvision's references/video_classification. What the paper's method adds:
- a scene adversary behind a gradient reversal layer, trained with (soft) cross-entropy against pseudo scene
  labels; its λ is constant or ramps up as in DANN (docs/design.md §6: full strength from step one collapses training);
- a human-mask confusion loss on the human-masked clip: the paper's form maximises the entropy of the action
  classifier; the official code's form puts the entropy on a separate head behind its own reversal layer. The
  masked clip shares the clean clip's forward pass, or comes as a separate batch with its own optimiser step
  (the official code's way).

Resumable: a checkpoint with everything needed to continue (weights, optimiser, scheduler, log, RNG states) is
written after every epoch into a folder outside the job's declared outputs; a rerun with the same settings
continues from it and ends with the same metrics as an uninterrupted run (augmentation randomness is a function
of seed, epoch and index only — see scenebias.data). Several GPUs (or CPU processes) through torchrun.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from scenebias.data import (
    EpochSampler,
    EvalClips,
    TrainClips,
    Video,
    normalize,
    seed_worker,
)
from scenebias.device import resolve_device
from scenebias.losses import (
    MaskConfusionHead,
    SceneAdversary,
    lambda_schedule,
    mask_confusion_loss,
    scene_adversarial_loss,
)
from scenebias.models import build_model
from scenebias.models.common import ActionNet, load_state_dict_strict, save_checkpoint
from scenebias.settings import TrainSettings

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------
# The trainable module: backbone + optional heads, one forward for DDP


class Trainable(nn.Module):
    """The action network with its debiasing heads, so one (DDP-wrapped) forward yields every logit."""

    def __init__(self, net: ActionNet, n_scenes: int, settings: TrainSettings):
        super().__init__()
        self.net = net
        self.scene_head = None
        self.mask_head = None
        if settings.scene_weight > 0:
            self.scene_head = SceneAdversary(net.feature_dim, n_scenes, settings.scene_hidden, settings.scene_layers)
        if settings.mask_weight > 0 and settings.mask_form == "code":
            num_classes = net.fc.out_features
            self.mask_head = MaskConfusionHead(net.feature_dim, num_classes, settings.mask_hidden, settings.mask_layers)

    def forward(self, x: torch.Tensor, n_clean: int, scene_lambda: float, mask_lambda: float) -> dict:
        """x holds n_clean clean clips followed by masked clips (possibly none)."""
        logits, feature = self.net(x)
        out = {"logits": logits[:n_clean], "masked_logits": logits[n_clean:]}
        if self.scene_head is not None and n_clean:
            out["scene_logits"] = self.scene_head(feature[:n_clean], scene_lambda)
        if self.mask_head is not None and len(x) > n_clean:
            out["mask_head_logits"] = self.mask_head(feature[n_clean:], mask_lambda)
        return out

    def new_layers(self) -> list[nn.Parameter]:
        params = list(self.net.fc.parameters())
        for head in (self.scene_head, self.mask_head):
            if head is not None:
                params += list(head.parameters())
        return params


# ---------------------------------------------------------------------------------------------------------
# Saved models


def save_model(path: Path, trainable: Trainable, settings: TrainSettings, extra: dict) -> None:
    heads = {}
    if trainable.scene_head is not None:
        heads["scene"] = trainable.scene_head.state_dict()
    if trainable.mask_head is not None:
        heads["mask"] = trainable.mask_head.state_dict()
    net = trainable.net
    save_checkpoint(
        path,
        net,
        {
            "heads": heads,
            "model": settings.model,
            "model_kwargs": settings.model_kwargs,
            "num_classes": net.fc.out_features,
            "settings": asdict(settings),
            **extra,
        },
    )


def load_model(path: Path) -> tuple[ActionNet, dict]:
    """A trained model (strictly loaded) and its checkpoint record (settings, heads, classes)."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    net = build_model(record["model"], record["num_classes"], **record["model_kwargs"])
    load_state_dict_strict(net, record["state_dict"])
    return net.eval(), record


def init_from(trainable: Trainable, path: Path, new_classifier: bool) -> None:
    """Initialise from a trained model: backbone (and classifier unless replaced) strictly; heads when present.

    Fine-tuning replaces the classifier (new label set) and drops the heads; pretraining stages (baseline ->
    scene_adv -> sdn, docs/design.md §2) keep the classifier and reuse a head the previous stage trained.
    """
    source, record = load_model(path)
    if source.fc.out_features != trainable.net.fc.out_features and not new_classifier:
        raise ValueError(f"{path}: {source.fc.out_features} classes, this run has {trainable.net.fc.out_features}")
    state = source.state_dict()
    if new_classifier:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        state.update({f"fc.{k}": v for k, v in trainable.net.fc.state_dict().items()})
    load_state_dict_strict(trainable.net, state)
    if not new_classifier:
        for name, head in (("scene", trainable.scene_head), ("mask", trainable.mask_head)):
            if head is not None and name in record["heads"]:
                try:
                    load_state_dict_strict(head, record["heads"][name])
                except ValueError:
                    log.warning("the %s head of %s does not fit this run; it starts fresh", name, path)


# ---------------------------------------------------------------------------------------------------------
# Processes and devices


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def setup_process(settings: TrainSettings) -> tuple[Dist, str]:
    """Threads, process group, seeds and this process's device (decided here, once, from settings.device)."""
    torch.set_num_threads(settings.threads)
    device = resolve_device(settings.device)
    ctx = init_distributed(device)
    if device == "cuda" and ctx.world_size > 1:
        device = f"cuda:{ctx.local_rank}"
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    seed_everything(settings.seed)
    return ctx, device


def all_sum(values: list[float], ctx: Dist, device: str) -> list[float]:
    if ctx.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# Model and optimisation


def build_trainable(
    settings: TrainSettings, data: RunData, init: Path | None, new_classifier: bool, device: str
) -> Trainable:
    net = build_model(settings.model, data.num_classes, **settings.model_kwargs)
    trainable = Trainable(net, data.n_scenes, settings)
    if init is not None:
        init_from(trainable, init, new_classifier)
    trainable.to(device)
    if settings.channels_last and device.startswith("cuda"):
        trainable.to(memory_format=torch.channels_last_3d)
    return trainable


def wrap_distributed(trainable: Trainable, ctx: Dist, device: str) -> nn.Module:
    if ctx.world_size == 1:
        return trainable
    return nn.parallel.DistributedDataParallel(
        trainable,
        device_ids=[device] if device.startswith("cuda") else None,
        find_unused_parameters=trainable.mask_head is not None or trainable.scene_head is not None,
    )


def make_optimizer(params, settings: TrainSettings, lr: float) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=settings.momentum, weight_decay=settings.weight_decay, nesterov=settings.nesterov
        )
    if settings.optimizer == "adam":
        return torch.optim.AdamW(params, lr=lr, weight_decay=settings.weight_decay)
    raise ValueError(f"unknown optimizer {settings.optimizer!r}; expected sgd or adam")


def make_scheduler(optimizer, settings: TrainSettings, total_steps: int):
    """(scheduler, when): when is "step" (after every optimiser step), "plateau" (after every epoch, on the
    validation loss) or None (constant learning rate, no scheduler)."""
    if settings.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=settings.plateau_patience), "plateau"
    if settings.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, total_steps=max(1, total_steps))
        return sched, "step"
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps)), "step"
    if settings.schedule == "constant":
        return None, None
    raise ValueError(f"unknown schedule {settings.schedule!r}")


@dataclass
class Optimisation:
    """The main optimiser and its schedule, and the warm-up optimiser of the new layers (None without warm-up)."""

    optimizer: torch.optim.Optimizer
    scheduler: object | None
    when: str | None
    warmup: torch.optim.Optimizer | None

    def for_epoch(self, epoch: int, settings: TrainSettings) -> torch.optim.Optimizer:
        return self.warmup if epoch < settings.warmup_epochs else self.optimizer


def build_optimisation(model: nn.Module, trainable: Trainable, settings: TrainSettings, steps_per_epoch: int):
    optimizer = make_optimizer(model.parameters(), settings, settings.lr)
    scheduled_steps = steps_per_epoch * (settings.epochs - settings.warmup_epochs)
    scheduler, when = make_scheduler(optimizer, settings, scheduled_steps)
    warmup = make_optimizer(trainable.new_layers(), settings, settings.warmup_lr) if settings.warmup_epochs else None
    return Optimisation(optimizer, scheduler, when, warmup)


# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass
class RunData:
    train: list[Video]
    val: list[Video]
    num_classes: int
    n_scenes: int


@dataclass
class Loaders:
    """The training loader, the separate masked-clip loader (official code's mask_batch 'separate') and the
    validation clips; each sampler is told the epoch, which fixes the augmentation (scenebias.data)."""

    train: DataLoader
    samplers: list[EpochSampler]
    masked: DataLoader | None
    val_set: EvalClips | None

    def set_epoch(self, epoch: int) -> None:
        for sampler in self.samplers:
            sampler.set_epoch(epoch)


def _loader(dataset, sampler, settings: TrainSettings, device: str) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=settings.batch_size,
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
    return _loader(dataset, sampler, settings, device), sampler


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
    val_set = EvalClips(data.val, settings.clip_spec(), cache=settings.cache_frames) if data.val else None
    return Loaders(train_loader, samplers, masked, val_set)


# ---------------------------------------------------------------------------------------------------------
# One batch: the paper's method


@dataclass
class BatchLosses:
    """The losses of one batch (scalar tensors) and the clean clips' action logits."""

    total: torch.Tensor
    ce: torch.Tensor
    scene: torch.Tensor
    mask: torch.Tensor
    logits: torch.Tensor


def batch_losses(
    model: nn.Module, batch: dict, settings: TrainSettings, device: str, scene_lambda: float
) -> BatchLosses:
    """Forward one batch and combine its losses:

        total = CE(action | clean clip)
              + scene_weight · L_scene   (scene adversary behind a reversal layer of strength scene_lambda)
              + mask_weight  · L_mask    (entropy loss on the human-masked clips; mask_batch 'shared' only)

    With mask_batch 'shared', the batch's masked clips (videos valid for masking only) follow the clean clips
    through the same forward pass. The reversal layers flip the gradients that reach the backbone, so minimising
    `total` trains the heads to succeed and the backbone to make them fail.
    """
    clean = batch["clip"].to(device, non_blocking=True)
    y = batch["label"].to(device, non_blocking=True)
    inputs, n_masked = clean, 0
    if settings.mask_weight > 0 and settings.mask_batch == "shared":
        keep = batch["has_mask"].to(device)
        masked = batch["masked"].to(device, non_blocking=True)[keep]
        inputs, n_masked = torch.cat([clean, masked]), int(keep.sum())
    x = normalize(inputs, settings.mean, settings.std)
    if settings.channels_last and device.startswith("cuda"):
        x = x.contiguous(memory_format=torch.channels_last_3d)
    out = model(x, len(clean), scene_lambda, settings.mask_lambda)
    ce = F.cross_entropy(out["logits"].float(), y)
    total = ce
    scene = mask = torch.zeros((), device=device)
    if "scene_logits" in out:
        scene = scene_adversarial_loss(out["scene_logits"].float(), batch["scene"].to(device), settings.scene_soft)
        total = total + settings.scene_weight * scene
    if n_masked:
        mask = mask_confusion_loss(out.get("mask_head_logits", out["masked_logits"]).float())
        total = total + settings.mask_weight * mask
    return BatchLosses(total, ce, scene, mask, out["logits"])


def separate_mask_step(model, mask_iter, settings: TrainSettings, device: str, opt) -> torch.Tensor:
    """The official code's way: a second optimiser step on a separate batch of human-masked clips."""
    try:
        batch = next(mask_iter)
    except StopIteration:
        return torch.zeros(())
    masked = normalize(batch["masked"].to(device), settings.mean, settings.std)
    out = model(masked, 0, 0.0, settings.mask_lambda)
    loss = mask_confusion_loss(out.get("mask_head_logits", out["masked_logits"]).float())
    opt.zero_grad(set_to_none=True)
    (settings.mask_weight * loss).backward()
    opt.step()
    return loss.detach()


# ---------------------------------------------------------------------------------------------------------
# One epoch


def autocast_context(settings: TrainSettings, device: str):
    """bf16 autocast on CUDA when settings.amp, else a no-op context."""
    if settings.amp and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_one_epoch(model, loaders: Loaders, optim: Optimisation, settings: TrainSettings, device: str,
                    epoch: int, progress: bool) -> dict[str, float]:  # fmt: skip
    """One pass over the training loader; returns this process's sums of losses, correct predictions and clips."""
    steps_per_epoch = len(loaders.train)
    total_steps = steps_per_epoch * settings.epochs
    scene_lambda = lambda_schedule(settings.scene_lambda_schedule, settings.scene_lambda)
    warm = epoch < settings.warmup_epochs
    opt = optim.for_epoch(epoch, settings)
    mask_iter = iter(loaders.masked) if loaders.masked is not None else None
    model.train()
    sums = dict.fromkeys(("loss", "ce", "scene", "mask", "correct", "n"), 0.0)
    bar = tqdm(loaders.train, desc=f"epoch {epoch + 1}/{settings.epochs}", disable=not progress, mininterval=5,
               leave=False)  # fmt: skip
    for step, batch in enumerate(bar):
        lam = scene_lambda((epoch * steps_per_epoch + step) / max(1, total_steps))
        with autocast_context(settings, device):
            losses = batch_losses(model, batch, settings, device, lam)
        opt.zero_grad(set_to_none=True)
        losses.total.backward()
        opt.step()
        mask_loss = losses.mask
        if mask_iter is not None and not warm:
            mask_loss = separate_mask_step(model, mask_iter, settings, device, opt)
        if optim.when == "step" and not warm:
            optim.scheduler.step()
        y = batch["label"].to(device)
        b = len(y)
        sums["loss"] += losses.total.item() * b
        sums["ce"] += losses.ce.item() * b
        sums["scene"] += float(losses.scene.detach()) * b
        sums["mask"] += float(mask_loss.detach()) * b
        sums["correct"] += (losses.logits.argmax(1) == y).sum().item()
        sums["n"] += b
    return sums


@torch.no_grad()
def clip_validation(net: ActionNet, val_set, settings: TrainSettings, device: str) -> tuple[float, float]:
    """Mean loss and accuracy of the centre clips of the validation videos (all non-overlapping windows)."""
    if val_set is None or not len(val_set):
        return float("nan"), float("nan")
    loader = DataLoader(val_set, batch_size=settings.batch_size, num_workers=0)
    net.eval()
    loss_sum = correct = n = 0
    for batch in loader:
        x = normalize(batch["clip"].to(device), settings.mean, settings.std)
        y = batch["label"].to(device)
        logits, _ = net(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return loss_sum / n, correct / n


def epoch_row(epoch: int, totals: dict, val: tuple[float, float], opt, settings: TrainSettings, steps_per_epoch: int,
              started: float) -> dict:  # fmt: skip
    """The log.csv row of one epoch."""
    n = max(totals["n"], 1)
    scene_lambda = lambda_schedule(settings.scene_lambda_schedule, settings.scene_lambda)
    return {
        "epoch": epoch + 1,
        "lr": opt.param_groups[0]["lr"],
        "scene_lambda": scene_lambda((epoch + 1) * steps_per_epoch / max(1, steps_per_epoch * settings.epochs)),
        "train_loss": totals["loss"] / n,
        "train_ce": totals["ce"] / n,
        "train_scene_loss": totals["scene"] / n,
        "train_mask_loss": totals["mask"] / n,
        "train_acc": totals["correct"] / n,
        "val_loss": val[0],
        "val_acc": val[1],
        "seconds": time.time() - started,
    }


# ---------------------------------------------------------------------------------------------------------
# Resuming and outputs


def resume(ckpt_path: Path, fingerprint: str, trainable: Trainable, optim: Optimisation) -> tuple[int, list[dict]]:
    """(first epoch to run, log rows so far): continue from the checkpoint when its settings match this run's."""
    if not ckpt_path.is_file():
        return 0, []
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)  # our own file: RNG states, log
    if state["fingerprint"] != fingerprint:
        log.warning("ignoring %s: it was written with other settings", ckpt_path)
        return 0, []
    trainable.load_state_dict(state["trainable"])
    optim.optimizer.load_state_dict(state["optimizer"])
    if optim.warmup is not None:
        optim.warmup.load_state_dict(state["warmup_optimizer"])
    if optim.scheduler is not None:
        optim.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    log.info("resumed from %s after epoch %d", ckpt_path, state["epoch"])
    return state["epoch"] + 1, state["rows"]


def write_checkpoint(path: Path, trainable: Trainable, optim: Optimisation, epoch: int, rows: list[dict],
                     fingerprint: str) -> None:  # fmt: skip
    state = {
        "fingerprint": fingerprint,
        "epoch": epoch,
        "rows": rows,
        "trainable": trainable.state_dict(),
        "optimizer": optim.optimizer.state_dict(),
        "warmup_optimizer": optim.warmup.state_dict() if optim.warmup is not None else None,
        "scheduler": optim.scheduler.state_dict() if optim.scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def write_outputs(out_dir: Path, trainable: Trainable, settings: TrainSettings, init: Path | None, rows: list[dict],
                  metrics: dict) -> None:  # fmt: skip
    """model.pt, metrics.json and log.csv: the job's declared outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "log.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["epoch"])
        writer.writeheader()
        writer.writerows(rows)
    save_model(out_dir / "model.pt", trainable, settings, {"init_from": str(init) if init else None})
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")


# ---------------------------------------------------------------------------------------------------------
# The recipe


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
    optim = build_optimisation(model, trainable, settings, steps_per_epoch)
    fingerprint = settings.fingerprint({"n_train": len(data.train), "init": str(init), "world": ctx.world_size})
    ckpt_path = ckpt_dir / "last.pt"
    start_epoch, rows = resume(ckpt_path, fingerprint, trainable, optim)

    started = time.time()
    for epoch in range(start_epoch, settings.epochs):
        loaders.set_epoch(epoch)
        sums = train_one_epoch(model, loaders, optim, settings, device, epoch, progress and ctx.main)
        totals = dict(zip(sums, all_sum(list(sums.values()), ctx, device), strict=True))
        val = clip_validation(trainable.net, loaders.val_set, settings, device) if ctx.main else (math.nan, math.nan)
        if optim.when == "plateau" and epoch >= settings.warmup_epochs:
            optim.scheduler.step(val[0] if not math.isnan(val[0]) else totals["loss"] / max(totals["n"], 1))
        row = epoch_row(epoch, totals, val, optim.for_epoch(epoch, settings), settings, steps_per_epoch, started)
        rows.append(row)
        if ctx.main:
            log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items()})
            write_checkpoint(ckpt_path, trainable, optim, epoch, rows, fingerprint)
        if ctx.world_size > 1:
            dist.barrier()

    metrics = {
        "epochs": settings.epochs,
        "final": rows[-1] if rows else {},
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_valid_for_mask": sum(v.valid_for_mask for v in data.train),
        "world_size": ctx.world_size,
        "device": device,
        "steps_per_epoch": steps_per_epoch,
        "fingerprint": fingerprint,
    }
    if ctx.main:
        write_outputs(out_dir, trainable, settings, init, rows, metrics)
        ckpt_path.unlink(missing_ok=True)  # the run is complete; its outputs now stand for it
    if ctx.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics
