"""What a run leaves on disk: the resumable checkpoint, log.csv, and the job's outputs."""

from __future__ import annotations

import csv
import json
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch

from scenebias.models import save_model
from scenebias.paths import run_file
from scenebias.settings import TrainSettings
from scenebias.train.optim import Optimisation
from scenebias.train.trainable import Trainable

log = logging.getLogger(__name__)


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
    # epochs are counted from 1 in the job log and log.csv; the checkpoint keeps the 0-based index
    log.info("resumed from %s after epoch %d (as log.csv counts them)", ckpt_path, state["epoch"] + 1)
    return state["epoch"] + 1, state["rows"]


def write_checkpoint(path: Path, trainable: Trainable, optim: Optimisation, epoch: int, rows: list[dict],
                     fingerprint: str) -> None:  # fmt: skip
    """Everything `resume` needs to continue after `epoch` (weights, optimisers, schedule, scaler, log rows,
    RNG states), written atomically."""
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
    tmp = path.with_name(f".{path.name}.tmp")
    for attempt in range(3):  # another job that just finished may remove a shared empty parent meanwhile
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.save(state, tmp)
            break
        except (FileNotFoundError, RuntimeError):
            if attempt == 2 or path.parent.is_dir():
                raise
    os.replace(tmp, path)


def remove_checkpoint(ckpt_path: Path, out_dir: Path) -> None:
    """Remove a finished run's checkpoint and the folders it leaves empty, up to the checkpoints folder itself (the
    checkpoint folder mirrors the run's output folder under it: the part both paths end in)."""
    ckpt_path.unlink(missing_ok=True)
    folder, run = ckpt_path.parent.absolute(), Path(out_dir).absolute()
    mirrored = 0
    while mirrored < min(len(folder.parts), len(run.parts)) and folder.parts[-1 - mirrored] == run.parts[-1 - mirrored]:
        mirrored += 1
    for _ in range(mirrored):
        try:
            folder.rmdir()  # only when empty: other runs' checkpoints stay
        except OSError:
            return
        folder = folder.parent


def write_log(path: Path, rows: list[dict]) -> None:
    """log.csv, replaced whole (atomically) after every epoch, so it can be watched while the job runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["epoch"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def write_outputs(out_dir: Path, trainable: Trainable, settings: TrainSettings, init: Path | None, rows: list[dict],
                  metrics: dict) -> None:  # fmt: skip
    """model.pt, metrics.json and log.csv: the job's declared outputs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_log(run_file(out_dir, "log"), rows)
    heads = {name: head.state_dict() for name, head in trainable.heads().items()}
    save_model(run_file(out_dir, "model"), trainable.net, heads, settings, {"init_from": str(init) if init else None})
    run_file(out_dir, "metrics").write_text(json.dumps(metrics, indent=1) + "\n")
