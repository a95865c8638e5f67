"""The human-box stage: run the configured backend over the frame packs of one shard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

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
from scenebias.coverage import Coverage
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
from scenebias.paths import world_file
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
# per processed frame the number of boxes the backend dropped, or None), optionally with a third item, a dict noted
# for the video (scenebias.coverage); or Uncovered(reason) for a video it has nothing for.
BoxFinder = Callable[[object, np.ndarray, Callable[[], np.ndarray]], tuple | Uncovered]


@dataclass(frozen=True, kw_only=True)
class BoxBackend(BackendRecord):
    """A human-box backend (config humans.backend): `build(settings, files)` -> a BoxFinder, where `settings` is
    the backend's config section (humans.<name>, {} when the schema has none) and `files` the job's named file
    inputs (`files`, scenebias.backends; optional ones may be absent). The job always reads the shard's frames."""

    build: Callable[[dict, dict[str, Path]], BoxFinder]


def _motion(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans.motion import MotionSettings, motion_boxes  # scipy: imported when used, not when planning

    motion = MotionSettings(**settings)

    def find(row, idx, frames):  # boxes covering (almost) the whole frame mask the scene, not a person: dropped
        return drop_large_boxes(motion_boxes(frames(), motion), (int(row.w), int(row.h)), motion.max_area)

    return find


def _weights(files: dict[str, Path]) -> str | None:
    return str(files["weights"]) if files.get("weights") is not None else None


def _torchvision(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans import detectors

    model = detectors.build_torchvision_detector(
        settings["model"], _weights(files), settings["short_side"], settings["min_score"]
    )
    detect = detectors.torchvision_detect(model, settings["device"], settings["half"], settings["batch_size"])
    return lambda row, idx, frames: (detect(frames()), None)


def _detectron2(settings: dict, files: dict[str, Path]) -> BoxFinder:
    from scenebias.humans import detectors

    detector = detectors.build_detectron2_detector(
        settings["config"], _weights(files), settings["short_side"], settings["min_score"]
    )
    detect = detectors.detectron2_detect(detector, settings["device"], settings["batch_size"])
    return lambda row, idx, frames: (detect(frames()), None)


def _oracle(settings: dict, files: dict[str, Path]) -> BoxFinder:
    if files.get("oracle") is None:
        raise ValueError("the oracle backend needs a synthetic dataset's actor_boxes.csv (--oracle)")
    boxes = oracle_boxes(files["oracle"])
    return lambda row, idx, frames: (boxes(row.video_id, int(row.src_w), int(row.w), idx), None)


def _released(settings: dict, files: dict[str, Path]) -> BoxFinder:
    return released.build_finder(settings, files)


DETECTOR_WEIGHTS = "detector weights file"

# The registry (config humans.backend; the schema's enum lists the same names, tests/test_structure.py checks).
BOX_BACKENDS: dict[str, BoxBackend] = {
    "motion": BoxBackend(build=_motion),
    "torchvision": BoxBackend(
        build=_torchvision,
        files={"weights": Weights("torchvision_{model}.pth", DETECTOR_WEIGHTS)},
        uses_network=True,
    ),
    # detectron2 without weights loads its model zoo's (its own download, on a machine with internet).
    "detectron2": BoxBackend(
        build=_detectron2, files={"weights": Weights(None, DETECTOR_WEIGHTS)}, uses_network=True, env="detectron2"
    ),
    "oracle": BoxBackend(
        build=_oracle, files={"oracle": WorldFile("actor_boxes", "actor_boxes.csv of a synthetic dataset")}
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
) -> list[VideoBoxes]:
    """Boxes for every frame of every extracted video in a shard's frame index (processed frames every
    `stride`, carried to the frames between), with the boxes the backend dropped counted per frame
    (VideoBoxes.dropped; the motion backend drops boxes over `max_area` of the frame). A video the backend does not
    cover goes to `delegate` (name, finder) when given, else it is left out and appended to `left_out` as (video id,
    reason)."""
    out, left_out = [], left_out if left_out is not None else []
    for row in tqdm(list(ok_videos(index).itertuples()), desc=f"boxes {name}".strip(), unit="video", mininterval=2):
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
        note.update(*extra)
        out.append(VideoBoxes(row.video_id, per_frame, size, carried, dropped, source, note))
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


def box_quality(boxes_npz: Path, threshold: float, valid_ratio: float, truth_dir: Path | None = None) -> dict:
    """Valid-video count (the paper's 70 % rule) and, for the synthetic world, actor-pixel recall and box IoU."""
    from scenebias.synth.truth import load_actor_masks

    videos = load_boxes(boxes_npz)
    valid = {vid: is_valid_video(v.frames, threshold, valid_ratio) for vid, v in videos.items()}
    left_out = load_coverage(boxes_npz)[1].left_out
    coverage = Coverage([v.source for v in videos.values()], [v.note for v in videos.values()], left_out)
    report = {
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
        masks = load_actor_masks(world_file(truth_dir, "actor_masks"))
        truth = pd.read_csv(world_file(truth_dir, "truth")).set_index("video_id")
        covered = total = 0
        ious: list[float] = []
        noactor_valid = []
        for vid, v in videos.items():
            if not truth.loc[vid, "has_actor"]:
                noactor_valid.append(valid[vid])
                continue
            if truth.loc[vid, "actor_masked"]:
                continue  # the actor was painted over in the video itself: nothing to detect
            c, t, i = actor_coverage(v.frames, downscale_masks(masks[vid], v.size), threshold)
            covered, total, ious = covered + c, total + t, ious + i
        report["actor_pixel_recall"] = covered / total if total else None
        report["mean_box_iou"] = float(np.mean(ious)) if ious else None
        report["frames_scored"] = len(ious)
        report["no_actor_videos_valid"] = float(np.mean(noactor_valid)) if noactor_valid else None
    return report
