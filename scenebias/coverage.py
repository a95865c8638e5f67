"""Where each video's boxes or scene label came from, and which videos got none: the per-video record that the
boxes and label files carry beside their data.

A backend may cover only some videos (the authors' released files cover Mini-Kinetics, and not every clip of it).
The stage then asks another backend for the rest (`<section>.<backend>.missing: <backend>`) or leaves them out
(`missing: skip`). Either way each video's origin is written down, in the same `.npz` as the data:

    sources           (N,)  str   the backend that gave video i its boxes / label
    notes             (N,)  str   JSON of what the backends say about video i ("" when nothing): a released file's
                                  frame count and how its frames were mapped onto ours; `delegated`: why the
                                  chosen backend handed the video to another
    left_out_ids      (M,)  str   videos that got nothing
    left_out_reasons  (M,)  str   why

Files without these arrays (written before they existed, or by backends that cover every video) read as "every
video from the file's backend, none left out". `summary` turns the record into the quality report's section and
the end-of-run summary's lines.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

COVERAGE_ARRAYS = ("sources", "notes", "left_out_ids", "left_out_reasons")


@dataclass
class Coverage:
    sources: list[str] = field(default_factory=list)  # one per video of the file, in its order
    notes: list[dict] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (video id, reason)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "sources": np.asarray(self.sources, dtype=str),
            "notes": np.asarray([json.dumps(n, sort_keys=True) if n else "" for n in self.notes], dtype=str),
            "left_out_ids": np.asarray([v for v, _ in self.left_out], dtype=str),
            "left_out_reasons": np.asarray([r for _, r in self.left_out], dtype=str),
        }

    @classmethod
    def from_npz(cls, data, n_videos: int) -> Coverage:
        """The record of an open .npz with n_videos videos (defaults for files without it)."""
        if "sources" not in data.files:
            return cls([""] * n_videos, [{}] * n_videos, [])
        notes = [json.loads(n) if n else {} for n in data["notes"].tolist()]
        left = list(zip(data["left_out_ids"].tolist(), data["left_out_reasons"].tolist(), strict=True))
        return cls(data["sources"].tolist(), notes, left)

    def extend(self, other: Coverage) -> None:
        self.sources += other.sources
        self.notes += other.notes
        self.left_out += other.left_out


def load_coverage(path) -> tuple[list[str], Coverage]:
    """The video ids of a boxes or labels file and its per-video record."""
    with np.load(path) as data:
        ids = data["video_ids"].tolist()
        return ids, Coverage.from_npz(data, len(ids))


def summary(video_ids: list[str], coverage: Coverage) -> dict:
    """The quality report's `coverage` section: videos per source; every video left out, and every video the chosen
    backend handed to another one (`delegated`), each with the reason; every video whose released frame count
    differed from ours (mapped by time)."""
    time_mapped = [
        {"video_id": vid, "frames": note.get("frames"), "release_frames": note.get("release_frames")}
        for vid, note in zip(video_ids, coverage.notes, strict=True)
        if note.get("frame_mapping") == "time"
    ]
    by_source = Counter(s for s in coverage.sources if s)
    delegated = [
        {"video_id": vid, "source": source, "reason": note["delegated"]}
        for vid, source, note in zip(video_ids, coverage.sources, coverage.notes, strict=True)
        if note.get("delegated")
    ]
    return {
        "videos_by_source": dict(sorted(by_source.items())),
        "left_out": len(coverage.left_out),
        "left_out_by_reason": dict(Counter(r for _, r in coverage.left_out).most_common()),
        "left_out_videos": [{"video_id": v, "reason": r} for v, r in coverage.left_out],
        "time_mapped": len(time_mapped),
        "time_mapped_videos": time_mapped,
        "delegated": len(delegated),
        "delegated_videos": delegated,
    }


def summary_lines(what: str, section: dict | None, examples: int = 3) -> list[str]:
    """End-of-run lines for one dataset's coverage section (nothing when every video came from one backend)."""
    if not section:
        return []
    lines = []
    sources = section.get("videos_by_source", {})
    if section.get("delegated"):
        reasons = Counter(v["reason"] for v in section["delegated_videos"]).most_common()
        lines.append(
            f"  {what}: "
            + ", ".join(f"{n} video(s) from {s}" for s, n in sources.items())
            + f"; computed for: {'; '.join(f'{r} ({n})' for r, n in reasons)}"
        )
    if section.get("left_out"):
        ids = ", ".join(v["video_id"] for v in section["left_out_videos"][:examples])
        reasons = "; ".join(f"{r} ({n})" for r, n in section["left_out_by_reason"].items())
        lines.append(f"  {what}: {section['left_out']} video(s) left out: {reasons} (e.g. {ids})")
    if section.get("time_mapped"):
        shown = ", ".join(
            f"{v['video_id']} ({v['frames']} frames here, {v['release_frames']} in the release)"
            for v in section["time_mapped_videos"][:examples]
        )
        lines.append(
            f"  {what}: {section['time_mapped']} video(s) with another frame count than the release, mapped by "
            f"time: {shown}"
        )
    return lines


@dataclass
class ShardLabels:
    """A scene labeller's answer for one shard: soft labels of the videos it covers, and those it does not."""

    ids: list[str]
    soft: np.ndarray  # (N, K)
    names: list[str] | None = None  # class names, when known
    top1: np.ndarray | None = None  # the hard label, when not the soft label's argmax (a release's majority vote)
    notes: list[dict] | None = None
    uncovered: list[tuple[str, str]] = field(default_factory=list)  # (video id, reason)
