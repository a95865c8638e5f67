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

At the paper's scale (docs/benchmarks.md, README "Compute"): validation runs through DataLoader workers, sharded
across DDP ranks, every `val_every` epochs, optionally on a fixed subset of clips; its loss and accuracy are
summed over ranks, so every rank steps a plateau schedule on the same number and learning rates and weights stay
identical. `batch_size` is the job's batch, split across ranks (`global_batch`), so the learning rate does not
change with the number of GPUs. Mixed precision: bf16, or fp16 with a gradient scaler. log.csv grows by one row
per epoch while the job runs; the job log gets one line per epoch with an ETA (and progress lines every minute
when stderr is not a terminal, instead of a progress bar).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import random
import sys
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
from scenebias.models.common import ActionNet, load_hara_checkpoint, load_state_dict_strict, save_checkpoint
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
        torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    seed_everything(settings.seed)
    return ctx, device


def all_sum(values: list[float], ctx: Dist, device: str) -> list[float]:
    if ctx.world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def rank_states(trainable: Trainable, optim: Optimisation, ctx: Dist) -> list[dict]:
    """Every rank's learning rate and a hash of its parameters, gathered on all ranks: DDP must keep them
    identical (the gradients are averaged; the schedules step on all-reduced metrics)."""
    digest = hashlib.sha256()
    for param in trainable.parameters():
        digest.update(param.detach().float().cpu().numpy().tobytes())
    mine = {"rank": ctx.rank, "lr": optim.optimizer.param_groups[0]["lr"], "weights_sha256": digest.hexdigest()[:16]}
    if ctx.world_size == 1:
        return [mine]
    gathered: list = [None] * ctx.world_size
    dist.all_gather_object(gathered, mine)
    if len({(r["lr"], r["weights_sha256"]) for r in gathered}) > 1:
        log.error("DDP ranks disagree at the end of training: %s", gathered)
    return gathered


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
    elif settings.init_checkpoint:
        # The file's label set is not this run's (e.g. Kinetics-400 weights for Mini-Kinetics-200): the
        # classifier starts fresh, everything else must match strictly.
        info = load_hara_checkpoint(net, settings.init_checkpoint, drop_fc=True)
        log.info("initialised from %s (%s)", settings.init_checkpoint, {k: info[k] for k in sorted(info)[:4]})
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
    scaler: torch.amp.GradScaler  # enabled with amp fp16 only; a no-op otherwise

    def for_epoch(self, epoch: int, settings: TrainSettings) -> torch.optim.Optimizer:
        return self.warmup if epoch < settings.warmup_epochs else self.optimizer


def build_optimisation(model: nn.Module, trainable: Trainable, settings: TrainSettings, steps_per_epoch: int,
                       device: str) -> Optimisation:  # fmt: skip
    optimizer = make_optimizer(model.parameters(), settings, settings.lr)
    scheduled_steps = steps_per_epoch * (settings.epochs - settings.warmup_epochs)
    scheduler, when = make_scheduler(optimizer, settings, scheduled_steps)
    warmup = make_optimizer(trainable.new_layers(), settings, settings.warmup_lr) if settings.warmup_epochs else None
    return Optimisation(optimizer, scheduler, when, warmup, make_scaler(settings, device))


def make_scaler(settings: TrainSettings, device: str) -> torch.amp.GradScaler:
    """The fp16 gradient scaler. It runs whenever amp is fp16, on CPU too (where autocast stays off and the
    gradients are fp32: scaling by a power of two is then exact, which is how the CPU tests check its path)."""
    return torch.amp.GradScaler(device.split(":")[0], enabled=settings.amp == "fp16")


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> bool:
    """Backward and step through the scaler: the loss is multiplied by the scale before backward, the gradients
    divided by it before the step, and the step skipped (the scale halved) when a gradient is inf or nan.
    Returns whether the step was taken."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if not scaler.is_enabled():
        opt.step()
        return True
    before = scaler.get_scale()
    scaler.step(opt)
    scaler.update()
    return scaler.get_scale() >= before


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


# ---------------------------------------------------------------------------------------------------------
# One batch: the paper's method


@dataclass
class BatchLosses:
    """The losses of one batch (scalar tensors), the clean clips' action logits and their labels (on the device)."""

    total: torch.Tensor
    ce: torch.Tensor
    scene: torch.Tensor
    mask: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor


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
    return BatchLosses(total, ce, scene, mask, out["logits"], y)


def separate_mask_step(model, mask_iter, settings: TrainSettings, device: str, opt, scaler) -> torch.Tensor:
    """The official code's way: a second optimiser step on a separate batch of human-masked clips."""
    try:
        batch = next(mask_iter)
    except StopIteration:
        return torch.zeros(())
    masked = normalize(batch["masked"].to(device, non_blocking=True), settings.mean, settings.std)
    if settings.channels_last and device.startswith("cuda"):
        masked = masked.contiguous(memory_format=torch.channels_last_3d)
    with autocast_context(settings, device):
        out = model(masked, 0, 0.0, settings.mask_lambda)
        loss = mask_confusion_loss(out.get("mask_head_logits", out["masked_logits"]).float())
    optimizer_step(settings.mask_weight * loss, opt, scaler)
    return loss.detach()


# ---------------------------------------------------------------------------------------------------------
# One epoch


def autocast_context(settings: TrainSettings, device: str):
    """bf16 or fp16 autocast on CUDA (settings.amp), else a no-op context."""
    if settings.amp != "off" and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if settings.amp == "bf16" else torch.float16)
    return contextlib.nullcontext()


PROGRESS_SECONDS = 60.0  # how often a job log without a terminal gets a progress line within an epoch


class Progress:
    """Progress within an epoch: a tqdm bar on a terminal; in a job log (not a terminal: no carriage returns),
    a line every PROGRESS_SECONDS with the step, the clip rate and the epoch's ETA."""

    def __init__(self, loader, desc: str, enabled: bool):
        self.loader, self.desc, self.enabled = loader, desc, enabled
        self.tty = enabled and sys.stderr.isatty()

    def __iter__(self):
        if self.tty:
            yield from tqdm(self.loader, desc=self.desc, mininterval=5, leave=False)
            return
        total, started = len(self.loader), time.time()
        last = started
        for step, batch in enumerate(self.loader):
            yield batch
            now = time.time()
            if self.enabled and now - last >= PROGRESS_SECONDS and step + 1 < total:
                last = now
                per_step = (now - started) / (step + 1)
                log.info("%s: step %d/%d, %.2f s/step, epoch ETA %s", self.desc, step + 1, total, per_step,
                         format_seconds(per_step * (total - step - 1)))  # fmt: skip


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


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
    bar = Progress(loaders.train, f"epoch {epoch + 1}/{settings.epochs}", progress)
    for step, batch in enumerate(bar):
        lam = scene_lambda((epoch * steps_per_epoch + step) / max(1, total_steps))
        with autocast_context(settings, device):
            losses = batch_losses(model, batch, settings, device, lam)
        optimizer_step(losses.total, opt, optim.scaler)
        mask_loss = losses.mask
        if mask_iter is not None and not warm:
            mask_loss = separate_mask_step(model, mask_iter, settings, device, opt, optim.scaler)
        if optim.when == "step" and not warm:
            optim.scheduler.step()
        y = losses.labels
        b = len(y)
        sums["loss"] += losses.total.item() * b
        sums["ce"] += losses.ce.item() * b
        sums["scene"] += float(losses.scene.detach()) * b
        sums["mask"] += float(mask_loss.detach()) * b
        sums["correct"] += (losses.logits.argmax(1) == y).sum().item()
        sums["n"] += b
    return sums


def validates(epoch: int, settings: TrainSettings) -> bool:
    """Whether this epoch ends with a validation: every val_every epochs, and always after the last."""
    return (epoch + 1) % settings.val_every == 0 or epoch + 1 == settings.epochs


@torch.no_grad()
def clip_validation(net: ActionNet, loader: DataLoader | None, settings: TrainSettings, device: str,
                    ctx: Dist) -> tuple[float, float]:  # fmt: skip
    """Mean loss and accuracy over the validation clips (centre crops of non-overlapping windows; all of them or
    the fixed subset `val_clips`). Each rank runs its share; the sums are all-reduced, so every rank returns the
    same numbers (which a plateau schedule then steps on). The paper's video-level evaluation is scenebias.evaluate.
    """
    if loader is None:
        return float("nan"), float("nan")
    net.eval()
    loss_sum = correct = n = 0.0
    for batch in loader:
        x = normalize(batch["clip"].to(device, non_blocking=True), settings.mean, settings.std)
        if settings.channels_last and device.startswith("cuda"):
            x = x.contiguous(memory_format=torch.channels_last_3d)
        y = batch["label"].to(device, non_blocking=True)
        with autocast_context(settings, device):
            logits, _ = net(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    loss_sum, correct, n = all_sum([loss_sum, correct, n], ctx, device)
    if not n:
        return float("nan"), float("nan")
    return loss_sum / n, correct / n


def plateau_metric(val: tuple[float, float], totals: dict, has_val: bool, validated: bool) -> float | None:
    """What a plateau schedule steps on after an epoch (the same on every rank: both are sums over ranks): the
    validation loss on validation epochs, nothing on the others, the training loss when there is no validation
    set. With val_every N, the patience therefore counts validations, not epochs."""
    if has_val:
        return val[0] if validated and not math.isnan(val[0]) else None
    return totals["loss"] / max(totals["n"], 1)


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
    if state.get("scaler"):
        optim.scaler.load_state_dict(state["scaler"])
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
        "scaler": optim.scaler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def write_log(path: Path, rows: list[dict]) -> None:
    """log.csv, replaced whole (atomically) after every epoch, so it can be watched while the job runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["epoch"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class Monitor:
    """Per-epoch reporting of the main process: the job log line (with the run's ETA), log.csv in out_dir, and
    TensorBoard events in out_dir/tensorboard when settings.tensorboard."""

    def __init__(self, settings: TrainSettings, out_dir: Path, start_epoch: int, enabled: bool):
        self.settings, self.out_dir, self.start_epoch, self.enabled = settings, out_dir, start_epoch, enabled
        self.started = time.time()
        self.writer = None
        if enabled and settings.tensorboard:
            self.writer = tensorboard_writer(out_dir / "tensorboard", start_epoch)

    def epoch_done(self, epoch: int, rows: list[dict]) -> None:
        if not self.enabled:
            return
        done = epoch + 1 - self.start_epoch
        elapsed = time.time() - self.started
        eta = elapsed / done * (self.settings.epochs - epoch - 1)
        row = rows[-1]
        write_log(self.out_dir / "log.csv", rows)
        log.info("epoch %d: %s; %d of %d epochs, elapsed %s, ETA %s", epoch + 1,
                 {k: round(v, 4) for k, v in row.items() if k != "epoch"}, epoch + 1, self.settings.epochs,
                 format_seconds(elapsed), format_seconds(eta))  # fmt: skip
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and not math.isnan(value):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def tensorboard_writer(folder: Path, start_epoch: int):
    """A TensorBoard SummaryWriter; the tensorboard package is optional, so say how to get it when it is missing.
    A resumed run drops events written after its checkpoint (purge_step)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RuntimeError(
            "compute.tensorboard is true but the tensorboard package is not installed in this environment: "
            "`pip install tensorboard` (or set compute.tensorboard: false)"
        ) from None
    return SummaryWriter(str(folder), purge_step=start_epoch + 1 if start_epoch else None)


def write_outputs(out_dir: Path, trainable: Trainable, settings: TrainSettings, init: Path | None, rows: list[dict],
                  metrics: dict) -> None:  # fmt: skip
    """model.pt, metrics.json and log.csv: the job's declared outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_log(out_dir / "log.csv", rows)
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
        if ctx.world_size > 1:
            dist.barrier()
    monitor.close()
    ranks = rank_states(trainable, optim, ctx)

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
        ckpt_path.unlink(missing_ok=True)  # the run is complete; its outputs now stand for it
    if ctx.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics
