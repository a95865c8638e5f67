"""Recomposed test sets: person masks beside the boxes, the pixel operations, building the sets from a rendered
dataset's real frames and masks, measuring a real model on them, the report's tables and agreement, the sheets."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from test_humans import walking_video

from conftest import REPO
from scenebias.data import load_videos
from scenebias.framepack import read_frames, write_pack
from scenebias.humans.masks import VideoMasks, load_masks, mask_iou, save_masks, union_of_instances
from scenebias.humans.stage import BOX_BACKENDS, downscale_masks, shard_boxes
from scenebias.recompose import SETS, TRUTH_SETS
from scenebias.recompose.build import RecomposeSettings, Source, build_sets, write_outputs
from scenebias.recompose.compose import (
    actor_only,
    coverage,
    dilate,
    encode_jpeg,
    masked_median,
    paste_actor,
    remove_actor,
)
from scenebias.recompose.measure import contrasted_accuracy, label_rate, measure_models
from scenebias.recompose.report import recomposed_summary, swap_agreement_summary, swap_agreement_table
from scenebias.synth.truth import load_actor_masks

# ---------------------------------------------------------------------------------------------------------
# Person masks beside the boxes


def test_masks_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    videos = [
        VideoMasks("a", rng.random((3, 5, 13)) > 0.5),  # a width that is not a multiple of 8
        VideoMasks("b", np.zeros((1, 4, 8), bool)),
        VideoMasks("c", rng.random((7, 32, 32)) > 0.9),
    ]
    save_masks(tmp_path / "m.npz", videos, threshold=0.4)
    loaded = load_masks([tmp_path / "m.npz"])
    assert list(loaded) == ["a", "b", "c"]
    for video in videos:
        assert loaded[video.video_id].dtype == bool and np.array_equal(loaded[video.video_id], video.masks)
    assert list(load_masks([tmp_path / "m.npz"], ["c"])) == ["c"]
    save_masks(tmp_path / "empty.npz", [], 0.3)
    assert load_masks([tmp_path / "empty.npz"]) == {}


def test_a_frame_mask_is_the_union_of_persons_at_the_threshold():
    instances = np.zeros((3, 4, 6), bool)
    instances[0, 0, 0] = instances[1, 1, 1] = instances[2, 2, 2] = True
    union = union_of_instances(instances, np.array([0.3, 0.29, 0.9]), 0.3, (6, 4))
    assert union.shape == (4, 6) and union.sum() == 2 and union[0, 0] and union[2, 2] and not union[1, 1]
    assert union_of_instances(np.zeros((0, 4, 6), bool), np.zeros(0), 0.3, (6, 4)).shape == (4, 6)
    assert mask_iou(np.array([union]), np.array([union])) == [1.0]


def walk_pack(tmp_path, name="walk", seed=1):
    frames, masks = walking_video(seed=seed)
    write_pack([encode_jpeg(f, 95, 444) for f in frames], tmp_path / "packs" / f"{name}.zip")
    row = {"video_id": name, "status": "ok", "n_frames": len(frames), "pack": f"{name}.zip", "w": 128, "h": 96}
    return frames, masks, row


def test_motion_masks_cover_the_walking_person_inside_its_boxes(tmp_path):
    _, truth, row = walk_pack(tmp_path)
    (video,) = shard_boxes(pd.DataFrame([row]), tmp_path / "packs", BOX_BACKENDS["motion"].build({}, {}), 3, "",
                           mask_threshold=0.3)  # fmt: skip
    assert video.masks.shape == (12, 96, 128) and video.masks.dtype == bool
    for t, (boxes, mask) in enumerate(zip(video.frames, video.masks, strict=True)):
        x1, y1, x2, y2 = boxes[0, :4].astype(int)
        assert mask.sum() and not mask[:y1].any() and not mask[:, :x1].any(), t  # inside the box
        assert (mask & truth[t]).sum() / truth[t].sum() >= (0.5 if t % 3 == 0 or t == 11 else 0.0), t
    assert np.array_equal(video.masks[1], video.masks[0])  # skipped frames copy the nearest processed frame
    assert np.mean(mask_iou(video.masks[::3], truth[::3])) > 0.3


def test_torchvision_mask_rcnn_gives_person_masks_aligned_with_its_boxes():
    from scenebias.humans.detectors import build_torchvision_detector, torchvision_detect

    torch.manual_seed(0)
    model = build_torchvision_detector("maskrcnn_resnet50_fpn", None, short_side=64, min_score=0.0)
    with torch.no_grad():  # random weights favouring "person" (COCO id 1), as the paper test's weights do
        model.roi_heads.box_predictor.cls_score.bias[1] = 20.0
    frames = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    boxes, masks = torchvision_detect(model, "cpu", half=False, batch_size=2, with_masks=True)(frames)
    assert len(boxes) == len(masks) == 2
    for b, m in zip(boxes, masks, strict=True):
        assert len(b) and m.shape == (len(b), 48, 64) and m.dtype == bool
    assert BOX_BACKENDS["torchvision"].masks({"model": "maskrcnn_resnet50_fpn"})
    assert not BOX_BACKENDS["torchvision"].masks({"model": "fasterrcnn_resnet50_fpn"})


# ---------------------------------------------------------------------------------------------------------
# Pixel operations


def test_background_of_a_still_camera_comes_from_the_temporal_median():
    frames, masks = walking_video(seed=3)
    background = remove_actor(frames, dilate(masks, 1), still_threshold=10, max_frames=32)
    assert background.method == "median" and background.motion < 10 and background.unseen == 0.0
    empty, _ = walking_video(seed=3, with_person=False)  # the same scene and noise draws, nobody in it
    inside = dilate(masks, 1)
    error = np.abs(background.frames.astype(int) - empty.astype(int))[inside].mean()
    assert error < 12  # the person's pixels now show the scene (JPEG and noise aside)
    assert np.array_equal(background.frames[~inside], frames[~inside])  # the rest is untouched
    assert np.abs(frames.astype(int) - empty.astype(int))[inside].mean() > 40  # the person was there


def test_a_moving_camera_gets_the_frame_mean():
    from test_humans import panning_video

    frames = panning_video()
    masks = np.zeros(frames.shape[:3], bool)
    masks[:, 40:70, 50:60] = True
    background = remove_actor(frames, masks, still_threshold=10, max_frames=32)
    assert background.method == "mean" and background.still is None and background.motion > 10
    mean0 = frames[0][~masks[0]].reshape(-1, 3).mean(0)
    assert np.abs(background.frames[0, 45, 55].astype(float) - mean0).max() <= 0.5


def test_masked_median_skips_covered_pixels():
    frames = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (10, 20, 30, 200)])
    masks = np.zeros((4, 2, 2), bool)
    masks[3] = True  # the 200 frame is covered everywhere: the median of 10, 20, 30
    masks[:, 0, 0] = True  # never free
    masks[2, 1, 1] = True  # free in 10, 20: their mean
    median, never = masked_median(frames, masks)
    assert never.tolist() == [[True, False], [False, False]]
    assert median[0, 1].tolist() == [20] * 3 and median[1, 1].tolist() == [15] * 3


def test_actor_only_swap_and_still_background():
    frames = np.full((2, 4, 4, 3), 200, np.uint8)
    masks = np.zeros((2, 4, 4), bool)
    masks[:, 1, 1] = True
    only = actor_only(frames, masks, np.array([10.4, 20.6, 30.0]))
    assert only[0, 1, 1].tolist() == [200] * 3 and only[0, 0, 0].tolist() == [10, 21, 30]
    other = np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3)  # another size and length: resized, cut
    swapped = paste_actor(frames, masks, other)
    assert swapped.shape == frames.shape and swapped[1, 1, 1].tolist() == [200] * 3
    assert swapped[0, 0, 0].tolist() == other[0, 0, 0].tolist()
    still = paste_actor(frames, masks, np.zeros((4, 4, 3), np.uint8))
    assert still[:, 0, 0].tolist() == [[0, 0, 0]] * 2 and still[:, 1, 1].tolist() == [[200] * 3] * 2
    assert coverage(masks) == pytest.approx(1 / 16)


# ---------------------------------------------------------------------------------------------------------
# Building the sets from a rendered dataset (real frames, real motion masks) and measuring a real model


@pytest.fixture(scope="module")
def recomposed(tiny_source, tmp_path_factory):
    """The tiny source's test videos recomposed from its motion masks and, for the action swap, its true masks."""
    out = tmp_path_factory.mktemp("recomposed")
    frames = pd.read_csv(tiny_source["frames"], dtype={"shard": str}, keep_default_na=False)
    packs = tiny_source["root"] / "frames" / "0000" / "packs"
    videos = shard_boxes(frames, packs, BOX_BACKENDS["motion"].build({}, {}), 1, "", mask_threshold=0.3)
    save_masks(out / "masks.npz", [VideoMasks(v.video_id, v.masks) for v in videos], 0.3)
    truth = load_actor_masks(tiny_source["root"] / "world" / "source" / "actor_masks.npz")
    sized = {v: downscale_masks(m, (32, 32)) for v, m in truth.items()}
    settings = RecomposeSettings(max_videos=6, seed=1)
    table = pd.read_csv(tiny_source["truth"])
    result = build_sets(tiny_source["manifest"], tiny_source["frames"], [1], Source([out / "masks.npz"]),
                        settings, out, 444, sized, table)  # fmt: skip
    files = {name: out / f"{name}.csv" for name in ("index", "manifest", "videos")} | {"record": out / "rec.json"}
    write_outputs(result, files["index"], files["manifest"], files["videos"], files["record"])
    return {**files, "out": out, "result": result, "truth": table}


def test_recomposed_sets_from_a_rendered_dataset(recomposed, tiny_source):
    record, videos = recomposed["result"]["record"], recomposed["result"]["videos"]
    assert record["counts"]["chosen"] == len(videos) and 0 < len(videos) <= 6
    assert list(record["sets"]) == [*SETS, *TRUTH_SETS]
    assert all(n == len(videos) for n in record["sets"].values())
    assert record["masks"] == "person masks" and record["frames_per_second"] > 0
    assert set(videos["background"]) == {"median"}  # the world's camera never moves
    assert (videos["coverage"].between(0.05, 0.5)).all()
    manifest = pd.read_csv(tiny_source["manifest"]).set_index("video_id")
    for row in videos.itertuples():  # B: another class, a test video of the same split that was recomposed too
        assert row.partner in set(videos["video_id"]) and manifest.loc[row.partner, "label"] != row.label
        assert manifest.loc[row.video_id, "split1"] == "test"
        assert row.scuba_background in set(videos["video_id"]) and row.scuba_background != row.video_id
    for name in (*SETS, *TRUTH_SETS):  # every set reads like any split role
        loaded = load_videos(recomposed["manifest"], recomposed["index"], 1, [name])
        assert len(loaded) == len(videos) and all(v.pack.is_file() for v in loaded)
        assert {v.label for v in loaded} <= set(manifest["label"])


def test_recomposed_pixels_are_what_each_set_says(recomposed, tiny_source):
    out, videos = recomposed["out"], recomposed["result"]["videos"]
    row = videos.iloc[0]
    original = read_frames(out / "sets" / "original" / "packs" / row["pack"])
    swap = read_frames(out / "sets" / "action_swap_true" / "packs" / row["pack"]).astype(int)
    partner = videos.set_index("video_id").loc[row["partner"]]
    b_background = read_frames(out / "sets" / "background_only" / "packs" / partner["pack"]).astype(int)
    truth = load_actor_masks(tiny_source["root"] / "world" / "source" / "actor_masks.npz")
    a_mask = downscale_masks(truth[row["video_id"]], (32, 32))  # recompose.dilate_px is 0 by default
    # outside A's true mask the true-mask swap shows B's background; inside, A's person
    assert np.abs(swap - b_background)[~a_mask].mean() < 6
    assert np.abs(swap - original.astype(int))[a_mask].mean() < 6
    actor = read_frames(out / "sets" / "actor_only" / "packs" / row["pack"]).astype(int)
    mean = np.array(recomposed["result"]["record"]["dataset_mean_rgb"])
    far = ~dilate(load_masks([out / "masks.npz"], [row["video_id"]])[row["video_id"]], 3)
    assert np.abs(actor - mean)[far].mean() < 3


def test_measures_of_a_real_model_on_the_sets(recomposed, tmp_path):
    from scenebias.models import build_model, save_model
    from scenebias.settings import TrainSettings

    torch.manual_seed(0)
    settings = TrainSettings(seed=0, model="small3d", model_kwargs={"widths": [4, 4, 4, 4]}, clip_frames=8, crop=32)
    net = build_model("small3d", 8, widths=[4, 4, 4, 4])
    save_model(tmp_path / "m.pt", net, {}, settings, {})
    table = measure_models([tmp_path / "m.pt"], [{"model": "baseline", "split": 1, "seed": 0}],
                           recomposed["manifest"], recomposed["index"], recomposed["videos"])  # fmt: skip
    row = table.iloc[0]
    assert row["model"] == "baseline" and row["original_n"] == len(recomposed["result"]["videos"])
    for name in ("original_acc", "actor_only_acc", "action_swap_b_rate", "contrasted_acc", "action_swap_true_acc"):
        assert 0 <= row[name] <= 1, name


def test_swap_rate_and_contrasted_accuracy():
    def one_hot(labels):
        return np.eye(4)[labels]

    labels = np.array([0, 1, 2, 3])
    scuba, scufo = one_hot([0, 1, 3, 3]), one_hot([1, 1, 0, 2])
    assert contrasted_accuracy(scuba, scufo, labels) == 0.5  # videos 0 and 3: right moving, wrong frozen
    assert label_rate(one_hot([2, 2, 2, 1]), np.array([2, 0, 2, 1])) == 0.75
    assert contrasted_accuracy(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0, int)) is None


# ---------------------------------------------------------------------------------------------------------
# The report's tables


def measures_table():
    rows = []
    for seed, (base, sdn) in enumerate([(0.2, 0.6), (0.3, 0.65), (0.25, 0.7)]):
        rows.append({"model": "baseline", "split": 1, "seed": seed, "action_swap_acc": base, "dataset": "source"})
        rows.append({"model": "sdn", "split": 1, "seed": seed, "action_swap_acc": sdn, "dataset": "source"})
    return pd.DataFrame(rows)


def test_summary_pairs_runs_by_split_and_seed():
    summary = recomposed_summary(measures_table(), ["baseline", "sdn"])
    sdn = summary[(summary["model"] == "sdn") & (summary["measure"] == "action_swap_acc")].iloc[0]
    assert sdn["mean"] == pytest.approx(0.65) and sdn["n"] == 3 and sdn["n_pairs"] == 3
    assert sdn["diff_mean"] == pytest.approx(0.4) and sdn["diff_low"] < 0.4 < sdn["diff_high"]


def test_agreement_with_the_ground_truth():
    bias = pd.DataFrame({"variant": ["baseline"] * 3 + ["sdn"] * 3, "seed": [0, 1, 2] * 2,
                         "conflict_acc": [0.15, 0.2, 0.18, 0.66, 0.7, 0.72],
                         "conflict_home_rate": [0.7, 0.7, 0.7, 0.2, 0.2, 0.2]})  # fmt: skip
    table = swap_agreement_table(bias, measures_table())
    assert len(table) == 6 and {"conflict_acc", "action_swap_acc"} <= set(table)
    summary = swap_agreement_summary(table, ["baseline", "sdn"]).set_index("measure")
    row = summary.loc["action_swap_acc"]
    assert row["pearson_r"] > 0.9 and row["runs"] == 6
    assert row["order"] == row["truth_order"] == "baseline → sdn"
    assert row["mean_abs_gap"] == pytest.approx(np.mean([0.05, 0.1, 0.07, 0.06, 0.05, 0.02]))


def test_agreement_table_columns_do_not_depend_on_the_hash_seed():
    """recomposed_agreement.csv keeps one column order from run to run (string hashing varies per process)."""
    code = (
        "import pandas as pd; from scenebias.recompose.report import swap_agreement_table\n"
        "run = {'seed': [0], 'variant': ['baseline']}\n"
        "bias = pd.DataFrame({**run, 'conflict_acc': [0.2], 'conflict_home_rate': [0.7]})\n"
        "rec = pd.DataFrame({**run, 'action_swap_acc': [0.3], 'action_swap_b_rate': [0.5]})\n"
        "rec = rec.rename(columns={'variant': 'model'})\n"
        "print(','.join(swap_agreement_table(bias, rec).columns))"
    )
    orders = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        orders.add(proc.stdout.strip())
    assert orders == {"variant,seed,conflict_acc,conflict_home_rate,action_swap_acc,action_swap_b_rate"}, orders


def test_recomposed_sheets(recomposed, tiny_source, tmp_path):
    from scenebias.sheets import SheetSettings
    from scenebias.sheets.recomposed import recomposed_sheets

    written = recomposed_sheets("source", tiny_source["frames"], recomposed["index"], recomposed["videos"],
                                SheetSettings(videos=3, frames=2, tile=32), tmp_path)  # fmt: skip
    assert written == ["actor_only", "background_only", "action_swap", "scuba", "action_swap_true"]
    record = json.loads((tmp_path / "action_swap_sheet.json").read_text())
    assert record["grid"]["rows"] == 3 and record["grid"]["cols"] == 4
    assert all(row["what"].startswith("B: ") for row in record["rows"])
    assert (tmp_path / "action_swap_sheet.png").stat().st_size > 1000


def test_a_backend_without_masks_recomposes_from_its_boxes(tiny_source, tmp_path):
    """Faster R-CNN gives boxes only: the sets are made from the boxes (score >= threshold) and say so."""
    from scenebias.humans.boxes import box_mask, load_boxes

    result = build_sets(tiny_source["manifest"], tiny_source["frames"], [1], Source([], tiny_source["boxes"], 0.3),
                        RecomposeSettings(max_videos=4), tmp_path, 444)  # fmt: skip
    assert result["record"]["masks"] == "boxes (the backend gives no masks)" and result["record"]["counts"]["chosen"]
    row = result["videos"].iloc[0]
    boxes = load_boxes(tiny_source["boxes"], [row["video_id"]])[row["video_id"]].frames
    actor = read_frames(tmp_path / "sets" / "actor_only" / "packs" / row["pack"]).astype(int)
    outside = ~box_mask(boxes[0], 0.3, 32, 32)
    mean = np.array(result["record"]["dataset_mean_rgb"])
    assert np.abs(actor[0] - mean)[outside].mean() < 3  # outside the boxes: the dataset's mean colour
