"""The human-box stage: run the configured backend over the frame packs of one shard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from scenebias.backends import (
    BackendRecord,
    Preparation,
    Prepared,
    SettingFiles,
    StageOutput,
    Uncovered,
    Weights,
    WorldFile,
)
from scenebias.coverage import summary as coverage_summary
from scenebias.framepack import read_frames
from scenebias.humans.boxes import (
    VideoBoxes,
    actor_coverage,
    carry_to_all_frames,
    drop_large_boxes,
    empty_boxes,
    is_valid_video,
    load_boxes,
    load_coverage,
    processed_frames,
)
from scenebias.humans.masks import load_masks, mask_iou, union_of_instances
from scenebias.paths import world_file
from scenebias.progress import track
from scenebias.released import detections as released

log = logging.getLogger(__name__)


def ok_videos(index: pd.DataFrame) -> pd.DataFrame:
    """Rows of a frame index whose extraction succeeded (failed videos are left out, as everywhere)."""
    return index[index["status"] == "ok"]


def oracle_boxes(actor_boxes_csv: Path) -> Callable[[str, int, int, np.ndarray], list[np.ndarray]]:
    """Ground-truth actor boxes of the synthetic world, rescaled from the rendered size to the frame size."""
    table = pd.read_csv(actor_boxes_csv)
    by_video = {vid: g.sort_values("frame") for vid, g in table.groupby("video_id")}

    def boxes(video_id: str, src_w: int, w: int, frame_idx: np.ndarray) -> list[np.ndarray]:
        rows = by_video[video_id].set_index("frame")
        scale = w / src_w
        out = []
        for f in frame_idx:
            x1, y1, x2, y2 = (rows.loc[f, ["x1", "y1", "x2", "y2"]].to_numpy(float) * scale).tolist()
            out.append(np.array([[x1, y1, x2, y2, 1.0]], np.float32) if x2 > x1 else empty_boxes())
        return out

    return boxes


# A box finder answers, for one video: its frame-index row, the processed frame indices, and a function that
# reads those frames (called only by backends that look at pixels) -> (per processed frame an (M, 5) box array,
# per processed frame the number of boxes the backend dropped, or None), optionally followed by a dict noted for
# the video (scenebias.coverage) and, from a backend whose record gives masks, per processed frame the (M, H, W)
# bool person masks aligned with its boxes; or Uncovered(reason) for a video it has nothing for.
BoxFinder = Callable[[object, np.ndarray, Callable[[], np.ndarray]], tuple | Uncovered]


def no_masks(settings: dict) -> bool:
    return False


def always(settings: dict) -> bool:
    return True


@dataclass(frozen=True, kw_only=True)
class BoxBackend(BackendRecord):
    """A human-box backend (config humans.backend): `build(settings, files)` -> a BoxFinder, where `settings` is
    the backend's config section (humans.<name>, {} when the schema has none) and `files` the job's named file
    inputs (`files`, scenebias.backends; optional ones may be absent). The job always reads the shard's frames.

    boxes_are: what its boxes are, in words; the run summary, the report, quality.json and the boxes contact sheet
        label the boxes and the valid-video verdicts with it.
    caveat: what a user must know before trusting them (its measured failure modes), shown with that label.
    masks(settings): whether, with these settings, the finder also gives person masks; the job then writes a
        masks file beside the boxes (scenebias.humans.masks), which the recomposed test sets use.
    """

    build: Callable[[dict, dict[str, Path]], BoxFinder]
    boxes_are: str = "person detections"
    caveat: str = ""
    masks: Callable[[dict], bool] = no_masks


def _motion(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans.motion import MotionSettings, motion_instances  # scipy: imported when used, not planning

    motion = MotionSettings(**settings)

    def find(row, idx, frames):  # boxes covering (almost) the whole frame mask the scene, not a person: dropped
        boxes, instances = motion_instances(frames(), motion)
        return drop_large_boxes(boxes, (int(row.w), int(row.h)), motion.max_area, instances)

    return find


def _weights(files: dict[str, Path]) -> str | None:
    return str(files["weights"]) if files.get("weights") is not None else None


def _torchvision(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans import detectors

    model = detectors.build_torchvision_detector(
        settings["model"], _weights(files), settings["short_side"], settings["min_score"]
    )
    with_masks = _torchvision_masks(settings)
    detect = detectors.torchvision_detect(
        model, settings["device"], settings["half"], settings["batch_size"], with_masks
    )
    return _finder(detect, with_masks)


def _finder(detect, with_masks: bool) -> BoxFinder:
    """A finder around a detector: (boxes, None), or with masks (boxes, None, masks)."""
    if not with_masks:
        return lambda row, idx, frames: (detect(frames()), None)

    def find(row, idx, frames):
        boxes, masks = detect(frames())
        return boxes, None, masks

    return find


def _torchvision_masks(settings: dict) -> bool:
    """Mask R-CNN gives person masks; Faster R-CNN only boxes."""
    return settings["model"].startswith("maskrcnn")


def _detectron2_masks(settings: dict) -> bool:
    """detectron2's instance-segmentation configs (Mask R-CNN) give masks; the box-only detection configs not."""
    return "InstanceSegmentation" in settings["config"] or "mask_rcnn" in settings["config"]


def _detectron2(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans import detectors

    detector = detectors.build_detectron2_detector(
        settings["config"], _weights(files), settings["short_side"], settings["min_score"]
    )
    with_masks = _detectron2_masks(settings)
    detect = detectors.detectron2_detect(detector, settings["device"], settings["batch_size"], with_masks)
    return _finder(detect, with_masks)


def _oracle(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.synth.truth import load_actor_masks

    if files.get("oracle") is None or files.get("oracle_masks") is None:
        raise ValueError("the oracle backend needs a synthetic dataset's actor_boxes.csv and actor_masks.npz "
                         "(--oracle, --oracle_masks)")  # fmt: skip
    boxes = oracle_boxes(files["oracle"])
    truth = load_actor_masks(files["oracle_masks"])

    def find(row, idx, frames):
        size = (int(row.w), int(row.h))
        found = boxes(row.video_id, int(row.src_w), int(row.w), idx)
        masks = downscale_masks(truth[row.video_id], size)[idx]
        return (
            found,
            None,
            [m[None] if len(b) else np.zeros((0, *m.shape), bool) for b, m in zip(found, masks, strict=True)],
        )

    return find


def _released(settings: dict, files: dict[str, Path]) -> BoxFinder:
    return released.build_finder(settings, files)


DETECTOR_WEIGHTS = "detector weights file"

# The registry (config humans.backend; the schema's enum lists the same names, tests/test_structure.py checks).
BOX_BACKENDS: dict[str, BoxBackend] = {
    "motion": BoxBackend(
        build=_motion,
        masks=always,
        boxes_are="motion regions (not person detections)",
        caveat=(
            "a box is wherever something moves against the static background: a person who does not move gets no "
            "box, anything else that moves (trees in the wind, vehicles, a panning camera) gets one and can make a "
            "video with no person valid, and people close together merge into one box with the ground between "
            "them; for real footage use a detector backend (humans.backend: torchvision or detectron2)"
        ),
    ),
    "torchvision": BoxBackend(
        build=_torchvision,
        files={"weights": Weights("torchvision_{model}.pth", DETECTOR_WEIGHTS)},
        uses_network=True,
        masks=_torchvision_masks,
    ),
    # detectron2 without weights loads its model zoo's (its own download, on a machine with internet).
    "detectron2": BoxBackend(
        build=_detectron2,
        files={"weights": Weights(None, DETECTOR_WEIGHTS)},
        uses_network=True,
        env="detectron2",
        masks=_detectron2_masks,
    ),
    "oracle": BoxBackend(
        build=_oracle,
        boxes_are="ground-truth actor boxes (synthetic world)",
        files={
            "oracle": WorldFile("actor_boxes", "actor_boxes.csv of a synthetic dataset"),
            "oracle_masks": WorldFile("actor_masks", "actor_masks.npz of a synthetic dataset"),
        },
        masks=always,
    ),
    # The authors' released Mini-Kinetics detections (scenebias.released), read once by the prepare step.
    "released": BoxBackend(
        build=_released,
        files={
            "manifest": StageOutput("manifest", "the dataset's manifest (classes)"),
            "release": Prepared("the released detections, prepared"),
        },
        prepare=Preparation(
            files={"detections": SettingFiles("detections", ("detection_*.npy",), "released detection .npy files")},
            run=released.import_detections,
        ),
        delegate_key="missing",
        dataset_kinds=("kinetics",),
    ),
}


def shard_boxes(
    index: pd.DataFrame,
    packs: Path,
    find: BoxFinder,
    stride: int,
    name: str = "",
    delegate: tuple[str, BoxFinder] | None = None,
    left_out: list[tuple[str, str]] | None = None,
    mask_threshold: float | None = None,
) -> list[VideoBoxes]:
    """Boxes for every frame of every extracted video in a shard's frame index (processed frames every
    `stride`, carried to the frames between), with the boxes the backend dropped counted per frame
    (VideoBoxes.dropped; the motion backend drops boxes over `max_area` of the frame). A video the backend does not
    cover goes to `delegate` (name, finder) when given, else it is left out and appended to `left_out` as (video id,
    reason). With `mask_threshold` the finder gives person masks too: each frame's mask (VideoBoxes.masks) is the
    union of its person instances scoring at least that, carried to skipped frames like the boxes."""
    out, left_out = [], left_out if left_out is not None else []
    for row in track(list(ok_videos(index).itertuples()), f"boxes {name}".strip(), unit="video"):
        n, size = int(row.n_frames), (int(row.w), int(row.h))
        idx = processed_frames(n, stride)
        frames = lambda row=row, idx=idx: read_frames(packs / row.pack, idx.tolist())  # noqa: E731
        source, result = name, find(row, idx, frames)
        note = {}
        if isinstance(result, Uncovered):
            if delegate is None:
                left_out.append((row.video_id, result.reason))
                continue
            note = {"delegated": result.reason}
            source, result = delegate[0], delegate[1](row, idx, frames)
        found, dropped_at, *extra = result
        dropped = np.zeros(n, np.int32)
        if dropped_at is not None:
            dropped[idx] = dropped_at
        per_frame, carried = carry_to_all_frames(n, idx, found)
        notes = [e for e in extra if isinstance(e, dict)]
        instances = [e for e in extra if not isinstance(e, dict)]
        for extra_note in notes:
            note.update(extra_note)
        video = VideoBoxes(row.video_id, per_frame, size, carried, dropped, source, note)
        if mask_threshold is not None:
            if not instances:
                raise ValueError(f"{source}: the box backend gave no person masks although its record says it does")
            unions = [union_of_instances(m, b[:, 4], mask_threshold, size) for b, m in zip(found, instances[0],
                                                                                           strict=True)]  # fmt: skip
            nearest = np.abs(np.arange(n)[:, None] - idx[None, :]).argmin(1)
            video.masks = np.stack([unions[j] for j in nearest]) if n else np.zeros((0, size[1], size[0]), bool)
        out.append(video)
    if left_out:
        log.warning("%d video(s) left out (no boxes), e.g. %s: %s", len(left_out), *left_out[0])
    return out


def downscale_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Ground-truth masks (T, H, W) resized to frame size (w, h) by area averaging, kept where >= half."""
    w, h = size
    if masks.shape[1:] == (h, w):
        return masks
    resized = [np.asarray(Image.fromarray(m.astype(np.float32)).resize((w, h), Image.BOX)) for m in masks]
    return np.stack(resized) >= 0.5


def boxes_label(backend: str | None) -> dict:
    """What a backend's boxes are (its record's words), for the records and texts that show them."""
    if backend not in BOX_BACKENDS:
        return {}
    record = BOX_BACKENDS[backend]
    return {"backend": backend, "are": record.boxes_are, "caveat": record.caveat}


def box_quality(
    boxes_npz: Path,
    threshold: float,
    valid_ratio: float,
    truth_dir: Path | None = None,
    backend: str | None = None,
    masks: list[Path] | None = None,
) -> dict:
    """Valid-video count (the paper's 70 % rule) and, for the synthetic world, actor-pixel recall and box IoU, and
    with the shards' person masks (`masks`) their mean per-frame IoU with the true actor masks; with the backend's
    name, what its boxes are (`boxes_label`)."""
    from scenebias.synth.truth import load_actor_masks

    videos = load_boxes(boxes_npz)
    valid = {vid: is_valid_video(v.frames, threshold, valid_ratio) for vid, v in videos.items()}
    coverage = load_coverage(boxes_npz)[1]
    report = {
        **({"boxes": boxes_label(backend)} if backend in BOX_BACKENDS else {}),
        "videos": len(videos),
        "valid_videos": int(sum(valid.values())),
        "valid_rule": {"score_threshold": threshold, "min_frame_ratio": valid_ratio},
        "frames_with_box": float(np.mean([bool(len(b)) for v in videos.values() for b in v.frames] or [0])),
        "large_boxes_dropped": {
            "boxes": int(sum(v.dropped.sum() for v in videos.values())),
            "frames": int(sum((v.dropped > 0).sum() for v in videos.values())),
            "videos": int(sum(bool(v.dropped.any()) for v in videos.values())),
        },
        "coverage": coverage_summary(list(videos), coverage),
    }
    if truth_dir is not None and world_file(truth_dir, "actor_masks").is_file():
        truth_masks = load_actor_masks(world_file(truth_dir, "actor_masks"))
        truth = pd.read_csv(world_file(truth_dir, "truth")).set_index("video_id")
        covered = total = 0
        ious: list[float] = []
        person = load_masks(masks) if masks else {}
        mask_ious: list[float] = []
        noactor_valid = []
        for vid, v in videos.items():
            if not truth.loc[vid, "has_actor"]:
                noactor_valid.append(valid[vid])
                continue
            if truth.loc[vid, "actor_masked"]:
                continue  # the actor was painted over in the video itself: nothing to detect
            true_masks = downscale_masks(truth_masks[vid], v.size)
            c, t, i = actor_coverage(v.frames, true_masks, threshold)
            covered, total, ious = covered + c, total + t, ious + i
            if vid in person:
                mask_ious += mask_iou(person[vid], true_masks)
        report["actor_pixel_recall"] = covered / total if total else None
        report["mean_box_iou"] = float(np.mean(ious)) if ious else None
        if masks:
            report["mean_mask_iou"] = float(np.mean(mask_ious)) if mask_ious else None
        report["frames_scored"] = len(ious)
        report["no_actor_videos_valid"] = float(np.mean(noactor_valid)) if noactor_valid else None
    return report
