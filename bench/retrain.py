#!/usr/bin/env python
"""Does a training change keep the paper's effect? Retrain pretraining variants on a finished run's source data.

Reuses the frames, motion boxes and k-means scene labels of a finished run (`make demo` writes them to results/):
only pretraining and the bias measures run, with the same scripts and arguments as the workflow's rules, so a
change to a training setting costs minutes instead of a whole `make demo`. Prints in-distribution and
bias-conflicting accuracy per variant (mean ± std over seeds) with the training time, and appends one JSON line
per run to bench/out/retrain.jsonl.

    python bench/retrain.py --tag epochs9 --set epochs=9 --variants baseline mask_conf
    python bench/retrain.py --tag frames4 --set clip_frames=4 --variants sdn --seeds 0 1 2 --jobs 2

`--set KEY=VALUE` changes one training setting (a key of scenebias.settings.TrainSettings; VALUE is YAML) on top of
what the config gives each variant. Changes to the world, frames, boxes or labels need the whole DAG:
bench/world.py runs that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scenebias.config import load_config  # noqa: E402
from scenebias.paths import Layout, run_file  # noqa: E402
from scenebias.runs import pretrain_settings  # noqa: E402
from scenebias.settings import TrainSettings  # noqa: E402

OUT = REPO / "bench" / "out"
KEYS = {f.name for f in fields(TrainSettings)}


def setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or key not in KEYS:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a training setting, got {text!r}")
    return key, yaml.safe_load(value)


def pretrain_command(config: dict, variant: str, seed: int, out: Path, changes: dict | None = None) -> list[str]:
    """The command the workflow's pretrain rule runs for one variant and seed (with `changes` to its settings), on
    the finished run's data, writing into `out`."""
    P = Layout(config["results"])  # noqa: N806  (the rules' name for the layout)
    source = config["pretrain"]["dataset"]
    settings = {**pretrain_settings(config, variant, seed), **(changes or {})}
    return [str(c) for c in [
        sys.executable, REPO / "scripts" / "train.py", "--settings", json.dumps(settings),
        "--manifest", P("manifest", ds=source), "--frames", P("frame_index", ds=source),
        "--split", str(config["pretrain"]["split"]), "--train-roles", *config["pretrain"]["train_roles"],
        "--val-roles", *config["pretrain"]["val_roles"], "--scene-labels", P("scene_labels", ds=source),
        "--boxes", P("boxes", ds=source), "--out-dir", out, "--ckpt-dir", out / "checkpoint",
    ]]  # fmt: skip


def run_one(args, config: dict, variant: str, seed: int) -> dict:
    """Pretrain one variant and seed into bench/out/retrain/<tag>/, then measure it; as the rules do."""
    P = Layout(config["results"])  # noqa: N806  (the rules' name for the layout)
    source = config["pretrain"]["dataset"]
    world_truth = Path(P.world("truth", ds=source))
    out = OUT / "retrain" / args.tag / variant / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    train = pretrain_command(config, variant, seed, out, dict(args.changes))
    measure = [sys.executable, REPO / "scripts" / "bias_measures.py", "--model", run_file(out, "model"),
               "--manifest", P("manifest", ds=source), "--frames", P("frame_index", ds=source),
               "--scene-labels", P("scene_labels", ds=source), "--boxes", P("boxes", ds=source),
               "--split", str(config["pretrain"]["split"]), "--out", out / "bias.json"]  # fmt: skip
    if world_truth.is_file():
        measure += ["--truth", world_truth]
    start = time.perf_counter()
    for name, cmd in (("train", train), ("bias", measure)):
        with open(out / f"{name}.log", "w") as log:
            proc = subprocess.run([str(c) for c in cmd], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            sys.exit(f"{variant} seed {seed}: {name} failed (log: {out / f'{name}.log'})")
        if name == "train":
            train_seconds = time.perf_counter() - start
    bias = json.loads((out / "bias.json").read_text())
    return {
        "tag": args.tag,
        "variant": variant,
        "seed": seed,
        "changes": dict(args.changes),
        "in_dist_acc": bias["in_dist_acc"],
        "conflict_acc": bias.get("conflict_acc"),
        "train_seconds": round(train_seconds, 1),
        "config": str(args.config),
        "machine": platform.node(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", required=True, help="name of this experiment (its folder under bench/out/retrain/)")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="the finished run's config")
    parser.add_argument("--set", dest="changes", type=setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--variants", nargs="+", default=["baseline", "mask_conf", "sdn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs side by side")
    args = parser.parse_args()
    config = load_config(args.config)
    config["results"] = str(REPO / config["results"])
    layout, source = Layout(config["results"]), config["pretrain"]["dataset"]
    for needed in ("manifest", "frame_index", "scene_labels", "boxes"):
        if not Path(layout(needed, ds=source)).is_file():
            sys.exit(
                f"{layout(needed, ds=source)} is missing: finish a run of {args.config.name} first (e.g. `make demo`)"
            )
    unknown = set(args.variants) - set(config["pretrain"]["variants"])
    if unknown:
        sys.exit(f"variants not in {args.config.name}'s pretrain.variants: {sorted(unknown)}")
    runs = [(v, s) for v in args.variants for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda vs: run_one(args, config, *vs), runs))
    print(f"\n{args.tag}: {dict(args.changes)}")
    print("| variant | in-dist. acc (%) | bias-conflicting acc (%) | train s | n |\n|---|---|---|---|---|")
    for variant in args.variants:
        mine = [r for r in rows if r["variant"] == variant]

        def cell(key, rows=mine):
            values = np.array([r[key] for r in rows if r[key] is not None], float) * 100
            if not len(values):
                return "–"
            return f"{values.mean():.1f}" + (f" ± {values.std(ddof=1):.1f}" if len(values) > 1 else "")

        seconds = np.mean([r["train_seconds"] for r in mine])
        print(f"| {variant} | {cell('in_dist_acc')} | {cell('conflict_acc')} | {seconds:.0f} | {len(mine)} |")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "retrain.jsonl", "a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
