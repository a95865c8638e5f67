"""Progress of a long loop, for a person watching it: a tqdm bar on a terminal; in a job log (not a terminal) a
plain line every PROGRESS_SECONDS with the count, the rate and the ETA, and one line when the loop ends — never the
carriage returns a progress bar writes, which make a log file unreadable (`less`, `grep`, an editor)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 60.0  # how often a job log without a terminal gets a progress line
T = TypeVar("T")


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def on_terminal() -> bool:
    return sys.stderr.isatty()


def track(
    items: Iterable[T],
    desc: str,
    unit: str = "item",
    total: int | None = None,
    every: float = PROGRESS_SECONDS,
    final: bool = True,
) -> Iterator[T]:
    """Yield the items, reporting progress as the module docstring says (`final`: a closing line in a log)."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None
    if on_terminal():
        yield from tqdm(items, desc=desc, unit=unit, total=total, mininterval=2, leave=False)
        return
    started = last = time.time()
    done = 0
    for done, item in enumerate(items, 1):
        yield item
        now = time.time()
        if now - last >= every and (total is None or done < total):
            last = now
            per_item = (now - started) / done
            eta = f", ETA {format_seconds(per_item * (total - done))}" if total else ""
            log.info("%s: %s %d%s, %.2f s/%s%s", desc, unit, done, f"/{total}" if total else "", per_item, unit, eta)
    if final:
        log.info("%s: %d %s(s) in %s", desc, done, unit, format_seconds(time.time() - started))
