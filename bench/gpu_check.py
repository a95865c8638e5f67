#!/usr/bin/env python
"""One check for a GPU machine, a few minutes long; prints one table (paste it into docs/benchmarks.md).

1. paper: the tiny paper run (configs/paper.yaml shrunk, tests/test_paper.py::test_tiny_paper_run_through_the_report)
   through the report with every torch stage on the GPU and training in fp16 with its gradient scaler.
2. step: the training step of the paper's backbone (Hara 3D-ResNet-18, 16x112x112, 200 classes) through
   scenebias.train's autocast and scaler: fp32, bf16, fp16, each also with channels_last_3d.
3. loader: clips/s of the paper-size training loader (bench/loader.py) with N workers, and how many loader cores
   one GPU needs (step clips/s of the fastest mode / loader clips/s per core).

    python bench/gpu_check.py                  # on a CUDA machine: all three parts
    python bench/gpu_check.py                  # on a CPU: a dry check (tiny sizes, no paper part)
    python bench/gpu_check.py --parts step loader --batch 64 --workers 0 8 16
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.loader import measure as loader_measure  # noqa: E402
from bench.loader import paper_packs  # noqa: E402
from bench.train import step_rate  # noqa: E402

HARA18 = {"depth": 18, "shortcut": "A"}


def paper_part(device: str, timeout: int) -> list[tuple]:
    env = {**os.environ, "SCENEBIAS_TEST_DEVICE": device, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "workflow",
           "tests/test_paper.py", "-k", "tiny_paper_run"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no output)"]
    status = "passed" if proc.returncode == 0 else f"FAILED (rc {proc.returncode}): {tail[0][:80]}"
    if proc.returncode:
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-3000:])
    return [("paper", f"tiny paper run through the report ({device}, fp16 training)", status, f"{seconds:.0f} s")]


def step_part(device: str, batch: int, steps: int) -> tuple[list[tuple], float]:
    modes = [("fp32", "off", False)]
    if device.startswith("cuda"):
        modes += [("fp32 + channels_last", "off", True), ("bf16", "bf16", False),
                  ("bf16 + channels_last", "bf16", True), ("fp16 + scaler", "fp16", False),
                  ("fp16 + scaler + channels_last", "fp16", True)]  # fmt: skip
    rows, rates = [], {}
    for name, amp, cl in modes:
        if amp == "bf16" and device.startswith("cuda") and not torch.cuda.is_bf16_supported():
            rows.append(("step", f"Hara-18 16x112², batch {batch}, {name}", "no bf16 on this GPU", ""))
            continue
        rates[name] = step_rate("hara_resnet", HARA18, 16, 112, batch, 200, device, amp, cl, steps)
        speedup = rates[name] / rates["fp32"]
        rows.append(("step", f"Hara-18 16x112², batch {batch}, {name}", f"{rates[name]:.1f} clips/s",
                     f"{speedup:.2f}x fp32"))  # fmt: skip
    return rows, max(rates.values())


def loader_part(workers: list[int], n: int, seconds: float, best_step: float | None) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        videos = paper_packs(Path(tmp), n, seconds)
        results = loader_measure(videos, workers, 8, 1)
    for r in results:
        rows.append(("loader", f"{r['loader']}, {r['workers']} workers", f"{r['clips_s']:.1f} clips/s",
                     f"{r['per_core']:.1f} per core"))  # fmt: skip
    if best_step:
        train = [r for r in results if r["loader"].startswith("train")]
        per_core = max(r["per_core"] for r in train)
        rows.append(("loader", "cores to feed the fastest step mode", f"{best_step / per_core:.2f} cores",
                     f"{best_step:.1f} / {per_core:.1f}"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cuda = torch.cuda.is_available()
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--parts", nargs="+", choices=["paper", "step", "loader"],
                        default=["paper", "step", "loader"] if cuda else ["step", "loader"])  # fmt: skip
    parser.add_argument("--batch", type=int, default=32 if cuda else 2, help="clips per step (paper: 32)")
    parser.add_argument("--steps", type=int, default=20 if cuda else 1, help="timed steps per mode")
    cores = os.cpu_count() or 1
    default_workers = sorted({0, min(4, cores), min(8, cores), cores}) if cuda else [0, 1]
    parser.add_argument("--workers", type=int, nargs="+", default=default_workers)
    parser.add_argument("--videos", type=int, default=48 if cuda else 4, help="generated videos for the loader")
    parser.add_argument("--paper-timeout", type=int, default=420)
    args = parser.parse_args()

    head = f"{platform.node()}, {cores} CPU cores, torch {torch.__version__}"
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
        head += f", {torch.cuda.get_device_name()} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"
    else:
        head += ", CPU only: a dry check of the script, not a GPU measurement"
    rows, best = [], None
    if "paper" in args.parts:
        rows += paper_part(args.device, args.paper_timeout)
    if "step" in args.parts:
        step_rows, best = step_part(args.device, args.batch, args.steps)
        rows += step_rows
    if "loader" in args.parts:
        rows += loader_part(args.workers, args.videos, 4.0, best)
    print(f"# bench/gpu_check.py: {head}")
    print("| part | what | result | note |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
