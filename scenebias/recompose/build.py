"""Building a dataset's recomposed test sets (scenebias.recompose names them) from its test videos and person masks.

Which videos: the test role of each split the run evaluates; a video qualifies when its actor covers, on average
over its frames, between `coverage` [0] and [1] of the frame (HAT's 5-50 % rule for action swap, applied to every
set so that all sets show the same videos); up to `max_videos` per split are drawn, spread over classes, with `seed`.
Action-swap partners B and SCUBA backgrounds come from the chosen videos of the same split (test videos the
split's model never trained on), of another class.

What it writes (paths in scenebias.paths): one frame pack per set and video under sets/<set>/packs/, an index in
the frame index's format (shard = sets/<set>), so that scenebias.data.load_videos and EvalClips read a set like any
split role, a manifest whose split<k> column names the set for the videos of split k, videos.csv (per chosen video:
coverage, background method, camera motion, B and its label, the SCUBA background's source) and record.json.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from scenebias.framepack import read_frames, write_pack
from scenebias.humans.boxes import box_mask, load_boxes
from scenebias.humans.masks import load_masks
from scenebias.paths import shard_pack
from scenebias.recompose import SETS, TRUTH_SETS
from scenebias.recompose.compose import (
    actor_free_frame,
    actor_only,
    coverage,
    dilate,
    encode_jpeg,
    paste_actor,
    remove_actor,
)
from scenebias.sheets import stratified_sample

log = logging.getLogger(__name__)

SETS_FOLDER = "sets"  # under the dataset's recomposed folder: sets/<set>/packs/<pack>
TEST_ROLE = "test"


@dataclass(frozen=True)
class RecomposeSettings:
    """The `recompose` config section; the defaults are the schema's (tests/test_structure.py checks)."""

    max_videos: int = 300  # per split and dataset; 0 = no recomposed sets
    coverage: tuple[float, float] = (0.05, 0.5)
    dilate_px: int = 0
    still_threshold: float = 10.0
    median_frames: int = 32
    jpeg_quality: int = 95
    seed: int = 0


@dataclass
class Source:
    """Where the person masks come from: the backend's masks files, or (backends without masks) its boxes."""

    masks: list[Path]
    boxes: Path | None = None
    threshold: float = 0.3

    @property
    def kind(self) -> str:
        return "person masks" if self.masks else "boxes (the backend gives no masks)"

    def load(self, video_ids: list[str], sizes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
        if self.masks:
            return load_masks(self.masks, video_ids)
        out = {}
        for vid, video in load_boxes(self.boxes, video_ids).items():
            w, h = sizes[vid]
            out[vid] = np.stack([box_mask(b, self.threshold, h, w) for b in video.frames]).reshape(-1, h, w)
        return out


def candidates(manifest: pd.DataFrame, index: pd.DataFrame, splits: list[int]) -> pd.DataFrame:
    """The extracted test videos of the splits, one row per (video, split)."""
    ok = index[index["status"] == "ok"].set_index("video_id")
    rows = []
    for split in splits:
        column = f"split{split}"
        if column not in manifest.columns:
            raise ValueError(
                f"the manifest has no {column}; its splits: {sorted(c for c in manifest if c.startswith('split'))}"
            )
        test = manifest[(manifest[column] == TEST_ROLE) & manifest["video_id"].isin(ok.index)]
        rows.append(test[["video_id", "label", "label_name"]].assign(split=split))
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["video_id", "label", "label_name", "split"])
    )
    return table.join(ok[["shard", "pack", "n_frames", "fps", "w", "h"]], on="video_id")


def choose(table: pd.DataFrame, cover: dict[str, float], settings: RecomposeSettings) -> tuple[pd.DataFrame, dict]:
    """Up to settings.max_videos qualifying videos per split, spread over classes; and the counts left out."""
    lo, hi = settings.coverage
    table = table.assign(coverage=table["video_id"].map(cover))
    counts = {
        "test_videos": int(len(table)),
        "no_person": int((table["coverage"] == 0).sum()),
        "below_coverage": int(((table["coverage"] > 0) & (table["coverage"] < lo)).sum()),
        "above_coverage": int((table["coverage"] > hi).sum()),
    }
    good = table[(table["coverage"] >= lo) & (table["coverage"] <= hi)]
    picked = []
    for split, group in good.groupby("split", sort=True):
        group = group.sort_values("video_id").reset_index(drop=True)
        rows = stratified_sample(group["label_name"].tolist(), settings.max_videos, settings.seed + int(split))
        picked.append(group.iloc[sorted(rows)])
    chosen = pd.concat(picked, ignore_index=True) if picked else good.iloc[:0]
    chosen = chosen.drop_duplicates("video_id").reset_index(drop=True)  # a video is recomposed once
    counts["qualifying"] = int(good["video_id"].nunique())
    counts["chosen"] = int(len(chosen))
    return chosen, counts


def partners(chosen: pd.DataFrame, seed: int) -> pd.Series:
    """For each chosen video, B: a chosen video of the same split and another class (seeded); '' if none."""
    rng = np.random.default_rng([seed, 1])
    out = {}
    for _, group in chosen.groupby("split", sort=True):
        for row in group.itertuples():
            others = group[group["label"] != row.label]["video_id"].tolist()
            out[row.video_id] = others[int(rng.integers(len(others)))] if others else ""
    return chosen["video_id"].map(out)


class PackWriter:
    """Writes each set's packs, keeping the index rows and counting frames."""

    def __init__(self, out_dir: Path, quality: int, chroma: int):
        self.out_dir, self.quality, self.chroma = out_dir, quality, chroma
        self.rows: list[dict] = []
        self.frames = 0

    def write(self, set_name: str, row, frames: np.ndarray) -> None:
        shard = f"{SETS_FOLDER}/{set_name}"
        write_pack(
            [encode_jpeg(f, self.quality, self.chroma) for f in frames], self.out_dir / shard / "packs" / row.pack
        )
        self.frames += len(frames)
        h, w = frames.shape[1:3]
        self.rows.append({"video_id": f"{set_name}/{row.video_id}", "status": "ok", "n_frames": len(frames),
                          "fps": row.fps, "w": w, "h": h, "pack": row.pack, "shard": shard, "set": set_name,
                          "source_video": row.video_id, "split": int(row.split)})  # fmt: skip


def read_video(index_csv: Path, shard: str, pack: str) -> np.ndarray:
    return read_frames(shard_pack(index_csv, shard, pack))


def build_sets(
    manifest_csv: Path,
    index_csv: Path,
    splits: list[int],
    source: Source,
    settings: RecomposeSettings,
    out_dir: Path,
    chroma: int = 420,
    truth_masks: dict[str, np.ndarray] | None = None,
    truth: pd.DataFrame | None = None,
) -> dict:
    """Write the recomposed sets of a dataset's test videos under out_dir; return the record (record.json)."""
    started = time.perf_counter()
    manifest = pd.read_csv(manifest_csv, keep_default_na=False, dtype={"shard": str})
    index = pd.read_csv(index_csv, keep_default_na=False, dtype={"shard": str})
    table = candidates(manifest, index, splits)
    sizes = {r.video_id: (int(r.w), int(r.h)) for r in table.itertuples()}
    raw = source.load(sorted(sizes), sizes)
    missing = sorted(set(sizes) - set(raw))
    if missing:
        raise ValueError(f"{len(missing)} test videos have no person masks (e.g. {missing[:3]}): rerun the boxes stage")
    chosen, counts = choose(table, {v: coverage(m) for v, m in raw.items()}, settings)
    chosen["partner"] = partners(chosen, settings.seed)
    rng = np.random.default_rng([settings.seed, 2])
    writer = PackWriter(out_dir, settings.jpeg_quality, chroma)
    masks = {v: dilate(raw[v], settings.dilate_px) for v in chosen["video_id"]}
    info: dict[str, dict] = {}
    stills: dict[str, tuple[np.ndarray, str]] = {}  # video -> (SCUBA background, its kind)
    total, pixels = np.zeros(3), 0
    for row in tqdm(list(chosen.itertuples()), desc="recompose: original, background", unit="video", mininterval=2):
        frames = read_video(index_csv, row.shard, row.pack)
        background = remove_actor(frames, masks[row.video_id], settings.still_threshold, settings.median_frames)
        writer.write("original", row, frames)
        writer.write("background_only", row, background.frames)
        total, pixels = (
            total + frames.reshape(-1, 3).sum(0),
            pixels + frames.shape[0] * frames.shape[1] * frames.shape[2],
        )
        free = actor_free_frame(frames, raw[row.video_id])
        if free is not None:
            stills[row.video_id] = (free, "actor-free frame")
        elif background.still is not None:
            stills[row.video_id] = (background.still, "median background")
        info[row.video_id] = {"background": background.method, "camera_motion": round(background.motion, 3),
                              "unseen_actor_share": round(background.unseen, 4)}  # fmt: skip
    mean = total / max(pixels, 1)
    by_id = chosen.set_index("video_id")
    for row in tqdm(list(chosen.itertuples()), desc="recompose: actor, swap, SCUBA", unit="video", mininterval=2):
        frames, mask = read_video(index_csv, row.shard, row.pack), masks[row.video_id]
        writer.write("actor_only", row, actor_only(frames, mask, mean))
        entry = info[row.video_id]
        if row.partner:
            b = by_id.loc[row.partner]
            b_background = read_frames(out_dir / SETS_FOLDER / "background_only" / "packs" / b["pack"])
            writer.write("action_swap", row, paste_actor(frames, mask, b_background))
            entry.update(
                {"partner": row.partner, "partner_label": int(b["label"]), "partner_label_name": b["label_name"]}
            )
            if truth_masks is not None:
                true_a = dilate(truth_masks[row.video_id], settings.dilate_px)
                b_frames = read_video(index_csv, b["shard"], b["pack"])
                true_b = dilate(truth_masks[row.partner], settings.dilate_px)
                b_true_background = remove_actor(b_frames, true_b, settings.still_threshold, settings.median_frames)
                writer.write("action_swap_true", row, paste_actor(frames, true_a, b_true_background.frames))
        pool = [
            v
            for v in chosen[(chosen["split"] == row.split) & (chosen["label"] != row.label)]["video_id"]
            if v in stills
        ]
        if pool:
            pick = pool[int(rng.integers(len(pool)))]
            image, kind = stills[pick]
            writer.write("scuba", row, paste_actor(frames, mask, image))
            entry.update({"scuba_background": pick, "scuba_kind": kind})
    videos = chosen.drop(columns=["shard", "fps", "w", "h"]).assign(**{
        k: [info[v].get(k, "") for v in chosen["video_id"]]
        for k in ("background", "camera_motion", "unseen_actor_share", "partner_label", "partner_label_name",
                  "scuba_background", "scuba_kind")
    })  # fmt: skip
    if truth is not None:
        scene = truth.set_index("video_id")["scene"]
        videos["scene"] = videos["video_id"].map(scene)
        videos["partner_scene"] = videos["partner"].map(lambda v: scene.get(v, -1) if v else -1)
    seconds = time.perf_counter() - started
    index_rows = pd.DataFrame(writer.rows)
    names = [
        s for s in (*SETS, *(TRUTH_SETS if truth_masks is not None else ())) if s in set(index_rows.get("set", []))
    ]
    record = {
        "splits": splits,
        "settings": asdict(settings),
        "masks": source.kind,
        "mask_threshold": source.threshold,
        "counts": counts,
        "sets": {s: int((index_rows["set"] == s).sum()) for s in names} if len(index_rows) else {},
        "dataset_mean_rgb": [round(float(c), 3) for c in mean],
        "background_methods": videos["background"].value_counts().to_dict() if len(videos) else {},
        "scuba_backgrounds": videos["scuba_kind"].value_counts().to_dict() if len(videos) else {},
        "frames_written": writer.frames,
        "seconds": round(seconds, 2),
        "frames_per_second": round(writer.frames / seconds, 1) if seconds > 0 else None,
    }
    return {
        "record": record,
        "index": index_rows,
        "videos": videos,
        "manifest": recomposed_manifest(index_rows, chosen, splits),
    }


def recomposed_manifest(index_rows: pd.DataFrame, chosen: pd.DataFrame, splits: list[int]) -> pd.DataFrame:
    """The manifest of the recomposed videos: A's label, and in split<k> the set's name for the videos of split k."""
    if not len(index_rows):
        return pd.DataFrame(
            columns=["video_id", "path", "label", "label_name", *[f"split{k}" for k in splits], "shard"]
        )
    labels = chosen.set_index("video_id")
    out = pd.DataFrame({
        "video_id": index_rows["video_id"],
        "path": "",
        "label": index_rows["source_video"].map(labels["label"]).astype(int),
        "label_name": index_rows["source_video"].map(labels["label_name"]),
    })  # fmt: skip
    for k in splits:
        out[f"split{k}"] = np.where(index_rows["split"] == k, index_rows["set"], "")
    out["shard"] = index_rows["shard"]
    out["set"] = index_rows["set"]
    out["source_video"] = index_rows["source_video"]
    return out


def write_outputs(result: dict, index_csv: Path, manifest_csv: Path, videos_csv: Path, record_json: Path) -> None:
    for table, path in (
        (result["index"], index_csv),
        (result["manifest"], manifest_csv),
        (result["videos"], videos_csv),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    record_json.write_text(json.dumps(result["record"], indent=1, default=str) + "\n")
