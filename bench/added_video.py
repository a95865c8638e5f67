#!/usr/bin/env python
"""What one added video costs in a processed folder of your own videos (kind `videos`), against a baseline
revision measured in the same run.

A folder of N videos in class folders is made once (a few distinct short clips made with the pinned ffmpeg, copied
under N names), processed by `snakemake` up to frames, motion boxes and k-means scene labels (shard size 300 by
default), then one video is added and the same command runs again. Reported per code version: the jobs of the
second run by rule (from Snakemake's "rule NAME:" lines), its wall time, and the video-level work it redid (videos
extracted again). The baseline (default: the commit before stable shards, whose shards were fixed-size runs of the
sorted ids) runs the identical procedure from its own clone. What one added video costs depends on where its id
falls, so the last table gives, for 200 other names added to the same folder one at a time, the videos whose shard
changes (extracted again) under both rules, computed from the sharding functions alone.

    python bench/added_video.py                          # 1,000 videos, this checkout vs the baseline revision
    python bench/added_video.py --videos 200 --no-baseline
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scenebias.media import ffmpeg_exe  # noqa: E402

TARGETS = ["results/mine/frames/index.csv", "results/mine/humans/quality.json", "results/mine/scene/labels.npz"]
BASELINE = "fa3439f"  # before this change: fixed-size shards of the id-sorted manifest, no folder watching
CLASSES = ["walk", "wave", "jump", "run", "sit"]


def clip(path: Path, start: int) -> None:
    """A 1.2 s 96x64 clip of a white figure crossing a blue scene (something for the motion backend)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "color=c=0x336699:s=96x64:r=10:d=1.2", "-f", "lavfi", "-i", "color=c=white:s=10x24:r=10:d=1.2",
         "-filter_complex", f"[0][1]overlay=x='{start}+n*5':y=20", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
    )  # fmt: skip


def make_folder(root: Path, n: int) -> None:
    distinct = []
    for i in range(10):
        distinct.append(root / "distinct" / f"c{i}.mp4")
        clip(distinct[-1], 2 + 4 * i)
    for i in range(n):
        target = root / "videos" / CLASSES[i % len(CLASSES)] / f"clip {i:05d}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(distinct[i % len(distinct)], target)


def checkout_of(rev: str | None, dest: Path) -> Path:
    """This working tree (rev None) or a clone of the repository at `rev`."""
    if rev is None:
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                               capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
        for name in filter(None, files):
            if (REPO / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, dest / name)
        return dest
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=dest, check=True)
    return dest


def snakemake(checkout: Path, *args: str) -> tuple[float, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", "2", *args, "--configfile",
                           "mine.yaml"], cwd=checkout, capture_output=True, text=True, env=env)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - start, proc.stdout + proc.stderr


def jobs_by_rule(output: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, flags=re.M):
        if rule != "all":
            counts[rule] = counts.get(rule, 0) + 1
    return counts


def measure(label: str, checkout: Path, root: Path, shard_size: int, added: str) -> dict:
    config = {
        "datasets": {"mine": {"kind": "videos", "root": str(root)}},
        "pretrain": {"dataset": "mine"},
        "scene": {"kmeans": {"fit_on": "mine"}},
        "manifest": {"shard_size": shard_size},
    }
    (checkout / "mine.yaml").write_text(yaml.safe_dump(config))
    first, _ = snakemake(checkout, *TARGETS)
    shards = pd.read_csv(checkout / "results" / "mine" / "manifest.csv", dtype=str)["shard"].nunique()
    video = root / "videos" / "walk" / added
    shutil.copy(root / "distinct" / "c3.mp4", video)
    started = time.time()
    try:
        again, output = snakemake(checkout, *TARGETS)
        noticed = "manifest" in jobs_by_rule(output)
        if not noticed:  # what a user had to do before the folder was watched
            again, output = snakemake(checkout, *TARGETS, "--forcerun", "manifest")
        _, noop = snakemake(checkout, *TARGETS, "-n")
    finally:
        video.unlink()
    index = pd.read_csv(checkout / "results" / "mine" / "frames" / "index.csv", dtype=str)
    frames = checkout / "results" / "mine" / "frames"
    rerun = {s for s in set(index["shard"]) if (frames / s / "index.csv").stat().st_mtime > started}
    return {
        "code": label,
        "first run (s)": round(first),
        "shards": shards,
        "noticed": "yes" if noticed else "no: needed --forcerun manifest",
        "second run (s)": round(again, 1),
        "jobs": jobs_by_rule(output),
        "videos extracted again": int(index["shard"].isin(rerun).sum()),
        "third run": "nothing to do" if "Nothing to be done" in noop else "JOBS PENDING",
    }


def fixed_size_shards(ids: list[str], shard_size: int) -> dict[str, frozenset]:
    """The baseline's rule: fixed-size runs of the sorted ids, numbered."""
    ordered = sorted(ids)
    return {
        f"{i // shard_size:04d}": frozenset(ordered[i : i + shard_size]) for i in range(0, len(ordered), shard_size)
    }


def stable_shards(ids: list[str], shard_size: int) -> dict[str, frozenset]:
    from scenebias.manifest import assign_shards

    table = assign_shards(pd.DataFrame({"video_id": ids}), shard_size)
    return {name: frozenset(group["video_id"]) for name, group in table.groupby("shard")}


def simulated(ids: list[str], shard_size: int, trials: int = 200) -> list[str]:
    """Markdown rows: videos and shards that rerun when one more video is added, over `trials` added names."""
    rows = []
    for label, rule in (("stable shards (this checkout)", stable_shards), ("fixed-size runs (baseline)",
                                                                         fixed_size_shards)):  # fmt: skip
        before = rule(ids, shard_size)
        videos, shards = [], []
        for t in range(trials):
            after = rule([*ids, f"{CLASSES[t % len(CLASSES)]}__added {t:03d}"], shard_size)
            changed = [name for name, members in after.items() if before.get(name) != members]
            shards.append(len(changed))
            videos.append(sum(len(after[name]) for name in changed))
        rows.append(f"| {label} | {len(before)} | {sum(shards) / trials:.2f} (max {max(shards)}) "
                    f"| {sum(videos) / trials:.0f} (max {max(videos)}) |")  # fmt: skip
    return rows


def print_simulated(n_videos: int, shard_size: int) -> None:
    """The table over added names, for this folder's size and for a 20,000-video folder (50 names)."""
    print(f"\n| sharding (shard size {shard_size}) | videos | shards | shards changed by one added video, mean "
          "| videos extracted again, mean |")  # fmt: skip
    print("|---|---|---|---|---|")
    for n, trials in ((n_videos, 200), (20_000, 50)):
        ids = [f"{CLASSES[i % len(CLASSES)]}__clip {i:05d}" for i in range(n)]
        for row in simulated(ids, shard_size, trials):
            print(row.replace(" | ", f" | {n:,} | ", 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=300)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--simulate-only", action="store_true", help="only the table over 200 added names")
    parser.add_argument("--added", default="clip 00499b.mp4", help="name of the added video (its id's position)")
    args = parser.parse_args()
    print(f"# bench/added_video.py on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), "
          f"{args.videos} videos, shard size {args.shard_size}, added walk/{args.added}")  # fmt: skip
    rows = []
    if args.simulate_only:
        print_simulated(args.videos, args.shard_size)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "my_videos"
        make_folder(root, args.videos)
        versions = [("this checkout", None)] + ([] if args.no_baseline else [(f"baseline {args.baseline}",
                                                                               args.baseline)])  # fmt: skip
        for label, rev in versions:
            checkout = checkout_of(rev, Path(tmp) / f"checkout-{rev or 'here'}")
            rows.append(measure(label, checkout, root, args.shard_size, args.added))
            print(rows[-1], flush=True)
    print("\n| code | shards | added video noticed | jobs of the run after it | videos extracted again | wall time "
          "| first run (all videos) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        jobs = ", ".join(f"{rule} {n}" for rule, n in r["jobs"].items())
        print(f"| {r['code']} | {r['shards']} | {r['noticed']} | {jobs} | {r['videos extracted again']} "
              f"| {r['second run (s)']} s | {r['first run (s)']} s |")  # fmt: skip
    print_simulated(args.videos, args.shard_size)


if __name__ == "__main__":
    main()
