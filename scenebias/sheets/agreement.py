"""Contact sheets of where two backends disagree most (scenebias.agreement): for boxes, one row per frame, the
frame with the reference's boxes beside the same frame with the other's; for scene labels, one row per video, its
middle frame under both backends' top-1 classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scenebias.framepack import read_frames
from scenebias.humans.boxes import VideoBoxes
from scenebias.sheets import SheetSettings, ok_frames, scene_name, sheet_header
from scenebias.sheets.canvas import (
    TEXT,
    draw_boxes,
    fit_tile,
    new_sheet,
    paste,
    put_segments,
)


def boxes_agreement_sheet(
    dataset: str,
    index_csv: Path,
    chosen: dict[str, VideoBoxes],
    other: dict[str, VideoBoxes],
    worst: list[dict],
    names: tuple[str, str],
    settings: SheetSettings,
    threshold: float,
) -> tuple[np.ndarray, dict]:
    """Rows: the frames of `worst` (scenebias.agreement.worst_frames); columns: reference's boxes, other's boxes."""
    index = ok_frames(index_csv)
    header = [
        f"{dataset}: human boxes where {names[0]} (left) and {names[1]} (right) disagree most, "
        f"{len(worst)} frames, one per video",
        f"green: score >= {threshold:g} (compared; a match is IoU >= 0.5), orange: below",
    ]
    strips = [
        [(f"{f['video_id'][:48]}  frame {f['frame']}: {f['reference']} vs {f['other']} boxes, {f['matched']} "
          f"matched (F1 {f['f1']:.2f})", TEXT)]
        for f in worst
    ]  # fmt: skip
    sizes = [(index.loc[f["video_id"], "w"], index.loc[f["video_id"], "h"]) for f in worst]
    grid, sheet = new_sheet(header, strips, 2, sizes, settings.tile, group=2)
    for r, frame in enumerate(worst):
        image = read_frames(index.loc[frame["video_id"], "pack_path"], [frame["frame"]])[0]
        for c, boxes in enumerate((chosen, other)):
            tile, sx, sy, ox, oy = fit_tile(image, grid.tile)
            draw_boxes(tile, boxes[frame["video_id"]].frames[frame["frame"]], threshold, sx, sy, ox, oy)
            paste(sheet, grid, r, c, tile)
        put_segments(sheet, grid.strip(r), strips[r])
    return sheet, {**sheet_header(dataset, "boxes_agreement", grid, settings), "names": list(names), "rows": worst}


def scenes_agreement_sheet(
    dataset: str,
    index_csv: Path,
    worst: list[dict],
    class_names: list[str] | None,
    names: tuple[str, str],
    settings: SheetSettings,
) -> tuple[np.ndarray, dict]:
    """Rows: the videos of `worst` (highest KL first), each its middle frame under both top-1 labels."""
    index = ok_frames(index_csv)

    def label(k: int) -> str:
        return scene_name(str(class_names[k])) if class_names is not None else f"class {k}"

    header = [
        f"{dataset}: scene labels where {names[0]} and {names[1]} disagree most (highest KL), {len(worst)} videos",
        "each: the middle frame; top-1 class and its probability under each",
    ]
    strips = [
        [(f"{v['video_id'][:40]}  {names[0]}: {label(v['reference_top1'])} ({v['reference_prob']:.2f})  "
          f"{names[1]}: {label(v['other_top1'])} ({v['other_prob']:.2f})  KL {v['kl']:.2f}", TEXT)]
        for v in worst
    ]  # fmt: skip
    sizes = [(index.loc[v["video_id"], "w"], index.loc[v["video_id"], "h"]) for v in worst]
    grid, sheet = new_sheet(header, strips, 1, sizes, settings.tile)
    for r, video in enumerate(worst):
        entry = index.loc[video["video_id"]]
        frame = read_frames(entry["pack_path"], [int(entry["n_frames"]) // 2])[0]
        paste(sheet, grid, r, 0, fit_tile(frame, grid.tile)[0])
        put_segments(sheet, grid.strip(r), strips[r])
    rows = [{**v, "reference_name": label(v["reference_top1"]), "other_name": label(v["other_top1"])} for v in worst]
    return sheet, {**sheet_header(dataset, "scenes_agreement", grid, settings), "names": list(names), "rows": rows}
