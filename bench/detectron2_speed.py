#!/usr/bin/env python
"""Frames per second of the detectron2 human-box backend (COCO Mask R-CNN R50-FPN, the schema's default config)
at the paper's detection size (short side 240: the official frames were 240 px high) and at detectron2's own
default test size (short side 800), through the pipeline's adapter (scenebias.humans.detectors).

Runs in the detectron2 env (docs/detectron2.md), with random weights written in detectron2's checkpoint format,
the box classifier set to call every proposal a person (as the tests do). Speed only: the backbone, RPN and box
head cost the same whatever the weights, but the mask head and mask pasting cost grows with the number of
detections, so the table gives the mean detections per frame: after NMS these weights leave one or two, as real
COCO weights do on a frame with one or two people. (Plain random weights leave up to 100 detections per frame of
random classes, which makes CPU runs about 5x slower.)

    .venv-detectron2/bin/python bench/detectron2_speed.py                    # CPU, 320x240 frames, 240 and 800
    .venv-detectron2/bin/python bench/detectron2_speed.py --threads 1                 # a shared, busy CPU
    .venv-detectron2/bin/python bench/detectron2_speed.py --device cuda --frames 64
"""

from __future__ import annotations

import argparse
import os
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
    model = d2["build_model"](cfg)
    cls_score = model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        cls_score.weight.zero_()
        cls_score.bias.zero_()
        cls_score.bias[0] = 12.0  # person
    d2["DetectionCheckpointer"](model, save_dir=str(folder)).save("random")
    return folder / "random.pth"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--short-sides", type=int, nargs="+", default=[240, 800])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--frames", type=int, default=8, help="frames per timed run")
    parser.add_argument("--size", default="320x240", help="frame size WxH (the official frames: 240 px high)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case; the median is reported")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, h, w, 3), dtype=np.uint8)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}, {torch.get_num_threads()} threads, device "
          f"{args.device}")  # fmt: skip
    print("| short side | input | batch | detections/frame | frames/s |\n|---|---|---|---|---|")
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
                    found = detect(frames)
                    if args.device.startswith("cuda"):
                        torch.cuda.synchronize()
                    rates.append(len(frames) / (time.perf_counter() - start))
                scale = short_side / min(h, w)
                size = f"{w}x{h} → {round(w * scale)}x{round(h * scale)}"
                per_frame = np.mean([len(b) for b in found])
                print(
                    f"| {short_side} | {size} | {batch} | {per_frame:.1f} | {statistics.median(rates):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
