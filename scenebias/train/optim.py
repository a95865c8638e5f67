"""Optimisation: the optimiser and its schedule, the warm-up optimiser of the new layers, the fp16 gradient scaler
and one optimiser step through it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scenebias.settings import TrainSettings
from scenebias.train.trainable import Trainable


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
