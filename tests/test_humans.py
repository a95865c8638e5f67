"""Human boxes: the box file format, the paper's masking rules, and the backends (motion, torchvision with random
weights, the oracle; detectron2 in tests/test_detectron2.py)."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from scenebias.framepack import write_pack
from scenebias.humans.boxes import (
    VideoBoxes,
    actor_coverage,
    carry_to_all_frames,
    is_valid_video,
    load_boxes,
    mask_humans,
    processed_frames,
    save_boxes,
)
from scenebias.humans.detectors import build_torchvision_detector, torchvision_detect
from scenebias.humans.motion import MotionSettings, motion_boxes
from scenebias.humans.stage import BOX_BACKENDS, oracle_boxes, shard_boxes


def boxes(*rows) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 5)


# ---------------------------------------------------------------------------------------------------------
# Box files


def test_box_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    videos = [
        VideoBoxes("a", [boxes(), rng.random((3, 5)).astype(np.float32), boxes([1, 2, 3, 4, 0.5])], (64, 48)),
        VideoBoxes("b", [boxes(), boxes()], (32, 32), np.array([False, True])),  # no box in any frame
        VideoBoxes("c", [rng.random((k, 5)).astype(np.float32) for k in (2, 0, 0, 5, 1)], (171, 128)),
    ]
    path = tmp_path / "humans" / "0000.npz"
    save_boxes(path, videos)
    loaded = load_boxes(path)
    assert list(loaded) == ["a", "b", "c"]
    for video in videos:
        got = loaded[video.video_id]
        assert got.size == video.size
        assert got.carried.tolist() == video.carried.tolist()
        assert len(got.frames) == len(video.frames)
        for mine, theirs in zip(video.frames, got.frames, strict=True):
            assert theirs.shape == (len(mine), 5) and theirs.dtype == np.float32
            assert np.array_equal(theirs, mine)
    assert not list(tmp_path.glob("humans/.*"))  # no temporary file left behind


def test_box_file_without_videos(tmp_path):
    save_boxes(tmp_path / "empty.npz", [])
    assert load_boxes(tmp_path / "empty.npz") == {}


def test_stride_processes_every_third_frame_and_the_last():
    assert processed_frames(10, 3).tolist() == [0, 3, 6, 9]
    assert processed_frames(8, 3).tolist() == [0, 3, 6, 7]
    assert processed_frames(5, 1).tolist() == [0, 1, 2, 3, 4]
    assert processed_frames(1, 3).tolist() == [0]


def test_carried_frames_copy_the_nearest_processed_frame():
    n = 8
    idx = processed_frames(n, 3)  # 0, 3, 6, 7
    found = [boxes([i, i, i + 5, i + 5, 0.9]) for i in idx]
    found[1] = boxes()  # processed frame 3 found nobody
    per_frame, carried = carry_to_all_frames(n, idx, found)
    assert carried.tolist() == [False, True, True, False, True, True, False, False]
    nearest = [0, 0, 3, 3, 3, 6, 6, 7]
    for f, source in enumerate(nearest):
        assert np.array_equal(per_frame[f], found[idx.tolist().index(source)]), f
    assert per_frame[4].shape == (0, 5)  # frame 4 is nearest to 3, which had no box


# ---------------------------------------------------------------------------------------------------------
# The paper's masking rules


def test_mask_humans_fills_confident_boxes_with_the_frame_mean():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (3, 12, 16, 3), dtype=np.uint8)
    original = frames.copy()
    per_frame = [
        boxes([2, 3, 6, 7, 0.3], [10, 1, 14, 5, 0.29]),  # at the threshold: filled; just below: left alone
        boxes(),
        # fractional: floor/ceil; partly outside: clipped; wholly outside (left of the frame): nothing
        boxes([1.5, 2.2, 4.1, 5.0, 0.9], [-3, 9, 4, 20, 1.0], [-9, 0, -4, 6, 1.0]),
    ]
    out = mask_humans(frames, per_frame, threshold=0.3)
    assert np.array_equal(frames, original)  # input untouched
    expected = original.copy()
    for t, regions in ((0, [(3, 7, 2, 6)]), (2, [(2, 5, 1, 5), (9, 12, 0, 4)])):
        mean = np.round(original[t].reshape(-1, 3).mean(0)).astype(np.uint8)  # pre-mask mean, rounded
        for y0, y1, x0, x1 in regions:
            expected[t, y0:y1, x0:x1] = mean
    assert np.array_equal(out, expected)
    assert np.array_equal(out[1], original[1])


def test_mask_humans_float_frames_keep_the_exact_mean():
    frames = np.random.default_rng(2).random((1, 4, 4, 3)).astype(np.float32)
    out = mask_humans(frames, [boxes([0, 0, 2, 2, 1.0])])
    assert np.allclose(out[0, 0, 0], frames[0].reshape(-1, 3).mean(0))


@pytest.mark.parametrize("n", [10, 20, 30, 100])
def test_valid_video_at_exactly_seventy_percent(n):
    hit, miss, weak = boxes([0, 0, 5, 5, 0.8]), boxes(), boxes([0, 0, 5, 5, 0.1])
    k = n * 7 // 10
    assert is_valid_video([hit] * k + [miss] * (n - k))
    assert not is_valid_video([hit] * (k - 1) + [miss] * (n - k + 1))
    assert not is_valid_video([hit] * (k - 1) + [weak] * (n - k + 1))  # weak boxes do not count
    assert not is_valid_video([])


def test_valid_video_counts_scores_strictly_above_the_threshold():
    """The official is_video_valid_det counts a frame when a box scores > 0.3 (masking fills >= 0.3)."""
    at, above = boxes([0, 0, 5, 5, 0.3]), boxes([0, 0, 5, 5, 0.30001], [1, 1, 4, 4, 0.3])
    assert not is_valid_video([at] * 10)
    assert is_valid_video([above] * 10)
    frames = np.full((1, 8, 8, 3), 9, np.uint8)
    frames[0, 0, 0] = 255
    assert not np.array_equal(mask_humans(frames, [at]), frames)  # yet a box at 0.3 is masked


def test_actor_coverage_counts_actor_pixels_inside_kept_boxes():
    masks = np.zeros((3, 10, 10), bool)
    masks[0, 2:6, 2:6] = True  # 16 actor pixels, box covers the left half
    masks[1, 0:4, 0:2] = True  # 8 pixels; its only box lies left of the frame
    # frame 2 shows no actor: not scored
    per_frame = [boxes([2, 0, 4, 10, 0.9], [4, 0, 10, 10, 0.1]), boxes([-6, 0, -1, 4, 0.9]), boxes([0, 0, 5, 5, 1])]
    covered, total, ious = actor_coverage(per_frame, masks, threshold=0.3)
    assert (covered, total) == (8, 24)
    assert ious == pytest.approx([8 / 28, 0.0])  # kept box [2,0,4,10] vs truth box [2,2,6,6]: 8 / (20 + 16 - 8)


# ---------------------------------------------------------------------------------------------------------
# Motion backend on static-camera footage


def background(rng, h=96, w=128) -> np.ndarray:
    """A textured static scene: smooth colour gradients, a tiled floor and some bright blocks."""
    yy, xx = np.mgrid[:h, :w].astype(float)
    bg = np.stack([90 + 40 * np.sin(xx / 9), 120 + 30 * np.cos(yy / 7), 70 + 25 * np.sin((xx + yy) / 11)], -1)
    bg[60:] += np.where(((yy[60:] // 8 + xx[60:] // 8) % 2)[..., None] == 1, 25, -15)
    for _ in range(6):
        y, x = rng.integers(0, h - 10), rng.integers(0, w - 10)
        bg[y : y + 10, x : x + 10] = rng.integers(40, 170, 3)
    return bg


def person_mask(h, w, x, y) -> np.ndarray:
    """A 10x30 body with a round head (radius 4) above it, top-left of the body at (x, y)."""
    mask = np.zeros((h, w), bool)
    mask[y : y + 30, x : x + 10] = True
    yy, xx = np.mgrid[:h, :w]
    mask |= (yy - (y - 4)) ** 2 + (xx - (x + 5)) ** 2 <= 16
    return mask


def camera(frame: np.ndarray, rng) -> np.ndarray:
    """Sensor noise and JPEG compression, as frames come out of a frame pack."""
    noisy = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=90)
    return np.asarray(Image.open(buffer).convert("RGB"))


def walking_video(seed: int = 0, n: int = 12, with_person: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bg = background(rng)
    h, w = bg.shape[:2]
    frames, masks = [], []
    for t in range(n):
        mask = person_mask(h, w, 8 + t * 9, 45) if with_person else np.zeros((h, w), bool)
        frame = bg.copy()
        frame[mask] = (30, 30, 160)  # dark blue clothes
        frames.append(camera(frame, rng))
        masks.append(mask)
    return np.stack(frames), np.stack(masks)


def inside(box: np.ndarray, mask: np.ndarray) -> float:
    x1, y1, x2, y2 = box[:4].astype(int)
    return mask[y1:y2, x1:x2].sum() / mask.sum()


def test_motion_finds_one_walking_person_per_frame():
    frames, masks = walking_video()
    found = motion_boxes(frames, MotionSettings())
    assert len(found) == len(frames)
    for t, (frame_boxes, mask) in enumerate(zip(found, masks, strict=True)):
        assert frame_boxes.shape == (1, 5) and frame_boxes.dtype == np.float32, (t, frame_boxes)
        box = frame_boxes[0]
        assert inside(box, mask) >= 0.8, (t, box)
        ys, xs = np.nonzero(mask)
        blob_area = (np.ptp(xs) + 1) * (np.ptp(ys) + 1)
        # Not the whole frame (32x the blob): dilation, padding and JPEG ringing in the blob's 16x16 chroma blocks
        # make boxes 2-4x the blob's own box on these frames.
        assert (box[2] - box[0]) * (box[3] - box[1]) <= 5 * blob_area, (t, box)
        assert 0.3 <= box[4] <= 1.0  # passes the paper's masking threshold
    assert is_valid_video(found)


def test_motion_finds_nobody_in_an_empty_scene():
    frames, _ = walking_video(with_person=False)
    found = motion_boxes(frames, MotionSettings())
    assert [len(b) for b in found] == [0] * len(frames)
    assert not is_valid_video(found)


def test_motion_on_a_single_frame_finds_nothing():
    frames, _ = walking_video(n=1)
    assert [b.shape for b in motion_boxes(frames, MotionSettings())] == [(0, 5)]


def test_shard_boxes_with_motion_and_stride(tmp_path):
    frames, masks = walking_video(seed=1)
    jpegs = []
    for i, frame in enumerate(frames):
        jpegs.append(tmp_path / f"{i:06d}.jpg")
        Image.fromarray(frame).save(jpegs[-1], quality=95)
    write_pack(jpegs, tmp_path / "packs" / "walk.zip")
    index = pd.DataFrame(
        [
            {"video_id": "walk", "status": "ok", "n_frames": 12, "pack": "walk.zip", "w": 128, "h": 96},
            {"video_id": "bad", "status": "failed", "n_frames": 0, "pack": "", "w": 0, "h": 0},
        ]
    )
    (video,) = shard_boxes(index, tmp_path / "packs", BOX_BACKENDS["motion"].build({}, {}), stride=3)
    assert video.video_id == "walk" and video.size == (128, 96) and len(video.frames) == 12
    assert np.flatnonzero(~video.carried).tolist() == [0, 3, 6, 9, 11]
    for t in (0, 3, 6, 9, 11):
        assert len(video.frames[t]) == 1 and inside(video.frames[t][0], masks[t]) >= 0.8, t
    assert np.array_equal(video.frames[1], video.frames[0]) and np.array_equal(
        video.frames[10], video.frames[9]
    )  # tie: earlier


def panning_video(n: int = 12) -> np.ndarray:
    """A moving camera: a window sliding 5 px per frame over a wide static scene, nobody in it."""
    rng = np.random.default_rng(3)
    wide = np.concatenate([background(rng), background(rng)], axis=1)
    return np.stack([camera(wide[:, 5 * t : 5 * t + 128], rng) for t in range(n)])


def test_whole_frame_motion_boxes_count_as_no_detection(tmp_path):
    """On a moving camera everything moves: the motion box covers the frame and would mask the scene. Boxes above
    humans.motion.max_area of the frame are dropped, counted per frame and in quality.json."""
    from scenebias.humans.stage import box_quality

    pan, (walk, _) = panning_video(), walking_video(seed=2)
    raw = motion_boxes(pan, MotionSettings())
    assert all(len(b) == 1 and (b[0, 2] - b[0, 0]) * (b[0, 3] - b[0, 1]) > 0.95 * 128 * 96 for b in raw)
    rows = []
    for name, frames in (("pan", pan), ("walk", walk)):
        jpegs = []
        for i, frame in enumerate(frames):
            jpegs.append(tmp_path / name / f"{i:06d}.jpg")
            jpegs[-1].parent.mkdir(exist_ok=True)
            Image.fromarray(frame).save(jpegs[-1], quality=95)
        write_pack(jpegs, tmp_path / "packs" / f"{name}.zip")
        rows.append({"video_id": name, "status": "ok", "n_frames": 12, "pack": f"{name}.zip", "w": 128, "h": 96})
    index = pd.DataFrame(rows)
    videos = {v.video_id: v for v in shard_boxes(index, tmp_path / "packs", BOX_BACKENDS["motion"].build({}, {}), 2)}
    assert all(len(b) == 0 for b in videos["pan"].frames) and not is_valid_video(videos["pan"].frames)
    assert videos["pan"].dropped.tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1]  # processed frames (stride 2)
    assert videos["walk"].dropped.sum() == 0 and is_valid_video(videos["walk"].frames)
    save_boxes(tmp_path / "boxes.npz", list(videos.values()))
    assert load_boxes(tmp_path / "boxes.npz")["pan"].dropped.tolist() == videos["pan"].dropped.tolist()
    quality = box_quality(tmp_path / "boxes.npz", 0.3, 0.7)
    assert quality["large_boxes_dropped"] == {"boxes": 7, "frames": 7, "videos": 1}
    assert quality["valid_videos"] == 1
    # the threshold is a setting: at 1.0 nothing is dropped and the panning video would count as valid
    (kept, _) = shard_boxes(index, tmp_path / "packs", BOX_BACKENDS["motion"].build({"max_area": 1.0}, {}), 2)
    assert kept.dropped.sum() == 0 and is_valid_video(kept.frames)


# ---------------------------------------------------------------------------------------------------------
# torchvision detector (random weights: shapes, loading and the person filter, not accuracy)


@pytest.fixture(scope="module")
def faster_rcnn():
    torch.manual_seed(0)
    return build_torchvision_detector("fasterrcnn_resnet50_fpn", None, short_side=64, min_score=0.0)


def test_torchvision_detector_runs_on_frames(faster_rcnn):
    frames = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    found = torchvision_detect(faster_rcnn, "cpu", half=False, batch_size=2)(frames)
    assert len(found) == 2
    for frame_boxes in found:
        assert isinstance(frame_boxes, np.ndarray) and frame_boxes.dtype == np.float32
        assert frame_boxes.ndim == 2 and frame_boxes.shape[1] == 5
        assert (frame_boxes[:, [0, 2]] <= 64).all() and (frame_boxes[:, [1, 3]] <= 48).all()
        assert (frame_boxes[:, :4] >= 0).all() and ((frame_boxes[:, 4] >= 0) & (frame_boxes[:, 4] <= 1)).all()


@pytest.mark.parametrize("favoured_class, persons", [(1, True), (2, False)], ids=["person", "bicycle"])
def test_torchvision_detector_keeps_only_persons(favoured_class, persons):
    """Biasing the classifier towards one COCO class: only the person class (1) may come back."""
    torch.manual_seed(0)
    model = build_torchvision_detector("fasterrcnn_resnet50_fpn", None, short_side=64, min_score=0.5)
    cls_score = model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        cls_score.weight.zero_()
        cls_score.bias.zero_()
        cls_score.bias[favoured_class] = 12.0
    frames = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    found = torchvision_detect(model, "cpu", half=False, batch_size=1)(frames)  # two batches
    assert len(found) == 2
    for frame_boxes in found:
        if persons:
            assert len(frame_boxes) > 0 and (frame_boxes[:, 4] > 0.99).all()
        else:
            assert frame_boxes.shape == (0, 5)


def test_torchvision_weights_round_trip(faster_rcnn, tmp_path):
    path = tmp_path / "fasterrcnn.pth"
    torch.save(faster_rcnn.state_dict(), path)
    model = build_torchvision_detector("fasterrcnn_resnet50_fpn", str(path), short_side=64, min_score=0.0)
    key = "roi_heads.box_predictor.cls_score.weight"
    assert torch.equal(model.state_dict()[key], faster_rcnn.state_dict()[key])


def test_torchvision_weights_with_wrong_keys_are_refused(faster_rcnn, tmp_path):
    state = {"backbone.body.conv1.weight": faster_rcnn.state_dict()["backbone.body.conv1.weight"]}
    state["roi_heads.box_predictor.cls_logits.weight"] = torch.zeros(91, 1024)
    path = tmp_path / "wrong.pth"
    torch.save({"model": state}, path)  # detectron-style wrapper is unwrapped first
    with pytest.raises(ValueError) as info:
        build_torchvision_detector("fasterrcnn_resnet50_fpn", str(path), short_side=64, min_score=0.0)
    message = str(info.value)
    assert str(path) in message and "fasterrcnn_resnet50_fpn" in message
    assert "unexpected keys ['roi_heads.box_predictor.cls_logits.weight']" in message
    assert "missing keys ['backbone.body.bn1.weight'" in message


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: p.write_text("<html>Forbidden</html>"), "cannot be read as a PyTorch state dict"),
        (lambda p: torch.save([1, 2], p), "not a state dict (got list)"),
    ],
    ids=["html", "list"],
)
def test_torchvision_weights_that_are_not_a_state_dict_are_refused(tmp_path, write, message):
    path = tmp_path / "w.pth"
    write(path)
    with pytest.raises(ValueError) as info:
        build_torchvision_detector("maskrcnn_resnet50_fpn", str(path), short_side=64, min_score=0.0)
    assert str(path) in str(info.value) and message in str(info.value)


def test_unknown_torchvision_model_is_refused():
    with pytest.raises(ValueError, match="unknown torchvision detector 'yolo'"):
        build_torchvision_detector("yolo", None, short_side=64, min_score=0.0)


# Detectron2: the real library in its own env is tested in tests/test_detectron2.py


# ---------------------------------------------------------------------------------------------------------
# Oracle (synthetic ground truth)


def test_oracle_rescales_actor_boxes(tmp_path):
    rows = [
        ("v1", 2, 0, 0, 0, 0, 0),  # no actor in this frame
        ("v1", 0, 10, 20, 30, 60, 500),
        ("v1", 1, 12, 20, 32, 61, 510),
        ("v2", 0, 0, 0, 64, 64, 4096),
    ]
    path = tmp_path / "actor_boxes.csv"
    pd.DataFrame(rows, columns=["video_id", "frame", "x1", "y1", "x2", "y2", "actor_pixels"]).to_csv(path, index=False)
    oracle = oracle_boxes(path)
    found = oracle("v1", 64, 32, np.array([0, 1, 2]))
    assert np.allclose(found[0], [[5, 10, 15, 30, 1.0]]) and np.allclose(found[1], [[6, 10, 16, 30.5, 1.0]])
    assert found[2].shape == (0, 5)
    assert np.allclose(oracle("v2", 64, 32, np.array([0]))[0], [[0, 0, 32, 32, 1.0]])
    assert all(b.dtype == np.float32 for b in found)


def scene_video(paint, seed: int = 0, n: int = 16) -> np.ndarray:
    """A static-camera clip: `paint(frame, t)` draws what is in the scene at frame t on the textured background."""
    rng = np.random.default_rng(seed)
    bg = background(rng)
    frames = []
    for t in range(n):
        frame = bg.copy()
        paint(frame, t)
        frames.append(camera(frame, rng))
    return np.stack(frames)


def motion_failure_modes() -> dict[str, dict]:
    """What the motion backend makes of three static-camera clips that a person detector would get right: a person
    standing still, a swaying bush (no person), two people walking side by side 4 px apart."""
    h, w = 96, 128

    def still(frame, t):
        frame[person_mask(h, w, 60, 45)] = (30, 30, 160)

    def bush(frame, t):  # leaves swaying in the wind: blobs moving back and forth by up to 5 px
        yy, xx = np.mgrid[:h, :w]
        for i, (cy, cx) in enumerate([(30, 90), (40, 100), (25, 105), (45, 88), (35, 112)]):
            dx = 5 * np.sin(t * 0.9 + i)
            frame[(yy - cy) ** 2 + (xx - cx - dx) ** 2 <= 36] = (40, 140 + 10 * i, 40)

    def neighbours(frame, t):
        frame[person_mask(h, w, 8 + t * 5, 45)] = (30, 30, 160)
        frame[person_mask(h, w, 22 + t * 5, 45)] = (160, 40, 30)  # 4 px right of the first body

    found = {}
    for name, paint in {"still actor": still, "swaying bush": bush, "two walkers": neighbours}.items():
        boxes = motion_boxes(scene_video(paint), MotionSettings())
        found[name] = {
            "frames_with_box": float(np.mean([len(b) > 0 for b in boxes])),
            "valid": is_valid_video(boxes),
            "one_box_for_both": float(np.mean([len(b) == 1 and b[0, 2] - b[0, 0] >= 24 for b in boxes])),
        }
    return found


def test_motion_failure_modes_are_measured_and_stated():
    """The failure modes the motion backend's registry record states (and the run summary, report and contact sheet
    repeat): a still person gets no box, a moving non-human gets boxes and passes the valid-video rule, and two
    people close together get one box covering both."""
    from scenebias.humans.stage import BOX_BACKENDS

    found = motion_failure_modes()
    assert found["still actor"]["frames_with_box"] == 0 and not found["still actor"]["valid"]
    assert found["swaying bush"]["frames_with_box"] >= 0.9 and found["swaying bush"]["valid"]
    assert found["two walkers"]["one_box_for_both"] >= 0.9
    record = BOX_BACKENDS["motion"]
    assert record.boxes_are.startswith("motion regions") and "not person detections" in record.boxes_are
    for words in ("does not move", "moves", "merge", "detector backend"):
        assert words in record.caveat, words
    assert all(not r.caveat for name, r in BOX_BACKENDS.items() if name != "motion")
