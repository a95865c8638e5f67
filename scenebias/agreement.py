"""How close two backends of a section came on the same videos (`humans.agreement`, `scene.agreement`): typically
the authors' released files (the chosen backend, the reference) against our own preprocessing.

Boxes, on the frames of every video both have (the chosen backend's own videos: not those it handed to a
delegate), counting boxes with score >= humans.score_threshold (those the mask fills):
- recall: the share of the reference's boxes that a box of the other matches at IoU >= 0.5 (one-to-one, greedy by
  IoU), and precision: the share of the other's boxes that match one of the reference's; both over all boxes, and
  as the mean over frames that have boxes on that side;
- verdicts: the share of videos on whose validity under the paper's rule (score > threshold on >= valid_ratio of
  the frames) the two agree, with the counts of each combination.

Scene labels, on every video both label: top-1 agreement (argmax of the soft labels), the agreement of the
reference's hard label (`top1`: the release's majority vote) with the other's argmax, and the mean KL divergence
KL(reference || other) of the soft labels (natural log; both renormalised, floored at 1e-8).
"""

from __future__ import annotations

import numpy as np

from scenebias.humans.boxes import VideoBoxes, box_iou, is_valid_video

IOU = 0.5
KL_FLOOR = 1e-8


def kept(boxes: np.ndarray, threshold: float) -> np.ndarray:
    return boxes[boxes[:, 4] >= threshold] if len(boxes) else boxes


def matches(reference: np.ndarray, other: np.ndarray, iou: float = IOU) -> int:
    """One-to-one matches at IoU >= iou, greedily by decreasing IoU."""
    pairs = sorted(((box_iou(a, b), i, j) for i, a in enumerate(reference) for j, b in enumerate(other)), reverse=True)
    used_a, used_b, n = set(), set(), 0
    for value, i, j in pairs:
        if value < iou:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            n += 1
    return n


def compared_videos(chosen: dict[str, VideoBoxes], other: dict, chosen_name: str) -> list[str]:
    """Videos both have, whose chosen-backend entry is its own (not a delegate's)."""
    return sorted(v for v, boxes in chosen.items() if v in other and boxes.source in (chosen_name, ""))


def box_agreement(
    chosen: dict[str, VideoBoxes],
    other: dict[str, VideoBoxes],
    names: tuple[str, str],
    threshold: float,
    valid_ratio: float,
) -> tuple[dict, list[dict]]:
    """The boxes' agreement report, and every compared frame with its numbers (for the contact sheet)."""
    videos = compared_videos(chosen, other, names[0])
    totals = {"reference_boxes": 0, "other_boxes": 0, "matched": 0}
    frame_recall, frame_precision, frames, verdicts = [], [], [], {}
    skipped = []
    for vid in videos:
        a, b = chosen[vid].frames, other[vid].frames
        if len(a) != len(b):
            skipped.append(vid)  # not the same frames (another extraction): nothing to compare frame by frame
            continue
        for t, (fa, fb) in enumerate(zip(a, b, strict=True)):
            ka, kb = kept(fa, threshold), kept(fb, threshold)
            m = matches(ka, kb)
            totals["reference_boxes"] += len(ka)
            totals["other_boxes"] += len(kb)
            totals["matched"] += m
            if len(ka):
                frame_recall.append(m / len(ka))
            if len(kb):
                frame_precision.append(m / len(kb))
            f1 = 2 * m / (len(ka) + len(kb)) if len(ka) + len(kb) else 1.0
            frames.append({"video_id": vid, "frame": t, "reference": len(ka), "other": len(kb), "matched": m,
                           "f1": f1})  # fmt: skip
        pair = (is_valid_video(a, threshold, valid_ratio), is_valid_video(b, threshold, valid_ratio))
        verdicts[vid] = pair
    n = len(verdicts)
    report = {
        "reference": names[0],
        "other": names[1],
        "iou": IOU,
        "score_threshold": threshold,
        "valid_ratio": valid_ratio,
        "videos": n,
        "videos_not_compared": {"frame_count_differs": skipped},
        "frames": len(frames),
        **totals,
        "recall": totals["matched"] / totals["reference_boxes"] if totals["reference_boxes"] else None,
        "precision": totals["matched"] / totals["other_boxes"] if totals["other_boxes"] else None,
        "mean_frame_recall": float(np.mean(frame_recall)) if frame_recall else None,
        "mean_frame_precision": float(np.mean(frame_precision)) if frame_precision else None,
        "verdicts_agree": sum(a == b for a, b in verdicts.values()) / n if n else None,
        "verdicts": {
            "both_valid": sum(a and b for a, b in verdicts.values()),
            "reference_only": sum(a and not b for a, b in verdicts.values()),
            "other_only": sum(b and not a for a, b in verdicts.values()),
            "neither": sum(not a and not b for a, b in verdicts.values()),
        },
    }
    return report, frames


def worst_frames(frames: list[dict], n: int) -> list[dict]:
    """The n frames where the two disagree most (lowest F1 of the matching, most unmatched boxes first), at most
    one per video."""
    order = sorted(frames, key=lambda f: (f["f1"], -(f["reference"] + f["other"] - 2 * f["matched"]), f["video_id"]))
    chosen, seen = [], set()
    for frame in order:
        if frame["f1"] >= 1.0 or frame["video_id"] in seen:
            continue
        chosen.append(frame)
        seen.add(frame["video_id"])
        if len(chosen) == n:
            break
    return chosen


def _distributions(soft: np.ndarray) -> np.ndarray:
    p = np.maximum(np.asarray(soft, np.float64), KL_FLOOR)
    return p / p.sum(1, keepdims=True)


def label_agreement(chosen: dict, other: dict, names: tuple[str, str]) -> tuple[dict, list[dict]]:
    """The scene labels' agreement report (chosen and other: load_labels dicts), and per compared video its
    numbers (for the contact sheet)."""
    index_b = {v: i for i, v in enumerate(other["video_ids"].tolist())}
    sources = chosen.get("sources")
    rows_a, rows_b = [], []
    for i, vid in enumerate(chosen["video_ids"].tolist()):
        own = sources is None or str(sources[i]) in (names[0], "")
        if own and vid in index_b:
            rows_a.append(i)
            rows_b.append(index_b[vid])
    n = len(rows_a)
    report = {"reference": names[0], "other": names[1], "videos": n}
    if not n:
        return {**report, "top1_agreement": None, "hard_agreement": None, "mean_kl": None}, []
    p, q = _distributions(chosen["soft"][rows_a]), _distributions(other["soft"][rows_b])
    kl = (p * np.log(p / q)).sum(1)
    top_a, top_b = p.argmax(1), q.argmax(1)
    hard_a = np.asarray(chosen["top1"])[rows_a]
    report.update(
        top1_agreement=float((top_a == top_b).mean()),
        hard_agreement=float((hard_a == top_b).mean()),
        mean_kl=float(kl.mean()),
        median_kl=float(np.median(kl)),
    )
    videos = [
        {"video_id": str(chosen["video_ids"][i]), "kl": float(k), "reference_top1": int(ta),
         "reference_prob": float(p[j, ta]), "other_top1": int(tb), "other_prob": float(q[j, tb])}
        for j, (i, k, ta, tb) in enumerate(zip(rows_a, kl, top_a, top_b, strict=True))
    ]  # fmt: skip
    return report, videos


def agreement_markdown(reports: list[tuple[dict, dict]], sheets: dict[tuple[str, str], str]) -> str:
    """The report's agreement tables: (run {section, ds, ...}, agreement JSON) pairs; sheets: (section, ds) -> link."""

    def pct(value) -> str:
        return "–" if value is None else f"{100 * value:.1f}"

    parts = []
    boxes = [(run, r) for run, r in reports if run["section"] == "humans"]
    if boxes:
        rows = ["| dataset | reference | other | videos | frames | recall (%) | precision (%) | mean frame recall / "
                "precision (%) | validity verdicts agree (%) | sheet |", "|---" * 10 + "|"]  # fmt: skip
        for run, r in boxes:
            link = sheets.get(("humans", run["ds"]))
            rows.append(
                f"| {run['ds']} | {r['reference']} | {r['other']} | {r['videos']} | {r['frames']} | {pct(r['recall'])} "
                f"| {pct(r['precision'])} | {pct(r['mean_frame_recall'])} / {pct(r['mean_frame_precision'])} "
                f"| {pct(r['verdicts_agree'])} | {f'[frames]({link})' if link else '–'} |"
            )
        parts.append("Human boxes (score ≥ threshold; a match is IoU ≥ 0.5, one to one):\n\n" + "\n".join(rows))
    scenes = [(run, r) for run, r in reports if run["section"] == "scene"]
    if scenes:
        rows = ["| dataset | reference | other | videos | top-1 agree (%) | reference hard label = other top-1 (%) "
                "| mean KL(reference ‖ other) | sheet |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for run, r in scenes:
            link = sheets.get(("scene", run["ds"]))
            kl = "–" if r["mean_kl"] is None else f"{r['mean_kl']:.3f}"
            rows.append(
                f"| {run['ds']} | {r['reference']} | {r['other']} | {r['videos']} | {pct(r['top1_agreement'])} "
                f"| {pct(r['hard_agreement'])} | {kl} | {f'[videos]({link})' if link else '–'} |"
            )
        parts.append("Scene labels (soft labels; KL in nats):\n\n" + "\n".join(rows))
    return "\n\n".join(parts)
