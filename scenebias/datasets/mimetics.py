"""Mimetics (Weinzaepfel & Rogez, IJCV 2021): YouTube clips of mimed actions of 50 Kinetics-400 classes, without the
scene or the objects: a test set for models trained on Kinetics (ReBias: a 3D ResNet at 54.5 % on Kinetics falls
to 18.9 % on Mimetics).

The release (Mimetics_release_v1.0.zip, NAVER LABS Europe) lists the clips as YouTube segments in a CSV with a
header, like the Kinetics lists: `mimetics_v1.0.csv`, columns label, youtube_id, time_start, time_end (read by
name; further columns are ignored), label being the Kinetics class name the clip mimes. The clips are downloaded
like Kinetics clips and named `<youtube_id>_<start:06d>_<end:06d>.<ext>`; they may lie in class folders or in one
flat folder anywhere under `video_dir`:

    <root>/mimetics_v1.0.csv     "label,youtube_id,time_start,time_end,..."
    <root>/<video_dir>/archery/0P4-B1vZzCI_000012_000022.mp4    (or <root>/<video_dir>/0P4-B1vZzCI_000012_000022.mp4)

One YouTube video can hold several clips, so a clip's id is its file stem. Every clip has the role `test` (one
split); listed clips missing on disk are reported and skipped. Labels are the classes of the clips used, sorted,
0-based. Mimetics is for evaluating source models, not for training: `evaluate.datasets` (configs/mimetics.yaml)
scores every pretrained model on the classes its source shares with Mimetics, matched by the Kinetics class names of
MIMETICS_CLASSES (scenebias/datasets/mimetics_classes.csv; README "Mimetics").
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from scenebias.datasets.common import TEST, make_table, merge_options, role_counts
from scenebias.datasets.kinetics import YTID, youtube_id
from scenebias.manifest import SHOW_NAMES, VIDEO_EXTENSIONS, ManifestError, check_relative_path

log = logging.getLogger(__name__)

CSV_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
DEFAULTS = {"csv": "mimetics_v1.0.csv", "video_dir": "."}
MIMETICS_CLASSES = Path(__file__).with_name("mimetics_classes.csv")


def clip_stem(ytid: str, start: int, end: int) -> str:
    return f"{ytid}_{start:06d}_{end:06d}"


def read_mimetics_csv(path: Path) -> list[dict]:
    """The listed clips: label, youtube_id, start, end (whole seconds) and where each was listed."""
    if not path.is_file():
        raise ManifestError(f"{path}: file not found (option csv)")
    rows, seen = [], {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise ManifestError(f"{path}:1: header lacks column(s) {absent}; expected {','.join(CSV_COLUMNS)},...")
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if None in record or None in record.values():
                raise ManifestError(f"{where}: expected {len(reader.fieldnames)} fields like the header")
            ytid, label = record["youtube_id"].strip(), record["label"].strip()
            if not YTID.match(ytid):
                raise ManifestError(f"{where}: {ytid!r} is not a YouTube id (11 characters of A-Z a-z 0-9 - _)")
            if not label:
                raise ManifestError(f"{where}: empty label")
            try:
                start, end = (int(float(record[c])) for c in ("time_start", "time_end"))
            except ValueError:
                raise ManifestError(f"{where}: time_start/time_end must be numbers") from None
            stem = clip_stem(ytid, start, end)
            if stem in seen:
                raise ManifestError(f"{where}: duplicate clip {stem!r} (first at {seen[stem]})")
            seen[stem] = where
            rows.append({"video_id": stem, "label_name": label, "where": where})
    return rows


def scan_clips(video_root: Path) -> tuple[dict[str, str], list[str]]:
    """Clip file stem -> its path under video_root (any depth), and the video files not named like a clip."""
    if not video_root.is_dir():
        raise ManifestError(f"{video_root}: video folder not found (option video_dir)")
    found: dict[str, str] = {}
    unrecognised = []
    for path in sorted(p for p in video_root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()):
        rel = path.relative_to(video_root).as_posix()
        if youtube_id(path.name) is None:
            unrecognised.append(rel)
            continue
        if path.stem in found:
            raise ManifestError(f"{found[path.stem]} and {rel}: two files for clip {path.stem!r}")
        found[path.stem] = check_relative_path(rel, rel)
    return found, unrecognised


def class_map(path: Path = MIMETICS_CLASSES) -> pd.DataFrame:
    """The 50 classes: mimetics (the release's label), kinetics (the Kinetics-400 class it mimes), and whether
    Mini-Kinetics-200 has that class (README "Mimetics" says where the list comes from)."""
    table = pd.read_csv(path, keep_default_na=False)
    table["in_mini_kinetics_200"] = table["in_mini_kinetics_200"].map({"yes": True, "no": False})
    return table


def list_files(options: dict) -> list[tuple[str, str]]:
    """The release's list, an input of the manifest job (option key, file under root)."""
    return [("csv", options.get("csv") or DEFAULTS["csv"])]


def kinetics_names() -> dict[str, str]:
    """Mimetics class -> the Kinetics class name it mimes (the class map)."""
    table = class_map()
    return dict(zip(table["mimetics"], table["kinetics"], strict=True))


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: csv (the release's list, relative to root), video_dir (where the clips lie)."""
    opts = merge_options("mimetics", options, DEFAULTS)
    root = Path(root)
    listed = read_mimetics_csv(root / opts["csv"])
    video_root = root / opts["video_dir"]
    files, unrecognised = scan_clips(video_root)
    used = [r for r in listed if r["video_id"] in files]
    missing = [r["video_id"] for r in listed if r["video_id"] not in files]
    if missing:
        log.warning("%d of %d Mimetics clips are not under %s, e.g. %s", len(missing), len(listed), video_root,
                    missing[:3])  # fmt: skip
    if not used:
        raise ManifestError(f"{video_root}: none of the {len(listed)} clips of {root / opts['csv']} is on disk")
    label_of = {name: i for i, name in enumerate(sorted({r["label_name"] for r in used}))}
    rows = [{"video_id": r["video_id"], "path": files[r["video_id"]], "label": label_of[r["label_name"]],
             "label_name": r["label_name"], "split1": TEST} for r in used]  # fmt: skip
    table = make_table(rows, ["split1"])
    unknown = sorted({r["label_name"] for r in used} - set(class_map()["mimetics"]))
    report = {
        "kind": "mimetics",
        "n_classes": len(label_of),
        "roles": role_counts(table),
        "listed": len(listed),
        "missing_clips": len(missing),
        "missing_examples": missing[:SHOW_NAMES],
        "unrecognised_files": len(unrecognised),
        "unrecognised_examples": unrecognised[:SHOW_NAMES],
        "classes_not_in_the_class_map": unknown,
    }
    return table, video_root, report
