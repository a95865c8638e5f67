#!/usr/bin/env python
"""How fast Snakemake plans this workflow: a dry run over a 100,000-video dataset, the same over a processed
100,000-video folder of your own videos, and a no-op rerun at demo size.

1. In a scratch folder, the outputs of the stages before the manifest checkpoint are laid down (a synthetic
   `source` dataset's lists) together with a 100,000-row manifest (sharded by the checkout's own code), so
   `snakemake -n` must plan every per-shard job of frames, boxes and scene labels and everything downstream.
   Target: <= 15 s.
2. A folder of 100,000 (empty) video files in 100 class folders, dataset kind `videos`: its manifest job is run
   for real, then `snakemake -n` is timed — it reads the folder's state (one stat per video) to notice a changed
   folder, and plans every per-shard job. Target: <= 15 s.
3. `snakemake -n` in a folder where the default pipeline has finished (`make demo`): nothing to do. Target: <= 5 s.

With --baseline REV, cases 1 and 2 also run from a clone of the repository at REV, in the same run (the figure
before a change).

    python bench/dag.py                      # all three (3. uses the repository's results/ if complete)
    python bench/dag.py --videos 20000       # another size
    python bench/dag.py --baseline fa3439f   # and the code before the folder was watched
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake_run(checkout: Path, workdir: Path, configfile: Path | None, *args: str) -> tuple[float, str]:
    cmd = [SNAKEMAKE, "-s", str(checkout / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
    if configfile:
        cmd += ["--configfile", str(configfile)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return elapsed, proc.stdout + proc.stderr


def snakemake_dry_run(checkout: Path, workdir: Path, configfile: Path | None) -> tuple[float, str]:
    return snakemake_run(checkout, workdir, configfile, "-n")


def job_total(output: str) -> int:
    return sum(int(n) for n in re.findall(r"^total\s+(\d+)", output, flags=re.M))


def bench_config(shard_size: int) -> dict:
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["world"]["targets"] = {}
    config["finetune"]["targets"] = {}
    config["manifest"]["shard_size"] = shard_size
    return config


def big_manifest_workdir(checkout: Path, root: Path, n_videos: int, shard_size: int) -> Path:
    """A results tree whose manifest lists n_videos videos of a synthetic `source` dataset, cut into shards by the
    checkout's own `assign_shards`."""
    config = bench_config(shard_size)
    config["datasets"] = {"source": {"kind": "synthetic"}}
    root.mkdir(parents=True)
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    world = root / "results" / "world" / "source"
    (world / "lists").mkdir(parents=True)
    (world / "videos").mkdir()
    (world / "lists" / "classInd.txt").write_text("1 a\n")
    (world / "ground_truth.csv").write_text("video_id\n")
    ids = [f"source_train_{i:06d}" for i in range(n_videos)]
    manifest = pd.DataFrame({"video_id": ids, "path": [f"a/{v}.mp4" for v in ids], "label": 0, "label_name": "a",
                             "split1": "train"})  # fmt: skip
    out = root / "results" / "source"
    out.mkdir(parents=True)
    manifest.to_csv(out / "unsharded.csv", index=False)
    shard = (
        "import sys, pandas as pd; sys.path.insert(0, sys.argv[1]); from scenebias.manifest import assign_shards; "
        "assign_shards(pd.read_csv(sys.argv[2]), int(sys.argv[3])).to_csv(sys.argv[4], index=False)"
    )
    subprocess.run([sys.executable, "-c", shard, str(checkout), str(out / "unsharded.csv"), str(shard_size),
                    str(out / "manifest.csv")], check=True)  # fmt: skip
    (out / "unsharded.csv").unlink()
    (out / "manifest_report.json").write_text("{}\n")
    return root


def make_video_folder(root: Path, n_videos: int, classes: int = 100) -> Path:
    """n_videos empty .mp4 files in `classes` class folders (what planning reads of them is their listing)."""
    for i in range(n_videos):
        folder = root / "videos" / f"class{i % classes:03d}"
        if i < classes:
            folder.mkdir(parents=True)
        with open(folder / f"clip {i:06d}.mp4", "wb"):
            pass
    return root


def folder_workdir(checkout: Path, root: Path, videos: Path, shard_size: int) -> tuple[float, Path]:
    """A workdir whose `videos` dataset (the folder above) has its manifest made by a real manifest job."""
    config = bench_config(shard_size)
    config["datasets"] = {"mine": {"kind": "videos", "root": str(videos)}}
    config["pretrain"]["dataset"] = "mine"
    config["scene"]["kmeans"]["fit_on"] = "mine"
    root.mkdir(parents=True)
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    seconds, _ = snakemake_run(checkout, root, root / "bench.yaml", "results/mine/manifest.csv")
    return seconds, root


def checkouts(baseline: str | None, tmp: Path) -> list[tuple[str, Path]]:
    found = [("this checkout", REPO)]
    if baseline:
        clone = tmp / "baseline"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", baseline], cwd=clone, check=True)
        found.append((f"baseline {baseline}", clone))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--shard-size", type=int, default=300)
    parser.add_argument("--demo-dir", type=Path, default=REPO, help="a folder where `make demo` has finished")
    parser.add_argument("--baseline", help="also measure cases 1 and 2 from a clone at this git revision")
    args = parser.parse_args()
    print(f"# bench/dag.py on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        versions = checkouts(args.baseline, tmp)
        videos = make_video_folder(tmp / "my_videos", args.videos)
        for label, checkout in versions:
            root = big_manifest_workdir(checkout, tmp / f"synthetic-{label.split()[-1]}", args.videos, args.shard_size)
            seconds, output = snakemake_dry_run(checkout, root, root / "bench.yaml")
            print(f"| {label}: dry run, synthetic manifest of {args.videos:,} videos, shard size {args.shard_size} "
                  f"| {job_total(output)} jobs | {seconds:.1f} s |")  # fmt: skip
            made, root = folder_workdir(checkout, tmp / f"folder-{label.split()[-1]}", videos, args.shard_size)
            seconds, output = snakemake_dry_run(checkout, root, root / "bench.yaml")
            print(f"| {label}: dry run, processed folder of {args.videos:,} videos (kind videos; manifest job "
                  f"{made:.1f} s) | {job_total(output)} jobs | {seconds:.1f} s |")  # fmt: skip
    if (args.demo_dir / "results" / "report" / "results.md").is_file():
        seconds, output = snakemake_dry_run(REPO, args.demo_dir, None)
        state = "nothing to do" if "Nothing to be done" in output else "JOBS PENDING"
        print(f"| no-op rerun at demo size ({args.demo_dir}) | {state} | {seconds:.1f} s |")
    else:
        print(f"(no finished demo under {args.demo_dir}: run `make demo` first for the no-op rerun figure)")


if __name__ == "__main__":
    main()
