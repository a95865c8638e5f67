"""What a run left out, per dataset, and where the details are: printed at the end of every Snakemake run (the
Snakefile's onsuccess/onerror) and a section of the report.

Read from the files the stages write: `<ds>/manifest_report.json` (listed videos missing on disk; Kinetics ids
selected but not downloaded; paths that could not be read: broken or looping links), the frame indexes
(`<ds>/frames/report.json` once merged, else the shards' `index.csv` written so far, so a run that stopped early
still says what failed) and the boxes' and scene labels' `quality.json` (what the boxes are, valid videos,
whole-frame motion boxes dropped; videos a backend left out, handed to another backend, or whose released frame
count differed from ours: scenebias.coverage). A dataset whose manifest job failed shows that job's error line.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scenebias.coverage import summary_lines as coverage_lines
from scenebias.paths import Layout

EXAMPLES = 3  # example videos shown per reason


@dataclass
class DatasetSummary:
    name: str
    listed: int | None = None  # videos the lists name (None: no manifest yet)
    missing: int = 0  # listed but not on disk
    missing_examples: list[str] = field(default_factory=list)
    extracted: int | None = None  # videos with frames (None: no frame index yet)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video id, reason)
    dropped_boxes: dict | None = None
    coverage: dict = field(default_factory=dict)  # "human boxes" / "scene labels" -> quality.json's coverage section
    unreadable: int = 0  # paths on disk that could not be read (broken or looping links, unreadable folders)
    unreadable_examples: list[dict] = field(default_factory=list)  # {path, problem}
    boxes: dict | None = None  # quality.json's boxes: what they are (backend, are, caveat), valid of videos
    manifest_error: str | None = None
    details: list[str] = field(default_factory=list)  # files that hold the details

    @property
    def left_out(self) -> int:
        return self.missing + len(self.failed)


def reason_kind(reason: str) -> str:
    """The kind of a failure reason, for grouping: its first part (before ' | '), without a file path and with
    numbers replaced by N; every truncation is one kind."""
    head = reason.split(" | ", 1)[0].strip()
    head = re.split(r":\s*['\"]?/", head, maxsplit=1)[0]
    if head.startswith("truncated"):
        return "truncated"
    return re.sub(r"\d+", "N", head)[:80] or "unknown"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _manifest_error(log: Path) -> str | None:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    errors = [ln for ln in lines if ln.startswith("error:")]
    return errors[-1].removeprefix("error:").strip() if errors else None


def dataset_summary(results: Path, name: str) -> DatasetSummary:
    """What one dataset left out, read from the stages' files (named by scenebias.paths)."""
    P = Layout(str(results))  # noqa: N806  (the rules' name for the layout)
    summary = DatasetSummary(name)
    manifest = _read_json(Path(P("manifest_report", ds=name)))
    if manifest is None or not Path(P("manifest", ds=name)).is_file():
        log = Path(P.log("manifest", ds=name))
        summary.manifest_error = _manifest_error(log)
        if summary.manifest_error:
            summary.details.append(str(log))
        return summary
    summary.listed = int(manifest.get("listed", 0))  # Kinetics ids selected but not downloaded included
    summary.missing = int(manifest.get("missing", 0))
    summary.missing_examples = manifest.get("missing_examples", [])[:EXAMPLES]
    summary.unreadable = int(manifest.get("unreadable_paths", 0))
    summary.unreadable_examples = manifest.get("unreadable_examples", [])
    if summary.missing or summary.unreadable:
        summary.details.append(P("manifest_report", ds=name))
    frames = _read_json(Path(P("frames_report", ds=name)))
    if frames is not None:
        summary.extracted = int(frames["ok"])
        summary.failed = [(v["video_id"], str(v["error"])) for v in frames.get("failed_videos", [])]
        if summary.failed:
            summary.details.append(P("frames_report", ds=name))
    else:
        shard_pattern = Path(P("shard_frame_index", ds=name, shard="*"))
        shards = sorted(shard_pattern.parent.parent.glob(f"{shard_pattern.parent.name}/index.csv"))
        if shards:
            index = pd.concat([pd.read_csv(p, keep_default_na=False) for p in shards], ignore_index=True)
            summary.extracted = int((index["status"] == "ok").sum())
            bad = index[index["status"] != "ok"]
            summary.failed = list(zip(bad["video_id"].astype(str), bad["error"].astype(str), strict=True))
            if summary.failed:
                summary.details.append(P("shard_frame_index", ds=name, shard="<shard>"))
    if summary.failed:
        summary.details.append(str(Path(P.log("extract_frames", ds=name, shard="*")).parent) + "/")
    quality = _read_json(Path(P("boxes_quality", ds=name)))
    if quality and quality.get("boxes"):
        summary.boxes = {**quality["boxes"], "valid": quality.get("valid_videos"), "videos": quality.get("videos")}
    if quality and quality.get("large_boxes_dropped", {}).get("boxes"):
        summary.dropped_boxes = quality["large_boxes_dropped"]
        summary.details.append(P("boxes_quality", ds=name))
    scene_quality = _read_json(Path(P("scene_quality", ds=name)))
    for what, layout, record in (
        ("human boxes", "boxes_quality", quality),
        ("scene labels", "scene_quality", scene_quality),
    ):
        section = (record or {}).get("coverage")
        if coverage_lines(what, section):
            summary.coverage[what] = section
            if P(layout, ds=name) not in summary.details:
                summary.details.append(P(layout, ds=name))
    return summary


def failure_groups(failed: list[tuple[str, str]]) -> list[tuple[str, int, list[str]]]:
    """(reason kind, count, example ids), most frequent first."""
    counts = Counter(reason_kind(r) for _, r in failed)
    return [(kind, n, [v for v, r in failed if reason_kind(r) == kind][:EXAMPLES]) for kind, n in counts.most_common()]


def summary_lines(s: DatasetSummary) -> list[str]:
    """Plain-text lines for one dataset."""
    if s.manifest_error:
        return [f"{s.name}: no manifest: {s.manifest_error}"]
    if s.listed is None:
        return [f"{s.name}: not processed yet"]
    head = f"{s.name}: {s.listed} listed"
    if s.extracted is not None:
        head += f", {s.extracted} with frames"
    if not s.left_out:
        return [head + ", none left out"]
    lines = [head + f", {s.left_out} left out:"]
    if s.missing:
        lines.append(f"  {s.missing} missing on disk (e.g. {', '.join(s.missing_examples)})")
    for kind, n, examples in failure_groups(s.failed):
        lines.append(f"  {n} failed: {kind} (e.g. {', '.join(examples)})")
    return lines


def problem_groups(examples: list[dict]) -> list[tuple[str, list[str]]]:
    """(kind of problem, example paths) of unreadable paths: the problem up to its first parenthesis."""
    groups: dict[str, list[str]] = {}
    for example in examples:
        groups.setdefault(example["problem"].split(" (", 1)[0], []).append(example["path"])
    return list(groups.items())


def unreadable_lines(s: DatasetSummary) -> list[str]:
    if not s.unreadable:
        return []
    kinds = "; ".join(
        f"{kind} (e.g. {', '.join(paths[:EXAMPLES])})" for kind, paths in problem_groups(s.unreadable_examples)
    )
    return [f"  {s.unreadable} path(s) on disk could not be read: {kinds}"]


def box_lines(s: DatasetSummary) -> list[str]:
    lines = []
    b = s.boxes
    if b and b.get("caveat"):
        lines.append(
            f"  human boxes are {b['are']}: {b['valid']} of {b['videos']} videos valid for the masked branch by "
            f"{b['are'].split(' (')[0]}; caution: {b['caveat']}"
        )
    d = s.dropped_boxes
    if d:
        lines.append(
            f"  human boxes: {d['boxes']} whole-frame motion boxes dropped on {d['frames']} frame(s) of "
            f"{d['videos']} video(s) (humans.motion.max_area)"
        )
    return lines + [line for what, section in s.coverage.items() for line in coverage_lines(what, section)]


def run_summary(results: Path | str, datasets: list[str], optional: list[str] = ()) -> str:
    """The end-of-run text: per dataset, how many videos were listed, kept and left out (by reason), which paths
    could not be read, what the human boxes are, and where the details are. `optional` datasets (the p_bias sweep's,
    made only by their own target) are shown once something of them exists."""
    summaries = [dataset_summary(Path(results), name) for name in datasets]
    summaries += [
        s
        for s in (dataset_summary(Path(results), name) for name in optional)
        if s.listed is not None or s.manifest_error
    ]
    lines = ["Videos per dataset (left out = listed but missing on disk, or frames could not be extracted):"]
    for s in summaries:
        lines += ["  " + line for line in summary_lines(s) + unreadable_lines(s) + box_lines(s)]
        if s.details:
            lines.append(f"    details: {', '.join(s.details)}")
    return "\n".join(lines)


def coverage_cell(s: DatasetSummary) -> str:
    """One table cell: per section, the videos per source, left out and mapped by time (when any)."""
    parts = []
    for what, c in s.coverage.items():
        sources = ", ".join(f"{src} {n}" for src, n in c.get("videos_by_source", {}).items())
        extra = [f"{c['left_out']} left out" for _ in [0] if c.get("left_out")]
        extra += [f"{c['time_mapped']} time-mapped" for _ in [0] if c.get("time_mapped")]
        parts.append(f"{what}: {'; '.join([sources, *extra])}")
    return "<br>".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def left_out_markdown(results: Path | str, datasets: list[str]) -> str:
    """The report's table of videos left out per dataset."""
    rows = ["| dataset | listed | with frames | missing on disk | failed | reasons (count, e.g.) | whole-frame boxes "
            "dropped | unreadable paths on disk | human boxes | boxes / scene labels: sources, left out, time-mapped "
            "| details |"]  # fmt: skip
    rows.append("|---|---|---|---|---|---|---|---|---|---|---|")
    cautions: dict[str, str] = {}
    for name in datasets:
        s = dataset_summary(Path(results), name)
        if s.listed is None:
            continue
        reasons = "; ".join(f"{kind} ({n}, e.g. {examples[0]})" for kind, n, examples in failure_groups(s.failed))
        reasons = _cell(reasons)
        unreadable = "; ".join(f"{kind} (e.g. {paths[0]})" for kind, paths in problem_groups(s.unreadable_examples))
        boxes = "–"
        if s.boxes:
            boxes = f"{s.boxes['are']}: {s.boxes['valid']} of {s.boxes['videos']} videos valid"
            if s.boxes.get("caveat"):
                cautions[s.boxes["are"]] = s.boxes["caveat"]
                boxes += " (caution below)"
        rows.append(
            f"| {name} | {s.listed} | {'–' if s.extracted is None else s.extracted} | {s.missing} | {len(s.failed)} "
            f"| {reasons or '–'} | {(s.dropped_boxes or {}).get('boxes', 0)} "
            f"| {s.unreadable}{_cell(f': {unreadable}') if unreadable else ''} | {_cell(boxes)} "
            f"| {_cell(coverage_cell(s)) or '–'} "
            f"| {', '.join(f'`{d}`' for d in s.details) or '–'} |"
        )
    notes = [f"\n**Human boxes are {are}.** Caution: {caveat}." for are, caveat in cautions.items()]
    return "\n".join(rows + notes)
