"""Contact sheets of a dataset's recomposed test sets: what each set showed the models, beside the original frame.

One PNG per recomposed set (the re-encoded originals, the control, get none): `videos` of the set's videos sampled
with `seed`, stratified by class, `frames` evenly spaced frames each, every frame beside its recomposed version.
The row's strip names the video and its class and what the set did to it: the background method (temporal median
or frame mean) and the camera motion that decided it, the action-swap partner B with its class, the SCUBA
background's source. A JSON beside each PNG lists the rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.framepack import read_frames
from scenebias.paths import shard_pack
from scenebias.recompose import SET_TITLES
from scenebias.scene import sample_indices
from scenebias.sheets import SheetSettings, ok_frames, sheet_header, stratified_sample, write_sheet
from scenebias.sheets.canvas import (
    TEXT,
    empty_tile,
    fit_tile,
    new_sheet,
    paste,
    put_segments,
)

SHOWN = ("actor_only", "background_only", "action_swap", "scuba", "action_swap_true")
WHAT = {
    "actor_only": "every pixel outside the person masks set to the dataset's mean colour",
    "background_only": "the person filled from the temporal-median background (still camera) or the frame mean",
    "action_swap": "this video's person over video B's background-only frames (B of another class)",
    "scuba": "this video's person over a still background of another video of another class",
    "action_swap_true": "the action swap from the world's true actor masks (same pairs)",
}


def describe(set_name: str, row: pd.Series) -> str:
    """What the set did to one video, for its strip."""
    if set_name == "background_only":
        return f"background: {row['background']} (camera motion {float(row['camera_motion']):.1f})"
    if set_name in ("action_swap", "action_swap_true"):
        return f"B: {str(row['partner'])[:40]} ({row['partner_label_name']})"
    if set_name == "scuba":
        return f"background: {row['scuba_kind']} of {str(row['scuba_background'])[:40]}"
    return ""


def set_sheet(dataset: str, set_name: str, frames_csv: Path, index: pd.DataFrame, videos: pd.DataFrame,
              recomposed_csv: Path, settings: SheetSettings) -> tuple[np.ndarray, dict]:  # fmt: skip
    """The sheet of one set and the record of what it shows."""
    original = ok_frames(frames_csv)
    members = index[index["set"] == set_name].set_index("source_video")
    pool = videos[videos["video_id"].isin(members.index)].sort_values("video_id").reset_index(drop=True)
    picked = stratified_sample(pool["label_name"].tolist(), settings.videos, settings.seed)
    chosen = pool.iloc[sorted(picked, key=lambda i: (pool["label_name"][i], pool["video_id"][i]))]
    header = [
        f"{dataset}: {SET_TITLES[set_name]}, {len(chosen)} of {len(pool)} videos (stratified by class, seed "
        f"{settings.seed})",
        f"each frame beside its recomposed version: {WHAT[set_name]}",
    ]
    rows, strips = [], []
    for _, row in chosen.iterrows():
        entry = members.loc[row["video_id"]]
        indices = sample_indices(int(entry["n_frames"]), settings.frames)
        rows.append({"video_id": row["video_id"], "label_name": row["label_name"], "frames": indices,
                     "what": describe(set_name, row)})  # fmt: skip
        strips.append([(f"{str(row['video_id'])[:48]}  {row['label_name']}  {rows[-1]['what']}", TEXT)])
    sizes = [(int(original.loc[r["video_id"], "w"]), int(original.loc[r["video_id"], "h"])) for r in rows]
    grid, sheet = new_sheet(header, strips, 2 * settings.frames, sizes, settings.tile, group=2)
    for r, row in enumerate(rows):
        before = read_frames(original.loc[row["video_id"], "pack_path"], row["frames"])
        entry = members.loc[row["video_id"]]
        after = read_frames(shard_pack(recomposed_csv, entry["shard"], entry["pack"]), row["frames"])
        for c, (a, b) in enumerate(zip(before, after, strict=True)):
            paste(sheet, grid, r, 2 * c, fit_tile(a, grid.tile)[0])
            paste(sheet, grid, r, 2 * c + 1, fit_tile(b, grid.tile)[0])
        for c in range(2 * len(before), grid.cols):
            paste(sheet, grid, r, c, empty_tile(grid))
        put_segments(sheet, grid.strip(r), strips[r])
    record = {**sheet_header(dataset, set_name, grid, settings), "videos_total": len(pool), "rows": rows}
    return sheet, record


def recomposed_sheets(dataset: str, frames_csv: Path, recomposed_csv: Path, videos_csv: Path,
                      settings: SheetSettings, out_dir: Path) -> list[str]:  # fmt: skip
    """Write <set>_sheet.png and .json for every recomposed set with videos into out_dir; return the sets."""
    index = pd.read_csv(recomposed_csv, keep_default_na=False, dtype={"shard": str})
    videos = pd.read_csv(videos_csv, keep_default_na=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for set_name in SHOWN:
        if not len(index) or not (index["set"] == set_name).any():
            continue
        sheet, record = set_sheet(dataset, set_name, frames_csv, index, videos, recomposed_csv, settings)
        write_sheet(sheet, record, out_dir / f"{set_name}_sheet.png", out_dir / f"{set_name}_sheet.json")
        written.append(set_name)
    return written
