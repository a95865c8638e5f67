#!/usr/bin/env python
"""Does a change to the synthetic world, the backbone or a loss keep the paper's effect? One command, minutes.

Runs the workflow's `p_bias_sweep` target — the source set re-rendered at each p_bias and sent through every real
stage (H.264 videos, frame packs, motion boxes, k-means scene labels, pretraining, bias measures) — for a config
plus the changes given here, without any fine-tuning. Prints in-distribution and bias-conflicting accuracy per
variant and p_bias (mean ± std over seeds), and appends one JSON line per (tag, p_bias, variant) to
bench/out/world.jsonl together with the wall time and the settings.

    python bench/world.py --tag defaults                                      # config.yaml at p_bias 0 and 0.9
    python bench/world.py --tag strided --set model.kwargs.downsample=stride  # one change
    python bench/world.py --tag thin --set world.thickness=3 --p-bias 0 --variants baseline --seeds 0 1 2
    python bench/world.py --tag big-head --set pretrain.variants.sdn.scene_hidden=512 \\
        --set pretrain.variants.sdn.scene_layers=3 --variants sdn

`--set KEY=VALUE` takes a dotted key and a YAML value; every run writes under bench/out/world/<tag>/ (its own
results folder, so runs never share outputs; rerunning a tag reuses what is up to date).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def setting(text: str) -> tuple[list[str], object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (a dotted key), got {text!r}")
    return key.split("."), yaml.safe_load(value)


def overlay(changes: list[tuple[list[str], object]], results: Path, args) -> dict:
    """The config overlay: the changes, this run's results folder and the sweep."""
    out: dict = {
        "results": str(results),
        "sweep": {"p_bias": args.p_bias, "variants": args.variants, "seeds": args.seeds},
    }
    for keys, value in changes:
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return out


def percent(mean: float, std: float) -> str:
    return f"{mean * 100:.1f}" + ("" if pd.isna(std) else f" ± {std * 100:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", required=True, help="name of this run (its results folder)")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="the config the changes apply to")
    parser.add_argument("--set", dest="changes", type=setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--p-bias", type=float, nargs="+", default=[0.0, 0.9])
    parser.add_argument("--variants", nargs="+", default=["baseline", "mask_conf", "sdn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    args = parser.parse_args()

    results = OUT / "world" / args.tag
    results.mkdir(parents=True, exist_ok=True)
    config = results / "overlay.yaml"
    config.write_text(yaml.safe_dump(overlay(args.changes, results.relative_to(REPO), args)))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = ["snakemake", "p_bias_sweep", "--cores", str(args.cores), "--configfile", str(args.config), str(config)]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (results / "snakemake.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"the sweep failed (log: {results / 'snakemake.log'}):\n{proc.stderr[-3000:]}")

    summary = pd.read_csv(results / "report" / "p_bias_sweep.csv")
    print(f"\n{args.tag}: {seconds:.0f} s wall ({args.cores} cores, {platform.node()})")
    print("| p_bias | variant | in-dist. acc (%) | bias-conflicting acc (%) | n |")
    print("|---|---|---|---|---|")
    lines = []
    for row in summary.itertuples():
        in_dist = percent(row.in_dist_acc_mean, row.in_dist_acc_std)
        conflict = percent(row.conflict_acc_mean, row.conflict_acc_std)
        print(f"| {row.p_bias} | {row.variant} | {in_dist} | {conflict} | {row.conflict_acc_n} |")
        lines.append(
            json.dumps(
                {
                    "tag": args.tag,
                    "p_bias": row.p_bias,
                    "variant": row.variant,
                    "in_dist_acc_mean": row.in_dist_acc_mean,
                    "in_dist_acc_std": row.in_dist_acc_std,
                    "conflict_acc_mean": row.conflict_acc_mean,
                    "conflict_acc_std": row.conflict_acc_std,
                    "n": int(row.conflict_acc_n),
                    "changes": {".".join(k): v for k, v in args.changes},
                    "config": str(args.config),
                    "wall_seconds": round(seconds, 1),
                    "cores": args.cores,
                    "machine": platform.node(),
                }
            )
        )
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "world.jsonl", "a") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
