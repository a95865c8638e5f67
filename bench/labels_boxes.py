#!/usr/bin/env python
"""Throughput (images/s) of the scene-label and human-box backends, on this machine's CPU or GPU.

Every backend runs through the same code the pipeline runs (scenebias.scene, scenebias.humans), on frames of the
pipeline's size (short side 128, 128x171 for 4:3 video) unless noted. The neural backends use RANDOM weights: the
cost of a forward pass does not depend on the weights, but a detector's post-processing does (how many boxes
survive to NMS), so detector figures with real COCO weights can differ a little.

    python bench/labels_boxes.py                         # CPU, all backends (about 2 minutes on 2 cores)
    python bench/labels_boxes.py --device cuda --half    # GPU, fp16 where the pipeline uses it
    python bench/labels_boxes.py --only places365 maskrcnn --seconds 10
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scenebias.humans.detectors import build_torchvision_detector, torchvision_detect  # noqa: E402
from scenebias.humans.motion import MotionSettings, motion_boxes  # noqa: E402
from scenebias.scene import PLACES365_CLASSES, frame_features, places365_preprocess  # noqa: E402

FRAME = (128, 171)  # (h, w): short side 128 of 4:3 video, the paper's frame size before its 112 crops


@dataclass
class Case:
    backend: str
    batch: int  # images per call
    input_size: str
    run: Callable[[], None]  # one call, on `batch` images


def frames(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


def walking_frames(n: int, size: tuple[int, int]) -> np.ndarray:
    """A static textured scene with a person-sized block walking across: what the motion backend expects."""
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    bg = np.stack([90 + 40 * np.sin(xx / 9), 120 + 30 * np.cos(yy / 7), 70 + 25 * np.sin((xx + yy) / 11)], -1)
    rng = np.random.default_rng(0)
    out = []
    for t in range(n):
        frame = bg + rng.normal(0, 3, bg.shape)
        x = int(t * (w - 20) / max(1, n - 1))
        frame[h // 3 : h // 3 + h // 3, x : x + w // 16] = (30, 30, 160)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(out)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def kmeans_case(size: tuple[int, int], batch: int) -> Case:
    batch_frames = frames(batch, size)
    return Case(
        "k-means features (frame_features)",
        batch,
        f"{size[1]}x{size[0]}",
        lambda: [frame_features(f) for f in batch_frames],
    )


def motion_case(size: tuple[int, int], batch: int) -> Case:
    video = walking_frames(batch, size)
    return Case(
        "motion boxes (one video)", batch, f"{size[1]}x{size[0]}", lambda: motion_boxes(video, MotionSettings())
    )


def places365_case(device: str, half: bool, batch: int) -> Case:
    from torchvision.models import resnet50

    model = resnet50(weights=None, num_classes=PLACES365_CLASSES).eval().to(device)
    dtype = torch.float16 if half and device.startswith("cuda") else torch.float32
    model = model.to(dtype)
    batch_frames = frames(batch, FRAME)

    @torch.inference_mode()
    def run():
        x = places365_preprocess(batch_frames).to(device, dtype)  # resize 256, centre crop 224, normalise
        model(x).softmax(1).cpu()
        sync(device)

    precision = "fp16" if dtype == torch.float16 else "fp32"
    return Case(f"Places365 ResNet-50 ({precision})", batch, f"{FRAME[1]}x{FRAME[0]} -> 224x224", run)


def detector_case(name: str, device: str, half: bool, batch: int, short_side: int) -> Case:
    torch.manual_seed(0)
    model = build_torchvision_detector(name, None, short_side=short_side, min_score=0.05)
    detect = torchvision_detect(model, device, half, batch)
    batch_frames = frames(batch, FRAME)

    def run():
        detect(batch_frames)
        sync(device)

    precision = "fp16" if half and device.startswith("cuda") else "fp32"
    label = {"maskrcnn_resnet50_fpn": "Mask R-CNN", "fasterrcnn_resnet50_fpn": "Faster R-CNN"}[name]
    width = int(FRAME[1] * short_side / FRAME[0])  # torchvision floors the scaled size
    return Case(
        f"torchvision {label} R50-FPN ({precision})", batch, f"{FRAME[1]}x{FRAME[0]} -> {width}x{short_side}", run
    )


def measure(case: Case, warmup: int, min_iters: int, seconds: float) -> tuple[float, int]:
    """Median images/s over timed calls (at least min_iters, and at least `seconds` of timing)."""
    for _ in range(warmup):
        case.run()
    rates = []
    start = time.perf_counter()
    while len(rates) < min_iters or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        case.run()
        rates.append(case.batch / (time.perf_counter() - t))
    return statistics.median(rates), len(rates)


BACKENDS = ("kmeans", "motion", "places365", "fasterrcnn", "maskrcnn")


def cases(args) -> list[Callable[[], Case]]:
    """Builders, so that a model is only built (and its memory taken) when its turn comes."""
    out = []
    if "kmeans" in args.only:
        out += [lambda: kmeans_case((32, 32), 64), lambda: kmeans_case(FRAME, 16)]
    if "motion" in args.only:
        out += [lambda: motion_case(FRAME, 16)]
    if "places365" in args.only:
        out += [lambda: places365_case(args.device, args.half, args.places_batch)]
    for name in ("fasterrcnn", "maskrcnn"):
        if name in args.only:
            model = f"{name}_resnet50_fpn"
            out += [lambda m=model: detector_case(m, args.device, args.half, args.detector_batch, args.short_side)]
    return out


def machine(device: str) -> str:
    parts = [
        platform.node(),
        f"{os.cpu_count()} CPUs",
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
    ]
    if device.startswith("cuda"):
        parts.append(f"device {device}: {torch.cuda.get_device_name(torch.device(device))}")
    else:
        parts.append(f"device cpu: {platform.processor() or platform.machine()}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--half", action="store_true", help="fp16 for the neural backends (GPU only)")
    parser.add_argument("--only", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--places-batch", type=int, default=16)
    parser.add_argument("--detector-batch", type=int, default=4)
    parser.add_argument("--short-side", type=int, default=240, help="detector input short side (config default)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-iters", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="least timing per backend")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda asked, but torch sees no CUDA device here")
    if args.half and not args.device.startswith("cuda"):
        print("note: --half only applies on a GPU; CPU runs stay fp32", file=sys.stderr)

    print(f"# scene-label and human-box backends: images/s ({machine(args.device)})")
    print()
    print("| backend | batch | input | images/s | timed calls |")
    print("|---|---|---|---|---|")
    for build in cases(args):
        case = build()
        rate, calls = measure(case, args.warmup, args.min_iters, args.seconds)
        print(f"| {case.backend} | {case.batch} | {case.input_size} | {rate:,.1f} | {calls} |", flush=True)
        del case
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
