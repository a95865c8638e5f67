"""One batch, one epoch and one validation: the paper's method (`batch_losses`) and the loop around it."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from scenebias.data import model_input
from scenebias.losses import lambda_schedule, mask_confusion_loss, scene_adversarial_loss
from scenebias.models import ActionNet
from scenebias.settings import TrainSettings
from scenebias.train.distributed import Dist, all_sum
from scenebias.train.loaders import Loaders
from scenebias.train.optim import Optimisation, optimizer_step
from scenebias.train.progress import Progress

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
    x = model_input(inputs, settings.mean, settings.std, settings.channels_last, device)
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
    masked = model_input(batch["masked"], settings.mean, settings.std, settings.channels_last, device)
    with autocast_context(settings, device):
        out = model(masked, 0, 0.0, settings.mask_lambda)
        loss = mask_confusion_loss(out.get("mask_head_logits", out["masked_logits"]).float())
    optimizer_step(settings.mask_weight * loss, opt, scaler)
    return loss.detach()


def autocast_context(settings: TrainSettings, device: str):
    """bf16 or fp16 autocast on CUDA (settings.amp), else a no-op context."""
    if settings.amp != "off" and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16 if settings.amp == "bf16" else torch.float16)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------------------
# One epoch


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
        x = model_input(batch["clip"], settings.mean, settings.std, settings.channels_last, device)
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
