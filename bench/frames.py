#!/usr/bin/env python
"""Frame extraction throughput: scenebias's extractor vs bare ffmpeg writing the same JPEGs from the same files.

Both sides run the identical ffmpeg command line (scenebias.frames.extraction_command), one video at a time
with the same number of parallel workers; ours adds stream parsing, packing into a ZIP and the index. The ratio
(ours / bare, frames per second) is what matters: target >= 0.8. Runs alternate and the median is reported, since
these machines are shared and noisy.

A third arm is the approach of the course project this work grew from: an OpenCV `VideoCapture` loop that decodes
every frame in Python, resizes it to the same short side (cv2.INTER_AREA) and writes one JPEG per frame with
`cv2.imwrite` (quality 95, about ffmpeg's -q:v 2). Its frames/s is printed beside the others (`--no-opencv` drops it).

    python bench/frames.py                       # generated 320x240 H.264 clips + small synthetic clips
    python bench/frames.py --videos DIR          # also any folder of your own videos
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from scenebias.frames import extract_shard, extraction_command  # noqa: E402
from scenebias.manifest import find_videos  # noqa: E402
from scenebias.media import ffmpeg_exe  # noqa: E402


def make_videos(folder: Path, n: int, size: str, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"clip_{size}_{i:03d}.mp4"
        src = f"testsrc2=size={size}:rate=25,hue=h={i * 37 % 360}"
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", str(seconds),
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]  # fmt: skip
        subprocess.run(cmd, check=True)
        paths.append(path)
    return paths


def run_ours(videos: list[Path], root: Path, out: Path, short_side: int, q: int, workers: int) -> int:
    table = pd.DataFrame({"video_id": [f"v{i:05d}" for i in range(len(videos))],
                          "path": [str(v.relative_to(root)) for v in videos]})  # fmt: skip
    index = extract_shard(table, root, out, short_side, q, "skip", workers)
    bad = index[index.status != "ok"]
    if len(bad):
        raise SystemExit(f"benchmark videos failed to extract: {bad[['video_id', 'error']].to_dict('records')}")
    return int(index["n_frames"].sum())


def run_bare(videos: list[Path], out: Path, short_side: int, q: int, workers: int) -> int:
    def one(args):
        i, video = args
        folder = out / f"v{i:05d}"
        folder.mkdir(parents=True)
        cmd = extraction_command(video, str(folder / "%06d.jpg"), short_side, q)
        subprocess.run(cmd, check=True, capture_output=True)
        return len(list(folder.iterdir()))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one, enumerate(videos)))


def run_opencv(videos: list[Path], out: Path, short_side: int, workers: int) -> int:
    """The course project's way: cv2.VideoCapture frame by frame, resize, cv2.imwrite one JPEG per frame."""
    import cv2

    def one(args):
        i, video = args
        folder = out / f"v{i:05d}"
        folder.mkdir(parents=True)
        cap = cv2.VideoCapture(str(video))
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            scale = short_side / min(h, w)
            size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            n += 1
            cv2.imwrite(str(folder / f"{n:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cap.release()
        return n

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one, enumerate(videos)))


def measure(videos: list[Path], root: Path, short_side: int, q: int, workers: int, repeats: int,
            opencv: bool = True) -> dict:  # fmt: skip
    ours, bare, cv, pack_bytes, frames_cv = [], [], [], 0, 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            if opencv:
                t = time.perf_counter()
                frames_cv = run_opencv(videos, Path(tmp) / "opencv", short_side, workers)
                cv.append(frames_cv / (time.perf_counter() - t))
            t = time.perf_counter()
            frames_bare = run_bare(videos, Path(tmp) / "bare", short_side, q, workers)
            bare.append(frames_bare / (time.perf_counter() - t))
            t = time.perf_counter()
            frames_ours = run_ours(videos, root, Path(tmp) / "ours", short_side, q, workers)
            ours.append(frames_ours / (time.perf_counter() - t))
            pack_bytes = sum(p.stat().st_size for p in (Path(tmp) / "ours").iterdir())
        assert frames_ours == frames_bare, (frames_ours, frames_bare)
    return {
        "videos": len(videos),
        "frames": frames_ours,
        "bare_fps": statistics.median(bare),
        "ours_fps": statistics.median(ours),
        "ratio": statistics.median(o / b for o, b in zip(ours, bare, strict=True)),
        "opencv_fps": statistics.median(cv) if cv else float("nan"),
        "opencv_frames": frames_cv,
        "ours_vs_opencv": statistics.median(o / c for o, c in zip(ours, cv, strict=True)) if cv else float("nan"),
        "bytes_per_frame": pack_bytes / max(frames_ours, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, help="an extra folder of videos to measure")
    parser.add_argument("--short-side", type=int, default=128)
    parser.add_argument("--jpeg-qscale", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-n", type=int, default=30, help="generated videos per set")
    parser.add_argument("--no-opencv", action="store_true", help="skip the OpenCV VideoCapture + imwrite arm")
    args = parser.parse_args()

    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets["320x240 H.264, 2 s (generated)"] = (make_videos(root / "a", args.n, "320x240", 2), root, args.short_side)
        sets["64x64 H.264, 8 frames (synthetic-world size)"] = (
            make_videos(root / "b", args.n * 3, "64x64", 0.32), root, 32)  # fmt: skip
        if args.videos:
            found = sorted(args.videos / p for p in find_videos(args.videos))
            sets[f"{args.videos} ({len(found)} videos)"] = (found, args.videos, args.short_side)
        print(
            f"# frame extraction: ours vs bare ffmpeg ({platform.node()}, {platform.processor() or platform.machine()},"
            f" ffmpeg {ffmpeg_exe()}, workers={args.workers}, q:v={args.jpeg_qscale})"
        )
        print("| videos | short side | frames | bare ffmpeg (frames/s) | scenebias (frames/s) | ratio | KB/frame "
              "| OpenCV loop (frames/s) | scenebias / OpenCV |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for name, (videos, vroot, short_side) in sets.items():
            r = measure(videos, vroot, short_side, args.jpeg_qscale, args.workers, args.repeats, not args.no_opencv)
            print(
                f"| {name} | {short_side} | {r['frames']} | {r['bare_fps']:.0f} | {r['ours_fps']:.0f} |"
                f" {r['ratio']:.2f} | {r['bytes_per_frame'] / 1000:.1f} | {r['opencv_fps']:.0f} |"
                f" {r['ours_vs_opencv']:.2f} |"
            )
            if r["opencv_frames"] and r["opencv_frames"] != r["frames"]:
                print(f"(OpenCV decoded {r['opencv_frames']} frames, ffmpeg {r['frames']})")


if __name__ == "__main__":
    main()
