#!/usr/bin/env python
"""How fast Snakemake plans this workflow: a dry run over a 100,000-video dataset, and a no-op rerun at demo size.

1. In a scratch folder, the outputs of the stages before the manifest checkpoint are laid down (a synthetic
   `source` dataset's lists) together with a 100,000-row manifest, so `snakemake -n` must plan every per-shard
   job of frames, boxes and scene labels (shard size 300 -> 334 shards) and everything downstream. Target: <= 15 s.
2. `snakemake -n` in a folder where the default pipeline has finished (`make demo`): nothing to do. Target: <= 5 s.

    python bench/dag.py                      # both (2. uses the repository's results/ if complete)
    python bench/dag.py --videos 20000       # another size
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
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake_dry_run(workdir: Path, configfile: Path | None) -> tuple[float, str]:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "--cores", "2"]
    if configfile:
        cmd += ["--configfile", str(configfile)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return elapsed, proc.stdout + proc.stderr


def big_manifest_workdir(root: Path, n_videos: int, shard_size: int) -> Path:
    """A results tree whose manifest lists n_videos videos of a synthetic `source` dataset."""
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["datasets"] = {"source": {"kind": "synthetic"}}
    config["world"]["targets"] = {}
    config["finetune"]["targets"] = {}
    config["manifest"]["shard_size"] = shard_size
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    world = root / "results" / "world" / "source"
    (world / "lists").mkdir(parents=True)
    (world / "videos").mkdir()
    (world / "lists" / "classInd.txt").write_text("1 a\n")
    (world / "ground_truth.csv").write_text("video_id\n")
    ids = [f"source_train_{i:06d}" for i in range(n_videos)]
    manifest = pd.DataFrame({"video_id": ids, "path": [f"a/{v}.mp4" for v in ids], "label": 0, "label_name": "a",
                             "split1": "train"})  # fmt: skip
    manifest["shard"] = [f"{i // shard_size:04d}" for i in range(n_videos)]
    out = root / "results" / "source"
    out.mkdir(parents=True)
    manifest.to_csv(out / "manifest.csv", index=False)
    (out / "manifest_report.json").write_text("{}\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--shard-size", type=int, default=300)
    parser.add_argument("--demo-dir", type=Path, default=REPO, help="a folder where `make demo` has finished")
    args = parser.parse_args()
    print(f"# bench/dag.py on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        root = big_manifest_workdir(Path(tmp), args.videos, args.shard_size)
        seconds, output = snakemake_dry_run(root, root / "bench.yaml")
        jobs = sum(int(n) for n in re.findall(r"^total\s+(\d+)", output, flags=re.M))
        print(f"| dry run, {args.videos:,} videos, shard size {args.shard_size} | {jobs} jobs | {seconds:.1f} s |")
        shutil.rmtree(root / ".snakemake", ignore_errors=True)
    if (args.demo_dir / "results" / "report" / "results.md").is_file():
        seconds, output = snakemake_dry_run(args.demo_dir, None)
        state = "nothing to do" if "Nothing to be done" in output else "JOBS PENDING"
        print(f"| no-op rerun at demo size ({args.demo_dir}) | {state} | {seconds:.1f} s |")
    else:
        print(f"(no finished demo under {args.demo_dir}: run `make demo` first for the no-op rerun figure)")


if __name__ == "__main__":
    main()
