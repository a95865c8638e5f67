"""The synthetic scene-biased action world (docs/design.md §6), rendered as real video files.

Each dataset is written in the layout of a real action dataset so that it goes through exactly the same stages:

    <root>/<dataset>/videos/<class>/<video_id>.mp4
    <root>/<dataset>/lists/classInd.txt          "1 walk_left"            (UCF101 style)
    <root>/<dataset>/lists/<set>list01.txt       "walk_left/<id>.mp4 1"   (train; others: path only)
    <root>/<dataset>/ground_truth.csv            one row per video: scene, bias conflict, actor flags, ...
    <root>/<dataset>/actor_boxes.csv             per-frame ground-truth actor box (rendered pixels)
    <root>/<dataset>/actor_masks.npz             per-frame actor masks, bit-packed along the width

Everything is drawn from `numpy.random.default_rng` streams keyed by (world seed, dataset, set, video), so the
same config gives byte-identical lists and videos, and changing one dataset's size leaves the others unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import pandas as pd

from scenebias.media import ffmpeg_exe
from scenebias.paths import world_file
from scenebias.progress import track
from scenebias.synth.actions import ACTIONS_BY_NAME, FINE_ACTIONS, SOURCE_ACTIONS, Action, poses
from scenebias.synth.naming import is_source_dataset
from scenebias.synth.render import (
    Scene,
    actor_box,
    figure_coverage,
    figure_segments,
    fill_box_with_mean,
    make_scenes,
)
from scenebias.synth.truth import load_actor_masks  # noqa: F401  (re-exported)

# H.264 pixel formats by chroma subsampling: 4:2:0 is what real footage has; 4:4:4 keeps the colour of a 4-px limb
# (4:2:0 halves the chroma resolution, which costs the thin coloured actor about half of the video round trip's
# loss of learnability; docs/design.md §6).
CHROMA_PIX_FMT = {420: "yuv420p", 444: "yuv444p"}

SOURCE_SETS = ("train", "test", "test_conflict", "test_masked", "test_noactor")
TARGET_SETS = ("train", "test")


@dataclass(frozen=True)
class ClassSpec:
    """One class of a dataset: an action and the speed range its actors move at."""

    name: str
    action: Action
    speed: tuple[float, float]


@dataclass
class VideoSpec:
    video_id: str
    set: str
    label: int  # 0-based class index
    label_name: str
    scene: int
    home_scene: int  # -1 where the dataset has no home scenes (targets)
    bias_conflict: bool
    has_actor: bool
    actor_masked: bool
    speed: float
    phase: float
    start: float
    hip_x: float
    hip_y: float
    scale: float
    colour: tuple[float, float, float]
    seed: int  # of the video's own rendering stream (background shift, noise)


def target_classes(kind: str, world: dict) -> list[ClassSpec]:
    """The classes of a target dataset, by the `actions` key of its config entry."""
    normal = tuple(world["speed"])
    if kind == "source":
        return [ClassSpec(a.name, a, normal) for a in SOURCE_ACTIONS]
    if kind == "fine":
        return [ClassSpec(a.name, a, normal) for a in FINE_ACTIONS]
    if kind == "speed":
        base = [ACTIONS_BY_NAME[n] for n in ("walk_left", "circle_cw", "squat_down")]
        return [
            ClassSpec(f"{a.name}_{pace}", a, tuple(world[f"speed_{pace}"])) for a in base for pace in ("slow", "fast")
        ]
    raise ValueError(f"unknown target action set {kind!r}; expected source, fine or speed")


def _stream(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent random stream per key path; strings are hashed stably (crc32), not with hash()."""
    ints = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng([seed, *ints])


def _balanced_labels(rng: np.random.Generator, n: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % n_classes)


def plan_dataset(name: str, world: dict) -> list[VideoSpec]:
    """Every video of one synthetic dataset, with all its random draws, before any pixel is drawn."""
    size = world["size"]
    n_source = len(SOURCE_ACTIONS)
    if is_source_dataset(name):
        classes = target_classes("source", world)
        sets = {s: world["source"][s] for s in SOURCE_SETS}
        fixed_scene = None
    else:
        target = world["targets"][name]
        classes = target_classes(target["actions"], world)
        sets = {s: target[s] for s in TARGET_SETS}
        fixed_scene = target["scene"]

    specs = []
    for set_name, n in sets.items():
        rng = _stream(world["seed"], name, set_name)
        labels = _balanced_labels(rng, n, len(classes))
        for i, label in enumerate(labels):
            label = int(label)
            home = label if fixed_scene is None else -1
            has_actor, masked = True, False
            if fixed_scene is not None:
                scene = fixed_scene
            elif set_name == "test_conflict":
                scene = int(rng.choice([s for s in range(n_source) if s != home]))
            elif set_name == "test_masked":
                scene, masked = home, True
            elif set_name == "test_noactor":
                # A bare background; its label is the home action of that scene, so "accuracy" here
                # measures how often the model answers with the scene's home action.
                scene, has_actor = label, False
            elif rng.uniform() < world["p_bias"]:
                scene = home
            else:
                scene = int(rng.integers(0, n_source))
            spec = classes[label]
            px = size / 64.0
            specs.append(
                VideoSpec(
                    video_id=f"{name}_{set_name}_{i:05d}",
                    set=set_name,
                    label=label,
                    label_name=spec.name,
                    scene=int(scene),
                    home_scene=home,
                    bias_conflict=bool(home >= 0 and scene != home),
                    has_actor=has_actor,
                    actor_masked=masked,
                    speed=float(rng.uniform(*spec.speed)),
                    phase=float(rng.uniform(0, 1)),
                    start=float(rng.uniform(0, 0.2)),
                    hip_x=float(size / 2 + rng.uniform(-1, 1) * world["hip_jitter"][0] * px),
                    hip_y=float(size * 0.55 + rng.uniform(-1, 1) * world["hip_jitter"][1] * px),
                    scale=float(rng.uniform(*world["scale"])),
                    colour=tuple(float(c) for c in rng.uniform(0, 1, size=3)),
                    seed=int(rng.integers(0, 2**31 - 1)),
                )
            )
    return specs


def render_video(spec: VideoSpec, scene: Scene, world: dict) -> tuple[np.ndarray, np.ndarray]:
    """The video's frames (T, H, W, 3) uint8 and the actor's ground-truth mask (T, H, W) bool."""
    size, n_frames = world["size"], world["n_frames"]
    rng = np.random.default_rng(spec.seed)
    background = scene.view(rng, size)
    frames = np.repeat(background[None], n_frames, axis=0)
    masks = np.zeros((n_frames, size, size), dtype=bool)
    if spec.has_actor:
        action = ACTIONS_BY_NAME[spec.label_name.removesuffix("_slow").removesuffix("_fast")]
        px = size / 64.0
        colour = np.asarray(spec.colour, np.float32)
        pose_list = poses(
            action, n_frames, size, spec.speed, spec.phase, spec.start, spec.hip_x, spec.hip_y, spec.scale,
            walk_speed=world["walk_speed"], circle_turns=world["circle_turns"],
        )  # fmt: skip
        drawn = [figure_segments(pose, spec.scale * px) for pose in pose_list]
        segments = np.stack([d[0] for d in drawn])
        heads = np.stack([d[1] for d in drawn])
        cover = figure_coverage(segments, heads, size, thickness=world["thickness"] * px)[..., None]
        frames = frames * (1 - cover) + colour * cover
        masks = cover[..., 0] > 0.5
    frames = frames + world["noise"] * rng.standard_normal(frames.shape, dtype=np.float32)
    frames = np.clip(frames, 0.0, 1.0)
    if spec.actor_masked:
        for t in range(n_frames):
            frames[t] = fill_box_with_mean(frames[t], _dilate(actor_box(masks[t]), 1, size))
    return np.round(frames * 255).astype(np.uint8), masks


def _dilate(box: tuple[int, int, int, int], pad: int, size: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    if x2 <= x1:
        return box
    return (max(0, x1 - pad), max(0, y1 - pad), min(size, x2 + pad), min(size, y2 + pad))


def encode_videos(clips: Iterator[np.ndarray], n_videos: int, out_dir: Path, world: dict) -> list[Path]:
    """H.264 mp4 files, one per clip, from one ffmpeg process (the segment muxer cuts at each clip start).

    One process per dataset instead of one per video keeps rendering the default world to seconds.
    Every clip starts on a forced key frame and has no B-frames, so each file decodes on its own.
    """
    n_frames, size = world["n_frames"], world["size"]
    out_dir.mkdir(parents=True, exist_ok=True)
    cuts = ",".join(str(n_frames * i) for i in range(1, n_videos)) or str(n_frames * 2)
    process = (
        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{size}x{size}", r=world["fps"])
        .output(
            str(out_dir / "%06d.mp4"),
            vcodec="libx264",
            preset="veryfast",
            crf=world["crf"],
            pix_fmt=CHROMA_PIX_FMT[world["chroma"]],
            g=n_frames,
            keyint_min=n_frames,
            sc_threshold=0,
            bf=0,
            force_key_frames=f"expr:eq(mod(n,{n_frames}),0)",
            threads=1,
            fflags="+bitexact",
            flags="+bitexact",
            map_metadata=-1,
            f="segment",
            segment_frames=cuts,
            reset_timestamps=1,
            segment_format="mp4",
        )
        .global_args("-hide_banner", "-loglevel", "error", "-nostdin")
        .run_async(pipe_stdin=True, pipe_stderr=True, cmd=ffmpeg_exe())
    )
    try:
        for clip in clips:
            process.stdin.write(np.ascontiguousarray(clip).tobytes())
    except BrokenPipeError:
        pass  # ffmpeg died; its stderr below says why
    finally:
        process.stdin.close()
    stderr = process.stderr.read().decode(errors="replace")
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed while encoding synthetic videos into {out_dir}:\n{stderr}")
    files = sorted(out_dir.glob("*.mp4"))
    if len(files) != n_videos:
        raise RuntimeError(f"expected {n_videos} video files in {out_dir}, ffmpeg wrote {len(files)}")
    return files


def write_dataset(name: str, world: dict, out_root: Path) -> pd.DataFrame:
    """Render, encode and describe one synthetic dataset under out_root/name; returns its ground truth."""
    specs = plan_dataset(name, world)
    scenes = make_scenes(world["seed"], world["n_scenes"], world["size"], world["margin"])
    root = out_root / name
    if root.exists():
        shutil.rmtree(root)
    staging = root / "_encoded"
    masks = np.zeros((len(specs), world["n_frames"], world["size"], world["size"]), dtype=bool)

    def clips():
        for i, spec in enumerate(track(specs, f"render {name}", unit="video")):
            frames, masks[i] = render_video(spec, scenes[spec.scene], world)
            yield frames

    encoded = encode_videos(clips(), len(specs), staging, world)
    for spec, path in zip(specs, encoded, strict=True):
        dest = world_file(root, "videos") / spec.label_name / f"{spec.video_id}.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)
    staging.rmdir()

    classes = _class_names(name, world)
    _write_lists(world_file(root, "lists"), specs, classes)
    truth = pd.DataFrame([{k: v for k, v in asdict(s).items() if k not in ("colour", "seed")} for s in specs])
    truth["n_frames"] = world["n_frames"]
    truth.to_csv(world_file(root, "truth"), index=False)
    _write_actor_truth(root, specs, masks)
    world_file(root, "classes").write_text(json.dumps(classes, indent=1) + "\n")
    return truth


def _class_names(name: str, world: dict) -> list[str]:
    kind = "source" if is_source_dataset(name) else world["targets"][name]["actions"]
    return [c.name for c in target_classes(kind, world)]


def _write_lists(list_dir: Path, specs: list[VideoSpec], classes: list[str]) -> None:
    """Split lists in UCF101's format: classInd.txt, and per set a list whose train entries carry labels."""
    list_dir.mkdir(parents=True, exist_ok=True)
    (list_dir / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    for set_name in dict.fromkeys(s.set for s in specs):
        lines = []
        for s in specs:
            if s.set != set_name:
                continue
            rel = f"{s.label_name}/{s.video_id}.mp4"
            lines.append(f"{rel} {s.label + 1}\n" if set_name == "train" else f"{rel}\n")
        (list_dir / f"{set_name}list01.txt").write_text("".join(lines))


def _write_actor_truth(root: Path, specs: list[VideoSpec], masks: np.ndarray) -> None:
    rows = []
    for spec, video_masks in zip(specs, masks, strict=True):
        for t, mask in enumerate(video_masks):
            x1, y1, x2, y2 = actor_box(mask)
            rows.append((spec.video_id, t, x1, y1, x2, y2, int(mask.sum())))
    pd.DataFrame(rows, columns=["video_id", "frame", "x1", "y1", "x2", "y2", "actor_pixels"]).to_csv(
        world_file(root, "actor_boxes"), index=False
    )
    np.savez_compressed(
        world_file(root, "actor_masks"),
        video_ids=np.array([s.video_id for s in specs]),
        masks=np.packbits(masks, axis=-1),
        width=np.array(masks.shape[-1]),
    )


def synthetic_datasets(world: dict) -> list[str]:
    return ["source", *world["targets"]]


def render_world(world: dict, out_root: Path, datasets: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Render the listed synthetic datasets (all by default) under out_root."""
    names = datasets or synthetic_datasets(world)
    out_root.mkdir(parents=True, exist_ok=True)
    return {name: write_dataset(name, world, out_root) for name in names}


def check_ffmpeg_can_encode() -> None:
    """Fail early, with the binary's path, when ffmpeg lacks the H.264 encoder the world needs."""
    exe = ffmpeg_exe()
    encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libx264" not in encoders:
        raise RuntimeError(
            f"{exe} has no libx264 encoder, which the synthetic world needs; install a full ffmpeg "
            "(the imageio-ffmpeg wheel ships one) or set $SCENEBIAS_FFMPEG to it"
        )
