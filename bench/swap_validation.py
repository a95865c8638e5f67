#!/usr/bin/env python
"""The action swap against the synthetic world's truth, for other person masks or settings, on a finished run.

On a results folder of the default run (every source model and its bias measures done), this rebuilds the source's
recomposed sets with the given masks and settings (scenebias.recompose.build; the action swap also from the world's
true masks, on the same pairs), measures every pretrained model on the two action swaps only, and prints, per
run and per variant, the swap accuracies beside the ground truth's bias-conflicting accuracy, with Pearson r over
the runs and the mask IoU against the true masks. Nothing in the results folder is changed (work goes to --out).

Masks: `backend` = what the motion backend writes (each box's component of the dilated foreground); `moved` = only
the component's pixels that moved (the foreground before the dilation).

    python bench/swap_validation.py results --out /tmp/swap                    # the workflow's own setting
    python bench/swap_validation.py results --out /tmp/swap --dilate 1         # masks grown by 1 px
    python bench/swap_validation.py results --out /tmp/swap --masks moved      # the moved pixels only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scenebias.framepack import read_frames  # noqa: E402
from scenebias.humans.masks import VideoMasks, mask_iou, save_masks, union_of_instances  # noqa: E402
from scenebias.humans.motion import MotionSettings, foreground, motion_instances  # noqa: E402
from scenebias.humans.stage import downscale_masks  # noqa: E402
from scenebias.paths import shard_pack  # noqa: E402
from scenebias.recompose.build import RecomposeSettings, Source, build_sets, write_outputs  # noqa: E402
from scenebias.recompose.measure import measure_on_sets  # noqa: E402
from scenebias.synth.truth import load_actor_masks  # noqa: E402


def person_masks(frames: np.ndarray, size: tuple[int, int], settings: MotionSettings, kind: str) -> np.ndarray:
    boxes, instances = motion_instances(frames, settings)
    masks = np.stack([union_of_instances(i, b[:, 4], 0.3, size) for b, i in zip(boxes, instances, strict=True)])
    if kind == "moved":
        masks &= foreground(frames, dataclasses.replace(settings, dilate_px=0))[0]
    return masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a finished default run's results folder")
    parser.add_argument("--out", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--masks", choices=["backend", "moved"], default="backend")
    parser.add_argument("--dilate", type=int, default=0, help="recompose.dilate_px")
    parser.add_argument("--coverage", type=float, nargs=2, default=(0.05, 0.5), help="recompose.coverage")
    parser.add_argument("--max-videos", type=int, default=400, help="recompose.max_videos")
    parser.add_argument("--motion", default='{"max_area": 1.0}', help="humans.motion as JSON (config.yaml's)")
    args = parser.parse_args()
    res, ds = args.results, "source"
    frames_csv, manifest_csv = res / ds / "frames" / "index.csv", res / ds / "manifest.csv"
    index = pd.read_csv(frames_csv, dtype={"shard": str}, keep_default_na=False)
    manifest = pd.read_csv(manifest_csv, keep_default_na=False)
    test = index[index["video_id"].isin(manifest.loc[manifest["split1"] == "test", "video_id"])]
    truth = load_actor_masks(res / "world" / ds / "actor_masks.npz")
    motion = MotionSettings(**json.loads(args.motion))
    masks, sized, ious = [], {}, []
    for row in test.itertuples():
        size = (int(row.w), int(row.h))
        mine = person_masks(read_frames(shard_pack(frames_csv, row.shard, row.pack)), size, motion, args.masks)
        sized[row.video_id] = downscale_masks(truth[row.video_id], size)
        ious += mask_iou(mine, sized[row.video_id])
        masks.append(VideoMasks(row.video_id, mine))
    args.out.mkdir(parents=True, exist_ok=True)
    save_masks(args.out / "masks.npz", masks, 0.3)
    settings = RecomposeSettings(max_videos=args.max_videos, dilate_px=args.dilate, coverage=tuple(args.coverage))
    result = build_sets(manifest_csv, frames_csv, [1], Source([args.out / "masks.npz"]), settings, args.out, 444,
                        sized, pd.read_csv(res / "world" / ds / "ground_truth.csv"))  # fmt: skip
    files = [args.out / f"{n}.csv" for n in ("index", "manifest", "videos")] + [args.out / "record.json"]
    write_outputs(result, *files)
    swaps = result["manifest"][result["manifest"]["set"].str.startswith("action_swap")]
    swaps.to_csv(files[1], index=False)  # measure the two swaps only
    rows = []
    for model in sorted(res.glob(f"{ds}/pretrain/*/seed*/model.pt")):
        variant, seed = model.parent.parent.name, int(model.parent.name.removeprefix("seed"))
        bias = json.loads((res / ds / "bias" / variant / f"seed{seed}.json").read_text())
        measured = measure_on_sets(model, files[1], files[0], files[2], 1)
        swap, true_swap = measured["action_swap_acc"], measured["action_swap_true_acc"]
        rows.append({"variant": variant, "seed": seed, "truth": bias["conflict_acc"], "swap": swap,
                     "swap_true_masks": true_swap})  # fmt: skip
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "swap_validation.csv", index=False)
    counts = result["record"]["counts"]
    print(
        f"masks {args.masks}, dilate {args.dilate} px, coverage {args.coverage}: mask IoU {np.mean(ious):.3f}; "
        f"{counts['chosen']} of {counts['test_videos']} test videos ({counts['below_coverage']} below coverage)"
    )
    print((table.set_index(["variant", "seed"]) * 100).round(1).to_string())
    for column in ("swap", "swap_true_masks"):
        means = table.groupby("variant")[[column, "truth"]].mean() * 100
        order = " < ".join(means.sort_values(column).index)
        print(
            f"{column}: Pearson r {np.corrcoef(table[column], table['truth'])[0, 1]:+.3f} over {len(table)} runs, "
            f"mean abs gap {(table[column] - table['truth']).abs().mean() * 100:.1f} points; order {order}"
        )


if __name__ == "__main__":
    main()
