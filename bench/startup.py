#!/usr/bin/env python
"""What a training job spends before its first step, phase by phase, on a finished run's data.

Each phase is timed in a fresh process as a training job meets it (scripts/train.py -> scenebias.train): importing
PyTorch, importing the rest of what the job imports, reading the run's videos (manifest, frame index, scene labels,
boxes), building the network, building the optimiser (whose first use imports torch._dynamo), reading the packs of
the first batch, and the first step. Repeated `--repeats` times; the median is printed.

    python bench/startup.py                      # config.yaml's pretraining data (after `make demo`)
    python bench/startup.py --variant sdn --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PHASES = r"""
import json, sys, time
marks = {}
t = time.perf_counter()
import torch
marks["import torch"] = time.perf_counter() - t; t = time.perf_counter()
sys.path.insert(0, __REPO__)
from scenebias.data import load_videos
from scenebias.paths import Layout
from scenebias.runs import pretrain_settings
from scenebias.config import load_config
from scenebias.train import RunData, TrainSettings
from scenebias.train.loaders import build_loaders
from scenebias.train.distributed import setup_process
from scenebias.train.trainable import build_trainable
from scenebias.train.optim import build_optimisation
from scenebias.train.loop import batch_losses
from scenebias.train.optim import optimizer_step
marks["import the rest"] = time.perf_counter() - t; t = time.perf_counter()
config = load_config(__CONFIG__)
config["results"] = str(__REPO__ + "/" + config["results"])
P = Layout(config["results"]); src = config["pretrain"]["dataset"]
settings = TrainSettings.from_dict(pretrain_settings(config, __VARIANT__, 0))
common = dict(scene_npz=P("scene_labels", ds=src), boxes_npz=P("boxes", ds=src),
              mask_threshold=settings.mask_threshold, valid_ratio=settings.valid_ratio)
videos = load_videos(P("manifest", ds=src), P("frame_index", ds=src), config["pretrain"]["split"],
                     config["pretrain"]["train_roles"], **common)
import numpy as np, pandas as pd
with np.load(P("scene_labels", ds=src)) as d:
    n_scenes = int(d["soft"].shape[1])
n_classes = int(pd.read_csv(P("manifest", ds=src))["label"].max()) + 1
data = RunData(videos, [], n_classes, n_scenes)
marks["read the run's lists"] = time.perf_counter() - t; t = time.perf_counter()
ctx, device = setup_process(settings)
trainable = build_trainable(settings, data, None, False, device)
marks["build the network"] = time.perf_counter() - t; t = time.perf_counter()
loaders = build_loaders(settings, data, ctx, device)
optim = build_optimisation(trainable, trainable, settings, len(loaders.train), device)
marks["build the optimiser"] = time.perf_counter() - t; t = time.perf_counter()
loaders.set_epoch(0)
batch = next(iter(loaders.train))
marks["first batch (packs)"] = time.perf_counter() - t; t = time.perf_counter()
trainable.train()
losses = batch_losses(trainable, batch, settings, device, 0.0)
optimizer_step(losses.total, optim.optimizer, optim.scaler)
marks["first step"] = time.perf_counter() - t; t = time.perf_counter()
losses = batch_losses(trainable, next(iter(loaders.train)), settings, device, 0.0)
optimizer_step(losses.total, optim.optimizer, optim.scaler)
marks["(a later step, for scale)"] = time.perf_counter() - t
marks["torch._dynamo imported"] = float("torch._dynamo" in sys.modules)
print(json.dumps(marks))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="the finished run's config")
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    code = (
        PHASES.replace("__REPO__", repr(str(REPO)))
        .replace("__CONFIG__", repr(str(args.config)))
        .replace("__VARIANT__", repr(args.variant))
    )
    runs = []
    for _ in range(args.repeats):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={"OMP_NUM_THREADS": "1", "PATH": ""})  # fmt: skip
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"# bench/startup.py: {args.variant} pretraining of {args.config.name}'s run, median of {args.repeats}")
    print("| phase | seconds |\n|---|---|")
    total = 0.0
    for phase in runs[0]:
        value = statistics.median(r[phase] for r in runs)
        if phase.startswith("torch._dynamo"):
            print(f"| {phase} | {'yes' if value else 'no'} |")
            continue
        if not phase.startswith("("):
            total += value
        print(f"| {phase} | {value:.2f} |")
    print(f"| **before the second step** | **{total:.2f}** |")


if __name__ == "__main__":
    main()
