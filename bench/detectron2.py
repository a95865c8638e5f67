#!/usr/bin/env python
"""Frames per second of the detectron2 human-box backend (COCO Mask R-CNN R50-FPN, the schema's default config)
at the paper's detection size (short side 240: the official frames were 240 px high) and at detectron2's own
default test size (short side 800), through the pipeline's adapter (scenebias.humans.detectors).

Runs in the detectron2 env (docs/detectron2.md), with random weights written in detectron2's checkpoint format
(speed only: the backbone and RPN cost the same whatever the weights; the mask head's cost grows with the number
of detections, which random weights keep small, so real COCO weights on crowded frames are a little slower).

    .venv-detectron2/bin/python bench/detectron2.py                    # CPU, 320x240 frames, 240 and 800
    .venv-detectron2/bin/python bench/detectron2.py --device cuda --frames 64
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scenebias.humans.detectors import build_detectron2_detector, detectron2_detect, import_detectron2  # noqa: E402

CONFIG = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"


def random_checkpoint(folder: Path) -> Path:
    d2 = import_detectron2()
    cfg = d2["get_cfg"]()
    cfg.merge_from_file(d2["model_zoo"].get_config_file(CONFIG))
    cfg.MODEL.DEVICE = "cpu"
    torch.manual_seed(0)
    d2["DetectionCheckpointer"](d2["build_model"](cfg), save_dir=str(folder)).save("random")
    return folder / "random.pth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--short-sides", type=int, nargs="+", default=[240, 800])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--frames", type=int, default=8, help="frames per timed run")
    parser.add_argument("--size", default="320x240", help="frame size WxH (the official frames: 240 px high)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case; the median is reported")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, h, w, 3), dtype=np.uint8)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}")  # fmt: skip
    print("| short side | input | batch | frames/s |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        weights = random_checkpoint(Path(tmp))
        for short_side in args.short_sides:
            detector = build_detectron2_detector(CONFIG, str(weights), short_side, 0.05)
            for batch in args.batch_sizes:
                detect = detectron2_detect(detector, args.device, batch)
                detect(frames[:batch])  # warm-up
                rates = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    detect(frames)
                    if args.device.startswith("cuda"):
                        torch.cuda.synchronize()
                    rates.append(len(frames) / (time.perf_counter() - start))
                scale = short_side / min(h, w)
                size = f"{w}x{h} → {round(w * scale)}x{round(h * scale)}"
                print(f"| {short_side} | {size} | {batch} | {statistics.median(rates):.2f} |", flush=True)


if __name__ == "__main__":
    main()
