"""What a run reports while it trains: progress within an epoch, and one line, log.csv row and TensorBoard
events per epoch."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from scenebias.paths import run_file
from scenebias.settings import TrainSettings
from scenebias.train.state import write_log

log = logging.getLogger(__name__)

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


class Monitor:
    """Per-epoch reporting of the main process: the job log line (with the run's ETA), log.csv in out_dir, and
    TensorBoard events in out_dir/tensorboard when settings.tensorboard."""

    def __init__(self, settings: TrainSettings, out_dir: Path, start_epoch: int, enabled: bool):
        self.settings, self.out_dir, self.start_epoch, self.enabled = settings, out_dir, start_epoch, enabled
        self.started = time.time()
        self.writer = None
        if enabled and settings.tensorboard:
            self.writer = tensorboard_writer(run_file(out_dir, "tensorboard"), start_epoch)

    def epoch_done(self, epoch: int, rows: list[dict]) -> None:
        if not self.enabled:
            return
        done = epoch + 1 - self.start_epoch
        elapsed = time.time() - self.started
        eta = elapsed / done * (self.settings.epochs - epoch - 1)
        row = rows[-1]
        write_log(run_file(self.out_dir, "log"), rows)
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
