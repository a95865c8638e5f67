"""Contact sheets (scenebias.sheets): the grid they promise, boxes drawn on the pixels the boxes file names, the
training code's fill beside them, one scene label per row, and the links from results.md."""

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from scenebias.config import load_schema
from scenebias.framepack import write_pack
from scenebias.humans.boxes import VideoBoxes, frames_with_detection, is_valid_video, save_boxes
from scenebias.report import sheets_markdown
from scenebias.scene import save_labels
from scenebias.sheets import (
    SheetSettings,
    boxes_sheet,
    person_shares,
    scenes_sheet,
    stratified_sample,
    write_sheet,
)
from scenebias.sheets.canvas import BOX_INNER, KEPT_BOX, WEAK_BOX

W, H = 32, 24  # frame-pack size of the test videos (not square: tiles follow the frames' aspect ratio)
BACKGROUND = (200, 120, 40)
PERSON = (20, 40, 220)
KEPT = (8.0, 4.0, 20.0, 20.0, 0.9)  # x1, y1, x2, y2 (exclusive), score
WEAK = (24.0, 14.0, 30.0, 22.0, 0.1)


def write_dataset(root: Path, videos: dict[str, tuple[str, np.ndarray]]) -> dict[str, Path]:
    """A dataset as the workflow lays it out: one shard of frame packs, the merged frame index, the manifest.
    videos: id -> (class name, frames (T, H, W, 3) uint8)."""
    packs = root / "frames" / "0000" / "packs"
    index, manifest = [], []
    for vid, (label, frames) in videos.items():
        jpegs = []
        for i, frame in enumerate(frames):
            jpegs.append(root / "jpeg" / vid / f"{i:06d}.jpg")
            jpegs[-1].parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(jpegs[-1], quality=95, subsampling=0)
        write_pack(jpegs, packs / f"{vid}.zip")
        h, w = frames.shape[1:3]
        index.append({"video_id": vid, "shard": "0000", "status": "ok", "n_frames": len(frames), "w": w, "h": h,
                      "pack": f"{vid}.zip"})  # fmt: skip
        manifest.append({"video_id": vid, "path": f"{vid}.mp4", "label": 0, "label_name": label})
    index.append({"video_id": "broken", "shard": "0000", "status": "failed", "n_frames": 0, "w": 0, "h": 0, "pack": ""})
    manifest.append({"video_id": "broken", "path": "broken.mp4", "label": 0, "label_name": "walk"})
    pd.DataFrame(index).to_csv(root / "frames" / "index.csv", index=False)
    pd.DataFrame(manifest).to_csv(root / "manifest.csv", index=False)
    return {"index": root / "frames" / "index.csv", "manifest": root / "manifest.csv"}


def person_frames(n: int) -> np.ndarray:
    frames = np.zeros((n, H, W, 3), np.uint8)
    frames[:] = BACKGROUND
    x1, y1, x2, y2, _ = map(int, KEPT[:4] + (0,))
    frames[:, y1:y2, x1:x2] = PERSON
    return frames


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-d mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), (ends - starts).tolist(), strict=True))


def near(image: np.ndarray, colour, tol: int = 30) -> np.ndarray:
    return (np.abs(image.astype(int) - np.array(colour)) <= tol).all(-1)


@pytest.fixture(scope="module")
def box_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("boxes_ds")
    classes = {"walk": 3, "squat": 2, "wave": 1}
    videos = {f"{c}{i}": (c, person_frames(6)) for c, n in classes.items() for i in range(n)}
    paths = write_dataset(root, videos)
    boxed = []
    for vid in videos:
        frames = [np.array([KEPT, WEAK], np.float32) for _ in range(6)]
        if vid == "walk2":  # a person in 2 of 6 frames only: not valid under the 70 % rule
            frames = [f if t < 2 else f[1:] for t, f in enumerate(frames)]
        boxed.append(VideoBoxes(vid, frames, (W, H)))
    paths["boxes"] = root / "boxes.npz"
    save_boxes(paths["boxes"], boxed)
    return paths


def test_settings_defaults_are_the_schemas():
    schema = load_schema()["properties"]["sheets"]["properties"]
    assert SheetSettings().__dict__ == {key: spec["default"] for key, spec in schema.items()}


def test_stratified_sample_takes_every_class_before_repeating_one():
    classes = ["a"] * 10 + ["b"] * 3 + ["c"]
    chosen = stratified_sample(classes, 5, seed=1)
    assert len(set(chosen)) == 5 and {classes[i] for i in chosen[:3]} == {"a", "b", "c"}
    assert stratified_sample(classes, 5, seed=1) == chosen  # seeded
    assert sorted(stratified_sample(classes, 99, seed=2)) == list(range(len(classes)))  # all, each once
    assert {tuple(stratified_sample(classes, 5, seed=s)) for s in range(5)} != {tuple(chosen)}


def test_person_shares_follow_the_paper_rule(tmp_path):
    rng = np.random.default_rng(0)
    videos = []
    for v in range(20):
        frames = []
        for _ in range(rng.integers(0, 9)):
            boxes = np.zeros((rng.integers(0, 3), 5), np.float32)
            boxes[:, 4] = rng.choice([0.1, 0.3, 0.29, 0.8], len(boxes))
            frames.append(boxes)
        videos.append(VideoBoxes(f"v{v}", frames, (W, H)))
    save_boxes(tmp_path / "b.npz", videos)
    shares = person_shares(tmp_path / "b.npz", 0.3)
    for video in videos:
        if video.frames:
            assert shares[video.video_id] == pytest.approx(frames_with_detection(video.frames, 0.3).mean())
        assert (shares[video.video_id] >= 0.5) == is_valid_video(video.frames, 0.3, 0.5)


def test_boxes_sheet_grid_boxes_and_masked_copy(box_dataset, tmp_path):
    settings = SheetSettings(videos=4, frames=3, tile=96)
    sheet, record = boxes_sheet("toy", box_dataset["index"], box_dataset["manifest"], box_dataset["boxes"],
                                settings, threshold=0.3, valid_ratio=0.7)  # fmt: skip
    write_sheet(sheet, record, tmp_path / "boxes_sheet.png", tmp_path / "boxes_sheet.json")
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "boxes_sheet.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(image, sheet)
    assert json.loads((tmp_path / "boxes_sheet.json").read_text()) == record

    # Four videos, stratified: every class shows; "broken" (failed extraction) never does.
    shown = [row["video_id"] for row in record["rows"]]
    assert len(shown) == 4 and {row["label_name"] for row in record["rows"]} == {"walk", "squat", "wave"}
    assert record["videos_total"] == 6 and record["videos_valid"] == 5
    assert all(row["valid"] == (row["video_id"] != "walk2") for row in record["rows"])

    # The grid, found from the pixels: 3 frames x (original, masked) columns of 128 px (24 -> 96 is x4, so the
    # 32-px width becomes 128), 4 rows of 96 px.
    scale = 96 // H
    frame_pixels = near(image, BACKGROUND)
    columns, rows = runs(frame_pixels.any(0)), runs(frame_pixels.any(1))
    assert [n for _, n in columns] == [W * scale] * 6 and [n for _, n in rows] == [H * scale] * 4
    assert record["grid"] == {"rows": 4, "cols": 6, "tile": [96, 128], "group": 2}

    for (y, _), row in zip(rows, record["rows"], strict=True):
        x = columns[0][0]
        tile = image[y : y + H * scale, x : x + W * scale]
        # The kept box's outermost pixels are those the boxes file names: x 8..19, y 4..19 in frame pixels.
        x0, y0, x1, y1 = (int(KEPT[0]) * scale, int(KEPT[1]) * scale, int(KEPT[2]) * scale - 1,
                          int(KEPT[3]) * scale - 1)  # fmt: skip
        middle_y, middle_x = (y0 + y1) // 2, (x0 + x1) // 2
        for py, px in [(middle_y, x0), (middle_y, x1), (y0, middle_x), (y1, middle_x)]:
            assert tuple(tile[py, px]) == KEPT_BOX, (row["video_id"], py, px)
        assert near(tile[middle_y, x0 - 1], BACKGROUND) and near(tile[middle_y, x1 + 1], BACKGROUND)
        assert near(tile[y1 + 1, middle_x], BACKGROUND) and near(tile[middle_y, x0 + 3], PERSON)
        assert tuple(tile[middle_y, x0 + 1]) == KEPT_BOX and tuple(tile[middle_y, x0 + 2]) == BOX_INNER
        weak_y, weak_x = int(WEAK[1]) * scale + 10, int(WEAK[0]) * scale  # on the weak box's left edge
        assert tuple(tile[weak_y, weak_x]) == WEAK_BOX
        # Beside it, the masked copy: the kept box filled with the frame's mean colour, the weak box left alone.
        masked = image[y : y + H * scale, columns[1][0] : columns[1][0] + W * scale]
        frame = person_frames(1)[0].reshape(-1, 3)
        assert near(masked[middle_y, middle_x], np.round(frame.mean(0)), tol=6)
        assert near(masked[middle_y, x0 - 1], BACKGROUND) and near(masked[weak_y, weak_x + 4], BACKGROUND)


def test_boxes_sheet_with_fewer_videos_than_rows(box_dataset):
    _, record = boxes_sheet("toy", box_dataset["index"], box_dataset["manifest"], box_dataset["boxes"],
                            SheetSettings(videos=50, frames=8), 0.3, 0.7)  # fmt: skip
    assert record["grid"]["rows"] == 6 and record["grid"]["cols"] == 16
    assert all(len(row["frames"]) == 6 for row in record["rows"])  # 6-frame videos: two empty pairs per row


def test_scenes_sheet_one_label_per_row(tmp_path):
    colours = {0: (220, 30, 30), 1: (30, 30, 220), 2: (30, 200, 30)}
    counts = {0: 3, 1: 5, 2: 1}
    videos, ids, soft = {}, [], []
    for k, n in counts.items():
        for i in range(n):
            frames = np.zeros((5, H, W, 3), np.uint8)
            frames[:] = colours[k]
            videos[f"s{k}_{i}"] = ("walk", frames)
            ids.append(f"s{k}_{i}")
            soft.append(np.eye(4)[k] * 0.7 + 0.075)
    paths = write_dataset(tmp_path, videos)
    names = [f"/{c}/{name}" for c, name in zip("abcd", ["airfield", "bus_interior", "canyon", "desert"], strict=True)]
    save_labels(tmp_path / "labels.npz", ids, np.array(soft), names)
    settings = SheetSettings(scenes=2, scene_videos=4, tile=48)
    sheet, record = scenes_sheet("toy", paths["index"], tmp_path / "labels.npz", settings)

    assert [row["label"] for row in record["rows"]] == [1, 0]  # the two most frequent, most frequent first
    assert [row["name"] for row in record["rows"]] == ["bus_interior", "airfield"]
    assert [row["share"] for row in record["rows"]] == pytest.approx([5 / 9, 3 / 9])
    assert record["labels"] == "Places365 classes" and record["n_labels"] == 4 and record["videos_total"] == 9
    assert len(record["rows"][0]["shown"]) == 4 and len(record["rows"][1]["shown"]) == 3
    scale = 2
    for r, k in enumerate([1, 0]):
        assert all(vid.startswith(f"s{k}_") for vid in record["rows"][r]["shown"])
        coloured = near(sheet, colours[k])
        assert [n for _, n in runs(coloured.any(1))] == [H * scale]  # one row carries this label's colour
        assert [n for _, n in runs(coloured.any(0))] == [W * scale] * len(record["rows"][r]["shown"])
    assert not near(sheet, colours[2]).any()  # the third label has no row


def test_sheets_are_linked_relative_to_results_md(tmp_path):
    out = tmp_path / "report"
    files = [
        (out / "source" / "boxes_sheet.png", {"ds": "source", "sheet": "boxes"}),
        (out / "source" / "scenes_sheet.png", {"ds": "source", "sheet": "scenes"}),
        (out / "ucf101" / "boxes_sheet.png", {"ds": "ucf101", "sheet": "boxes"}),
    ]
    table = sheets_markdown(files, out)
    assert "| source | [boxes](source/boxes_sheet.png) | [scenes](source/scenes_sheet.png) |" in table
    assert "| ucf101 | [boxes](ucf101/boxes_sheet.png) | – |" in table
