#!/usr/bin/env python
"""Which allocator a training job should run with: the same pretraining job, plain and tuned, side by side.

Runs the workflow's own pretraining command (bench/retrain.py's `pretrain_command`: the pretrain rule's script and
arguments on a finished run's data, e.g. after `make demo`) under each allocator arm. Arms run in pairs, `plain`
beside each other arm, at the same time on the same machine (so both see the same load), and the pairs repeat
`--repeats` times. Per run: wall seconds, user and system CPU seconds, minor page faults and peak RSS, from the
kernel's accounting of the child (`os.wait4`). Every arm's outputs are compared with plain's: the log (without its
seconds column) and the model's weights must be bit-identical.

Arms: `plain` (glibc's defaults: the scenebias.launch variables removed), `glibc` (scenebias.launch's
ALLOCATOR_ENVIRONMENT, what the workflow sets), and, where Debian's libjemalloc2 / libtcmalloc-minimal4 are
installed, `jemalloc` / `tcmalloc` through LD_PRELOAD (neither is on PyPI, so the workflow cannot rely on them).

    python bench/allocator.py                                    # baseline seed 0 of config.yaml's run
    python bench/allocator.py --variant sdn --repeats 3 --markdown
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from retrain import OUT, pretrain_command  # noqa: E402

from scenebias.config import load_config  # noqa: E402
from scenebias.launch import ALLOCATOR_ENVIRONMENT  # noqa: E402
from scenebias.paths import run_file  # noqa: E402

PRELOADS = {
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}


def arm_environment(arm: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENVIRONMENT and k != "LD_PRELOAD"}
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"  # as Snakemake sets them for a 1-thread job
    if arm == "glibc":
        env.update(ALLOCATOR_ENVIRONMENT)
    elif arm in PRELOADS:
        env["LD_PRELOAD"] = PRELOADS[arm]
    return env


def run(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Run one job; its wall time and the kernel's account of its CPU time, faults and peak memory."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"job failed ({log}):\n{log.read_text()[-2000:]}")
    return {
        "wall_s": time.perf_counter() - start,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "minor_faults": usage.ru_minflt,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def outputs_digest(out: Path) -> str:
    """The run's results without its timings: log.csv minus `seconds`, and the model's weights."""
    digest = hashlib.sha256()
    log = pd.read_csv(run_file(out, "log")).drop(columns=["seconds"])
    digest.update(log.to_csv(index=False).encode())
    record = torch.load(run_file(out, "model"), map_location="cpu", weights_only=True)
    for key, tensor in sorted(record["state_dict"].items()):
        digest.update(key.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def run_pair(config: dict, args, arms: tuple[str, str], repeat: int) -> list[dict]:
    rows: list[dict] = [{}, {}]

    def one(i: int) -> None:
        arm = arms[i]
        out = OUT / "allocator" / f"{arm}_{repeat}_{i}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cmd = pretrain_command(config, args.variant, args.seed, out)
        rows[i] = {"arm": arm, "repeat": repeat, **run(cmd, arm_environment(arm), out / "train.log")}
        rows[i]["digest"] = outputs_digest(out)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="the finished run's config")
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--arms", nargs="+", default=["glibc", *[a for a, lib in PRELOADS.items() if Path(lib).is_file()]]
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    config = load_config(args.config)
    config["results"] = str(REPO / config["results"])
    print(f"# bench/allocator.py on {platform.node()} ({os.cpu_count()} CPUs), {args.variant} seed {args.seed}, "
          f"{args.repeats} repeats, each arm beside plain", flush=True)  # fmt: skip
    rows = []
    for repeat in range(args.repeats):
        for arm in args.arms:
            pair = run_pair(config, args, ("plain", arm), repeat)
            rows += pair
            for r in pair:
                print(f"  {r['arm']:8s} repeat {repeat}: {r['wall_s']:.1f} s wall, {r['sys_s']:.1f} s sys, "
                      f"{r['minor_faults'] / 1e6:.2f} M faults, {r['max_rss_mb']:.0f} MB", flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    plain_digest = table.loc[table["arm"] == "plain", "digest"].iloc[0]
    table["identical"] = table["digest"] == plain_digest
    plain_wall = statistics.median(table.loc[table["arm"] == "plain", "wall_s"])
    header = (
        "| arm | runs | wall s (median, range) | vs plain | user s | sys s | minor faults | peak RSS | same results |"
    )
    print("\n" + header + "\n|---|---|---|---|---|---|---|---|---|")
    for arm, group in table.groupby("arm", sort=False):
        wall = statistics.median(group["wall_s"])
        print(f"| {arm} | {len(group)} | {wall:.1f} ({group['wall_s'].min():.1f}–{group['wall_s'].max():.1f}) | "
              f"{wall / plain_wall:.2f} | {statistics.median(group['user_s']):.1f} | "
              f"{statistics.median(group['sys_s']):.1f} ({group['sys_s'].min():.1f}–{group['sys_s'].max():.1f}) | "
              f"{statistics.median(group['minor_faults']) / 1e6:.2f} M | "
              f"{statistics.median(group['max_rss_mb']):.0f} MB | "
              f"{'yes' if group['identical'].all() else 'NO'} |")  # fmt: skip
    if not table["identical"].all():
        sys.exit("an arm changed the results: see the digests above")


if __name__ == "__main__":
    main()
