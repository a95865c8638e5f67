#!/usr/bin/env python
"""Training throughput: the clip loader alone vs the training step alone, and backbone step times.

1. Loader vs step at the default run's settings (config.yaml): clips/s of the loader (TrainClips + DataLoader, no
   model) against clips/s of the training step on batches already in memory (no loading). Target: loader >= 3x
   the step rate, so the step never waits for data.
2. Step time of Hara et al.'s 3D-ResNet-18 (the paper's backbone) vs torchvision's r3d_18 on 16x112x112 clips.
   Reported as a ratio measured in the same run (r3d_18 has ~5x the MACs).

    python bench/train.py                          # CPU, the default run's frames (run `make demo` first)
    python bench/train.py --device cuda --amp --channels-last     # on a GPU machine, also fp32 for comparison
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from scenebias.config import load_config  # noqa: E402
from scenebias.data import EpochSampler, TrainClips, load_videos, model_input  # noqa: E402
from scenebias.models import build_model  # noqa: E402
from scenebias.models.common import count_macs  # noqa: E402
from scenebias.paths import Layout  # noqa: E402
from scenebias.runs import pretrain_settings  # noqa: E402
from scenebias.train import TrainSettings, autocast_context, make_scaler, optimizer_step  # noqa: E402


def loader_rate(settings: TrainSettings, results: Path, dataset: str, epochs: int) -> float:
    layout = Layout(str(results))
    videos = load_videos(layout("manifest", ds=dataset), layout("frame_index", ds=dataset), 1, ["train"])
    data = TrainClips(videos, settings.clip_spec(), 0, False, 0, cache=settings.cache_frames)
    sampler = EpochSampler(len(data), 0)
    loader = DataLoader(data, batch_size=settings.batch_size, sampler=sampler, num_workers=settings.workers,
                        persistent_workers=settings.workers > 0)  # fmt: skip
    rates = []
    for epoch in range(epochs):  # epoch 0 fills the frame cache when it is on; later epochs are steady state
        sampler.set_epoch(epoch)
        start, n = time.perf_counter(), 0
        for batch in loader:
            n += len(batch["label"])
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates[1:] if len(rates) > 1 else rates)


def step_rate(model_name, kwargs, frames, crop, batch, n_classes, device, amp, channels_last, steps) -> float:
    """Clips/s of the training step on clips already on the device, through scenebias.train's own autocast and
    (fp16) gradient-scaler step. amp: off | bf16 | fp16 (or a bool: bf16 / off)."""
    settings = TrainSettings(amp=amp, channels_last=channels_last)
    torch.manual_seed(0)
    net = build_model(model_name, n_classes, **kwargs).to(device).train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    scaler = make_scaler(settings, device)
    clips = torch.randint(0, 256, (batch, frames, crop, crop, 3), dtype=torch.uint8, device=device)
    labels = torch.randint(0, n_classes, (batch,), device=device)
    times = []
    for i in range(steps + 2):  # two warm-up steps
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        x = model_input(clips, (114.8, 107.7, 99.5), (1, 1, 1), channels_last, device)
        with autocast_context(settings, device):
            logits, _ = net(x)
            loss = F.cross_entropy(logits.float(), labels)
        optimizer_step(loss, opt, scaler)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="also measure bf16 and fp16 autocast (CUDA)")
    parser.add_argument("--channels-last", action="store_true", help="also measure channels_last_3d (CUDA)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-3d", type=int, default=4, help="batch of the 16x112x112 backbone comparison")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--skip-loader", action="store_true", help="no frames here: backbone comparison only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    settings = TrainSettings.from_dict(pretrain_settings(config, args.variant, 0))
    print(f"# bench/train.py on {platform.node()} ({platform.machine()}), torch {torch.__version__}, "
          f"device {args.device}, threads {args.threads}")  # fmt: skip

    if not args.skip_loader:
        results = Path(config["results"])
        loader = loader_rate(settings, results, config["pretrain"]["dataset"], epochs=3)
        step = step_rate(settings.model, settings.model_kwargs, settings.clip_frames, settings.crop,
                         settings.batch_size, 8, args.device, "off", False, args.steps * 4)  # fmt: skip
        print("\n| default run | clips/s |\n|---|---|")
        print(f"| loader alone ({settings.workers} workers, cache={settings.cache_frames}) | {loader:.0f} |")
        print(f"| training step alone ({settings.model}, batch {settings.batch_size}) | {step:.0f} |")
        print(f"| **loader / step** | **{loader / step:.1f}** |")

    modes = [("fp32", "off", False)]
    if args.device.startswith("cuda") and args.amp:
        modes += [(f"{m} AMP{' + channels_last' if args.channels_last else ''}", m, args.channels_last)
                  for m in ("bf16", "fp16")]  # fmt: skip
    elif args.device.startswith("cuda") and args.channels_last:
        modes.append(("fp32 + channels_last", "off", True))
    print(f"\n| backbone, 16x112x112, batch {args.batch_3d} | mode | GMACs/clip | clips/s | step ms |")
    print("|---|---|---|---|---|")
    rates = {}
    for name, kwargs in (("hara_resnet", {"depth": 18, "shortcut": "A"}), ("r3d_18", {})):
        macs = count_macs(build_model(name, 200, **kwargs), (1, 3, 16, 112, 112)) / 1e9
        for mode, amp, cl in modes:
            rate = step_rate(name, kwargs, 16, 112, args.batch_3d, 200, args.device, amp, cl, args.steps)
            rates[(name, mode)] = rate
            print(f"| {name} {kwargs or ''} | {mode} | {macs:.2f} | {rate:.1f} | {1000 * args.batch_3d / rate:.0f} |")
    for mode, _, _ in modes:
        ratio = rates[("hara_resnet", mode)] / rates[("r3d_18", mode)]
        print(f"\nHara 3D-ResNet-18 / r3d_18 step rate ({mode}): {ratio:.2f}x")
    for mode, _, _ in modes[1:]:
        for name in ("hara_resnet", "r3d_18"):
            print(f"{name}: {mode} / fp32 = {rates[(name, mode)] / rates[(name, 'fp32')]:.2f}x")


if __name__ == "__main__":
    main()
