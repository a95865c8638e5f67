#!/usr/bin/env python
"""Recomposed test sets vs frame extraction: frames per second of the `recompose` stage beside the frame stage on
the same videos, in the same run.

Videos are generated (ffmpeg's testsrc2 at 320x240, H.264) and put through the real frame stage
(scenebias.frames.extract_shard, one worker); each gets a person mask, an ellipse covering ~15 % of the frame that
walks across it, saved in the masks format of the human-box stage; then scenebias.recompose.build.build_sets writes
every set (original, actor only, background only, action swap, SCUBA). Reported: input frames per second of each
stage (frames of the test videos per second of wall time) and their ratio, and the recomposition's frames written
per second (five sets: five frames written per input frame). Median of the repeats, alternating.

    python bench/recompose.py                    # 20 videos of 2 s at short side 128
    python bench/recompose.py --short-side 32 -n 40 --seconds 0.32   # the synthetic world's size (8 frames)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from frames import make_videos  # noqa: E402

from scenebias.frames import extract_shard, write_index  # noqa: E402
from scenebias.humans.masks import VideoMasks, save_masks  # noqa: E402
from scenebias.recompose.build import RecomposeSettings, Source, build_sets  # noqa: E402


def walking_masks(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """An upright ellipse (about 15 % of the frame) walking across the frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    ry, rx = 0.45 * h, 0.11 * w
    start, step = rng.uniform(0.2, 0.4) * w, rng.uniform(0.5, 1.5) * w / max(n, 1) / 3
    return np.stack([((yy - h / 2) / ry) ** 2 + ((xx - start - t * step) / rx) ** 2 <= 1 for t in range(n)])


def one_round(videos: list[Path], root: Path, tmp: Path, short_side: int, max_videos: int) -> dict:
    table = pd.DataFrame({"video_id": [f"v{i:05d}" for i in range(len(videos))],
                          "path": [str(v.relative_to(root)) for v in videos]})  # fmt: skip
    packs = tmp / "frames" / "0000" / "packs"
    started = time.perf_counter()
    index = extract_shard(table, root, packs, short_side, 2, "skip", 1)
    extract_seconds = time.perf_counter() - started
    write_index(index.assign(shard="0000"), tmp / "frames" / "index.csv")
    manifest = table.assign(label=np.arange(len(table)) % 4, split1="test", shard="0000")
    manifest["label_name"] = "class" + manifest["label"].astype(str)
    manifest.to_csv(tmp / "manifest.csv", index=False)
    masks = [VideoMasks(r.video_id, walking_masks(int(r.n_frames), int(r.h), int(r.w), i))
             for i, r in enumerate(index.itertuples())]  # fmt: skip
    save_masks(tmp / "masks.npz", masks, 0.3)
    result = build_sets(tmp / "manifest.csv", tmp / "frames" / "index.csv", [1], Source([tmp / "masks.npz"]),
                        RecomposeSettings(max_videos=max_videos), tmp / "recomposed")  # fmt: skip
    record = result["record"]
    frames_in = int(index["n_frames"].sum()) if record["counts"]["chosen"] == len(index) else None
    return {
        "frames": int(index["n_frames"].sum()),
        "extract_fps": int(index["n_frames"].sum()) / extract_seconds,
        "recompose_in_fps": frames_in / record["seconds"] if frames_in else float("nan"),
        "recompose_out_fps": record["frames_written"] / record["seconds"],
        "sets": record["sets"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short-side", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-n", type=int, default=20, help="generated videos")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "videos"
        videos = make_videos(root, args.n, "320x240", args.seconds)
        rounds = []
        for r in range(args.repeats):
            work = Path(tmp) / f"round{r}"
            rounds.append(one_round(videos, root, work, args.short_side, args.n))
    median = {k: statistics.median(x[k] for x in rounds) for k in ("extract_fps", "recompose_in_fps",
                                                                    "recompose_out_fps")}  # fmt: skip
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, python "
          f"{platform.python_version()}")  # fmt: skip
    print(f"{args.n} videos x {args.seconds} s at short side {args.short_side}: {rounds[0]['frames']} frames; "
          f"sets {rounds[0]['sets']}")  # fmt: skip
    print("| short side | frames | frame extraction (frames/s) | recompose (input frames/s) | ratio | "
          "recompose (frames written/s) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(f"| {args.short_side} | {rounds[0]['frames']} | {median['extract_fps']:.0f} | "
          f"{median['recompose_in_fps']:.0f} | {median['recompose_in_fps'] / median['extract_fps']:.2f} | "
          f"{median['recompose_out_fps']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
