#!/usr/bin/env python
"""Cost of reading the authors' released detections (scenebias.released): the prepare step (restricted unpickling
of the whole file, then the indexed store) and one shard job's lookups, on a generated file in the official format.

The real detection files cover ~85,000 clips of ~250-300 frames (detections.zip, ~5.4 GB); this writes a smaller
file of the same structure (N clips x F frames, 0-3 boxes per frame) and reports seconds and peak memory per
million frames, and the peak memory as a multiple of the file's size, to scale up from.

    python bench/released.py                       # 2,000 clips x 250 frames (0.5 M frames)
    python bench/released.py --videos 4000 --frames 300
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from scenebias.released.detections import import_detections
start = time.perf_counter()
report = import_detections({{"detections": [Path({file!r})]}}, {{}}, Path({out!r}))
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({{"seconds": seconds, "peak_rss_mb": peak, "frames": report["frames"], "boxes": report["boxes"]}}))
"""


def write_release(path: Path, videos: int, frames: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    dets: dict = {}
    for v in range(videos):
        per_frame = {}
        for f in range(1, frames + 1):
            n = int(rng.integers(0, 4))
            xy = rng.uniform(0, 200, (n, 2))
            per_frame[f] = {"human_boxes": np.hstack([xy, xy + 40, rng.uniform(0, 1, (n, 1))]).astype(np.float32)}
        dets.setdefault(f"class{v % 200}", {})[f"{v:011d}"] = per_frame
    np.save(path, dets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--shard", type=int, default=300, help="videos looked up by one shard job")
    args = parser.parse_args()
    repo = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as tmp:
        file, store = Path(tmp) / "detection_train_merged_rearranged.npy", Path(tmp) / "store"
        start = time.perf_counter()
        write_release(file, args.videos, args.frames)
        written = time.perf_counter() - start
        child = subprocess.run([sys.executable, "-c", CHILD.format(repo=repo, file=str(file), out=str(store))],
                               capture_output=True, text=True, check=True)  # fmt: skip
        result = json.loads(child.stdout.strip().splitlines()[-1])
        from scenebias.released.store import Store

        start = time.perf_counter()
        opened = Store(store)
        frame_offsets, box_offsets, boxes = (opened.array(n) for n in ("frame_offsets", "box_offsets", "boxes"))
        picked = 0
        for key in opened.videos[: args.shard]:
            row = opened.rows[key][0]
            for f in range(int(frame_offsets[row]), int(frame_offsets[row + 1])):
                picked += len(np.asarray(boxes[box_offsets[f] : box_offsets[f + 1]]))
        lookup = time.perf_counter() - start
        size_mb = file.stat().st_size / 1e6
        store_mb = sum(p.stat().st_size for p in store.iterdir()) / 1e6
    mframes = result["frames"] / 1e6
    print(f"machine: {platform.node()} ({platform.machine()}), python {platform.python_version()}")
    print(f"file: {args.videos} clips x {args.frames} frames = {result['frames']:,} frames, {result['boxes']:,} boxes, "
          f"{size_mb:.0f} MB (written in {written:.0f} s); store {store_mb:.0f} MB")  # fmt: skip
    print(f"prepare: {result['seconds']:.1f} s ({result['seconds'] / mframes:.0f} s per million frames), peak RSS "
          f"{result['peak_rss_mb']:.0f} MB ({result['peak_rss_mb'] / size_mb:.1f} x the file, "
          f"{result['peak_rss_mb'] / mframes:.0f} MB per million frames; Linux VmHWM)")  # fmt: skip
    print(f"one shard job's lookups ({args.shard} clips, {picked:,} boxes): {lookup:.2f} s")


if __name__ == "__main__":
    main()
