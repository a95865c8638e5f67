"""What a run reports while it trains: progress within an epoch, and one line, log.csv row and TensorBoard
events per epoch."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from scenebias.paths import run_file
from scenebias.progress import format_seconds, track
from scenebias.settings import TrainSettings
from scenebias.train.state import write_log

log = logging.getLogger(__name__)


class Progress:
    """Progress within an epoch (`scenebias.progress.track`): a tqdm bar on a terminal; in a job log a line every
    PROGRESS_SECONDS with the step, the time per step and the epoch's ETA, no carriage returns."""

    def __init__(self, loader, desc: str, enabled: bool):
        self.loader, self.desc, self.enabled = loader, desc, enabled

    def __iter__(self):
        if not self.enabled:
            yield from self.loader
            return
        yield from track(self.loader, self.desc, unit="step", total=len(self.loader), final=False)


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
