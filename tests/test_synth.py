from collections import Counter

import numpy as np
import pandas as pd
import pytest

from scenebias.framepack import read_frames
from scenebias.frames import extract_video
from scenebias.synth.actions import SOURCE_ACTIONS, poses
from scenebias.synth.render import actor_box, fill_box_with_mean, make_scenes
from scenebias.synth.world import load_actor_masks, plan_dataset, render_video, render_world


def test_plan_is_deterministic_and_balanced(tiny_world):
    a = plan_dataset("source", tiny_world)
    b = plan_dataset("source", tiny_world)
    assert a == b
    train = [s for s in a if s.set == "train"]
    assert Counter(s.label for s in train) == {k: 2 for k in range(8)}
    assert len({s.video_id for s in a}) == len(a)


def test_source_sets_follow_their_definitions():
    world = {
        **_defaults(),
        "p_bias": 0.9,
        "source": {"train": 2000, "test": 80, "test_conflict": 80, "test_masked": 16, "test_noactor": 16},
    }
    specs = plan_dataset("source", world)
    by_set = {name: [s for s in specs if s.set == name] for name in {s.set for s in specs}}
    home_rate = np.mean([s.scene == s.home_scene for s in by_set["train"]])
    # p_bias = 0.9 of home draws, plus 1/8 of the uniform 10 %: 0.9125 expected.
    assert 0.89 < home_rate < 0.935
    assert all(s.scene != s.home_scene and s.bias_conflict for s in by_set["test_conflict"])
    assert all(s.scene == s.home_scene and s.actor_masked for s in by_set["test_masked"])
    assert all(not s.has_actor and s.scene == s.label for s in by_set["test_noactor"])
    assert all(s.scene < 8 for s in specs)


def test_other_datasets_unchanged_when_one_size_changes(tiny_world):
    bigger = {**tiny_world, "targets": {"fine": {**tiny_world["targets"]["fine"], "train": 12}}}
    assert plan_dataset("source", tiny_world) == plan_dataset("source", bigger)
    assert plan_dataset("fine", tiny_world) != plan_dataset("fine", bigger)


def test_targets_use_their_one_scene(tiny_world):
    specs = plan_dataset("fine", tiny_world)
    assert {s.scene for s in specs} == {8}
    assert len({s.label_name for s in specs}) == 6


def test_time_reversed_pairs_share_their_single_frames():
    """The pair members differ only in the order of their frames: the frame sets match (squat vs stand)."""
    down = poses(SOURCE_ACTIONS[4], 8, 64, 1.0, 0.0, 0.0, 32, 35, 1.3)
    up = poses(SOURCE_ACTIONS[5], 8, 64, 1.0, 0.0, 0.0, 32, 35, 1.3)
    bends_down = sorted(round(p.left_knee, 6) for p in down)
    bends_up = sorted(round(p.left_knee, 6) for p in up)
    # progress runs 0 -> 0.8 for squat_down and 1 -> 0.2 for stand_up: ranges overlap on [0.2, 0.8] of 70 deg
    assert max(bends_down) > min(bends_up)
    assert down[-1].hip_y > down[0].hip_y  # squatting lowers the hip (y grows downwards)
    assert up[-1].hip_y < up[0].hip_y


def test_render_masks_boxes_and_masking(tiny_world):
    scenes = make_scenes(0, tiny_world["n_scenes"], tiny_world["size"], tiny_world["margin"])
    specs = plan_dataset("source", tiny_world)
    clip, masks = render_video(specs[0], scenes[specs[0].scene], tiny_world)
    assert clip.shape == (8, 64, 64, 3) and clip.dtype == np.uint8
    assert masks.any(axis=(1, 2)).all()
    noactor = next(s for s in specs if not s.has_actor)
    _, empty = render_video(noactor, scenes[noactor.scene], tiny_world)
    assert not empty.any()
    masked = next(s for s in specs if s.actor_masked)
    frames, m = render_video(masked, scenes[masked.scene], tiny_world)
    x1, y1, x2, y2 = actor_box(m[0])
    inside = frames[0, y1:y2, x1:x2].reshape(-1, 3)
    assert (inside == inside[0]).all()  # the box is one flat colour: the actor is gone


def test_fill_box_with_mean_uses_the_frame_mean():
    frame = np.zeros((4, 4, 3), np.float32)
    frame[0, 0] = 16.0
    out = fill_box_with_mean(frame, (2, 2, 4, 4))
    assert np.allclose(out[2:, 2:], 1.0) and out[0, 0, 0] == 16.0


def test_render_world_is_byte_identical_and_decodes(tmp_path, tiny_world):
    first = render_world(tiny_world, tmp_path / "a", ["fine"])
    render_world(tiny_world, tmp_path / "b", ["fine"])
    root_a, root_b = tmp_path / "a" / "fine", tmp_path / "b" / "fine"
    lists = sorted(p.name for p in (root_a / "lists").iterdir())
    assert lists == ["classInd.txt", "testlist01.txt", "trainlist01.txt"]
    for name in lists:
        assert (root_a / "lists" / name).read_bytes() == (root_b / "lists" / name).read_bytes()
    videos = sorted((root_a / "videos").rglob("*.mp4"))
    assert len(videos) == len(first["fine"]) == 12
    for video in videos:
        twin = root_b / video.relative_to(root_a)
        assert video.read_bytes() == twin.read_bytes()
    # Each file decodes on its own to exactly n_frames frames of the rendered size.
    record = extract_video("v", videos[0], tmp_path / "v.zip", short_side=64, jpeg_qscale=2)
    assert record.status == "ok" and record.n_frames == 8 and (record.w, record.h) == (64, 64)
    truth = pd.read_csv(root_a / "ground_truth.csv")
    assert set(truth.columns) >= {"video_id", "label", "scene", "bias_conflict", "has_actor", "actor_masked"}
    masks = load_actor_masks(root_a / "actor_masks.npz")
    assert masks[truth.video_id[0]].shape == (8, 64, 64)
    boxes = pd.read_csv(root_a / "actor_boxes.csv")
    assert len(boxes) == 12 * 8


def test_encoded_frames_match_the_rendered_pixels(tmp_path, tiny_world):
    """The video carries the rendered clip faithfully enough that a thin limb survives (high quality)."""
    render_world(tiny_world, tmp_path, ["fine"])
    spec = plan_dataset("fine", tiny_world)[0]
    scenes = make_scenes(0, tiny_world["n_scenes"], tiny_world["size"], tiny_world["margin"])
    rendered, masks = render_video(spec, scenes[spec.scene], tiny_world)
    video = tmp_path / "fine" / "videos" / spec.label_name / f"{spec.video_id}.mp4"
    extract_video(spec.video_id, video, tmp_path / "p.zip", short_side=64, jpeg_qscale=1)
    decoded = read_frames(tmp_path / "p.zip").astype(float)
    assert decoded.shape == rendered.shape
    # Compare luma: 4:2:0 chroma subsampling alone blurs colour edges of the textured scenes by design.
    luma = np.array([0.299, 0.587, 0.114])
    error = np.abs(decoded @ luma - rendered.astype(float) @ luma)
    assert error.mean() < 4
    assert error[masks].mean() < 8  # thin limbs survive the encoder


def _defaults() -> dict:
    from scenebias.config import validate_config

    return validate_config({})["world"]


def test_walk_speed_and_windmill_turns_are_world_settings():
    """world.walk_speed is the hip's travel per frame (px at 64 px, speed 1); world.circle_turns the windmill's
    turns per clip."""
    walk = poses(SOURCE_ACTIONS[1], 8, 64, 1.0, 0.0, 0.0, 32, 35, 1.3, walk_speed=4.1)
    assert np.diff([p.hip_x for p in walk]) == pytest.approx([4.1] * 7)
    slow = poses(SOURCE_ACTIONS[0], 8, 128, 0.5, 0.0, 0.0, 64, 70, 1.3, walk_speed=4.1)
    assert np.diff([p.hip_x for p in slow]) == pytest.approx([-4.1] * 7)  # left, half speed, twice the pixels
    circle = poses(SOURCE_ACTIONS[2], 9, 64, 1.0, 0.0, 0.0, 32, 35, 1.3, circle_turns=0.9)
    assert abs(circle[-1].left_arm - circle[0].left_arm) == pytest.approx(0.9 * 2 * np.pi * 8 / 9)


@pytest.mark.parametrize("chroma, pix_fmt", [(420, "yuv420p"), (444, "yuv444p")])
def test_world_videos_take_the_chroma_setting(tmp_path, tiny_world, chroma, pix_fmt):
    import subprocess

    from scenebias.media import ffmpeg_exe

    render_world({**tiny_world, "chroma": chroma}, tmp_path, ["fine"])
    video = next((tmp_path / "fine" / "videos").rglob("*.mp4"))
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video)], capture_output=True, text=True)
    assert f"h264 (High{' 4:4:4 Predictive' if chroma == 444 else ''})" in probe.stderr
    assert pix_fmt in probe.stderr
