#!/usr/bin/env python
"""Clip loading at the paper's size: clips/s per CPU core, which says how many cores one GPU needs.

Generated 320x240 H.264 videos are packed by scenebias's own extractor at short side 128 (171x128 JPEG packs, as
configs/paper.yaml), then read by the training loader (TrainClips: 16 random consecutive frames, the paper's
multi-scale corner crop resized to 112x112, flip) and the validation loader (EvalClips: every non-overlapping
16-frame window, centre 112x112 crop) through a DataLoader with 0..N workers, one torch thread each, no frame
cache (at Mini-Kinetics scale nothing fits in memory). Each worker count is timed over whole epochs after a
warm-up epoch; per core = clips/s / max(1, workers).

    python bench/loader.py                        # 0, 1, 2 workers
    python bench/loader.py --workers 0 4 8 16     # on a machine with more cores
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench.frames import make_videos, run_ours  # noqa: E402
from scenebias.data import EpochSampler, EvalClips, TrainClips, Video  # noqa: E402
from scenebias.framepack import count_frames  # noqa: E402
from scenebias.settings import ClipSpec  # noqa: E402

PAPER_CLIP = ClipSpec(frames=16, crop=112)  # the paper's scales and flip


def paper_packs(folder: Path, n: int, seconds: float, short_side: int = 128) -> list[Video]:
    """n generated videos packed at the paper's short side, as Video records (labels 0..9)."""
    videos = make_videos(folder / "videos", n, "320x240", seconds)
    out = folder / "packs"
    run_ours(videos, folder / "videos", out, short_side, 2, min(4, os.cpu_count() or 1))
    return [Video(p.stem, p, count_frames(p), i % 10) for i, p in enumerate(sorted(out.glob("*.zip")))]


def rate(dataset, sampler, workers: int, batch: int, epochs: int) -> tuple[float, float]:
    """(clips/s, clips per CPU-second of this process), medians over epochs 1.. (epoch 0 starts the workers and
    warms the page cache). With 0 workers the second is the per-core rate unaffected by other load on the machine
    (a busy shared machine slows the wall clock, not the CPU time a clip costs)."""
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                        persistent_workers=workers > 0)  # fmt: skip
    rates, cpu_rates = [], []
    for epoch in range(epochs + 1):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        start, cpu, n = time.perf_counter(), time.process_time(), 0
        for b in loader:
            n += len(b["label"])
        if epoch:
            rates.append(n / (time.perf_counter() - start))
            cpu_rates.append(n / max(time.process_time() - cpu, 1e-9))
    return statistics.median(rates), statistics.median(cpu_rates)


def measure(videos: list[Video], workers: list[int], batch: int, epochs: int) -> list[dict]:
    train = TrainClips(videos, PAPER_CLIP, 0, False, 0)
    val = EvalClips(videos, PAPER_CLIP)
    rows = []
    for w in workers:
        for name, dataset, sampler in (
            ("train (TrainClips)", train, EpochSampler(len(train), 0)),
            ("validation (EvalClips)", val, list(range(len(val)))),
        ):
            r, cpu = rate(dataset, sampler, w, batch, epochs)
            rows.append({"loader": name, "workers": w, "clips": len(dataset), "clips_s": r, "per_core": r / max(1, w),
                         "per_cpu_second": cpu if w == 0 else float("nan")})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("-n", type=int, default=24, help="generated videos")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each video (25 fps)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per worker count (after one warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        videos = paper_packs(Path(tmp), args.n, args.seconds)
        frames = sum(v.n_frames for v in videos)
        print(f"# bench/loader.py on {platform.node()} ({platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores), torch {torch.__version__}: {len(videos)} videos, {frames} frames at short "
              f"side 128, clips 16x112x112")  # fmt: skip
        print("| loader | workers | clips/epoch | clips/s | clips/s per core | clips per CPU-second |")
        print("|---|---|---|---|---|---|")
        for r in measure(videos, args.workers, args.batch, args.epochs):
            print(f"| {r['loader']} | {r['workers']} | {r['clips']} | {r['clips_s']:.1f} | {r['per_core']:.1f} |"
                  f" {r['per_cpu_second']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
