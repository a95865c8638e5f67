"""Your own videos: one folder per class, and optionally a list that fixes which videos, their labels and splits.

    <root>/videos/<class>/<any name>.<ext>     every video file under a class folder (any depth below it)
    <root>/list.csv                            optional (option `list`): "path,label,split" and one row per video
                                               "jump/clip 1.mp4,jump,train"

Without a list every video file under a class folder is used (files directly in the video folder have no class
and are reported; hidden files such as macOS's `._clip.mp4` are skipped): its class is its folder, and split 1
puts `test_fraction` of each class in role 'test' (the videos whose ids hash lowest, so the choice does not
depend on the order files are found) and the rest in 'train'.

With a list, exactly the listed videos are used (a listed video not on disk is reported missing, a file not listed
as unlisted). The option is either

- one file with a header line: columns separated by commas, tabs or spaces (whichever the header uses); `path`
  (relative to the video folder) is required; `label` (a class name; default: the path's first folder) and the
  roles per split are optional: a column `split` (split 1) or `split1`, `split2`, ... whose values are train, test
  (val, valid, validation count as test), another role name, or empty (not used in that split). Without split
  columns the roles are assigned as without a list.
- or a mapping role -> file, e.g. {train: train_list.txt, test: val_list.txt}: MMAction2's list files, one
  "<path> <label>" per line (no header needed); each file's videos get its role in split 1.

Labels are the class names sorted (numerically when every name is a number, as MMAction2's integer labels), 0-based.
A video's id is its path without the extension, folders joined with "__" (`jump/clip 1.mp4` -> `jump__clip 1`).
Symbolic links are followed (a class folder linked in from elsewhere, a linked file); the listed path stays the
video's path and id. A broken link, a link loop or an unreadable folder is one recorded problem of that path
(manifest_report.json's `unreadable_paths`), never a failure of the dataset. A file name that cannot be an id (one
containing '..' or control characters) is skipped and reported when found by scanning, and an error with file and
line when listed.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from scenebias.datasets.common import TEST, TRAIN, make_table, merge_options, read_lines, role_counts
from scenebias.manifest import (
    SHOW_NAMES,
    VIDEO_EXTENSIONS,
    ManifestError,
    check_relative_path,
    check_video_id,
    scan_folder,
)

log = logging.getLogger(__name__)

DEFAULTS = {"video_dir": "videos", "list": None, "test_fraction": 0.3}
ROLE_ALIASES = {"val": TEST, "valid": TEST, "validation": TEST, "testing": TEST, "training": TRAIN}
ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
SPLIT_COLUMN = re.compile(r"^split(?P<k>\d*)$")


def video_id_of(path: str) -> str:
    """`jump/clip 1.mp4` -> `jump__clip 1`: the path without its extension, folders joined with '__'."""
    folders, _, name = path.rpartition("/")
    stem, dot, _ = name.rpartition(".")
    if not (dot and stem) or "//" in path or path.startswith(("/", "./")) or "/./" in path:  # not a plain path
        rel = PurePosixPath(path)
        return "__".join([*rel.parent.parts, rel.stem])
    return f"{folders.replace('/', '__')}__{stem}" if folders else stem


def scan_class_folders(video_root: Path) -> tuple[list[dict], dict]:
    """Rows (path, label_name) for every video under a class folder, following symbolic links, and a report of
    what was left out: files with no class folder and names that cannot be ids. Hidden files and folders are
    skipped; paths that cannot be read (broken or looping links) are recorded by `reconcile_with_disk`."""
    if not video_root.is_dir():
        raise ManifestError(
            f"{video_root}: video folder not found (the dataset's root, and its options.video_dir: {video_root.name!r})"
        )
    rows, loose, bad_names = [], [], []
    for rel in sorted(scan_folder(video_root).videos):
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if "/" not in rel:
            loose.append(rel)
            continue
        try:
            check_video_id(video_id_of(rel), rel)
        except ManifestError:
            bad_names.append(rel)
            continue
        rows.append({"path": rel, "label_name": rel.split("/", 1)[0]})
    if loose:
        log.warning("%d video file(s) directly in %s have no class folder, e.g. %s", len(loose), video_root, loose[:3])
    if bad_names:
        log.warning("%d video file name(s) cannot be ids and are skipped, e.g. %s", len(bad_names), bad_names[:3])
    report = {
        "no_class_folder": len(loose),
        "no_class_folder_examples": loose[:SHOW_NAMES],
        "unusable_names": len(bad_names),
        "unusable_name_examples": bad_names[:SHOW_NAMES],
    }
    return rows, report


def _delimiter(header: str) -> str | None:
    """The column separator a header line uses: tab, comma, or None for runs of whitespace."""
    return "\t" if "\t" in header else "," if "," in header else None


def _fields(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [f.strip() for f in next(csv.reader([line], delimiter=delimiter))]


def _role(value: str, where: str) -> str:
    role = value.strip().lower()
    role = ROLE_ALIASES.get(role, role)
    if role and not ROLE.match(role):
        raise ManifestError(f"{where}: role {value!r} must be a word like train or test (letters, digits, '_')")
    return role


def split_columns_of(header: list[str], where: str) -> dict[str, int]:
    """Header column -> split number for the split columns (`split` is split 1)."""
    splits = {}
    for name in header:
        match = SPLIT_COLUMN.match(name)
        if match:
            k = int(match["k"] or 1)
            if k < 1 or k in splits.values():
                raise ManifestError(f"{where}: split column {name!r} repeats split {k} or is not a split number >= 1")
            splits[name] = k
    return splits


def read_list_file(path: Path, role: str | None = None) -> tuple[list[dict], list[int]]:
    """Rows (path, label_name or None, split<k> roles) of one list file and the split numbers it gives.

    With `role` (a file of a role -> file mapping) the file may be headerless "<path> <label>" lines (MMAction2),
    and every row gets that role in split 1.
    """
    lines = read_lines(path)
    if not lines:
        raise ManifestError(f"{path}: the list is empty")
    first = lines[0][1]
    delimiter = _delimiter(first)
    header = [f.lower() for f in _fields(first, delimiter)]
    if "path" in header:
        body = lines[1:]
    elif role is not None:
        header, body = ["path", "label"], lines
    else:
        raise ManifestError(
            f"{path}:1: expected a header line naming the columns, e.g. 'path,label,split' (got {first!r}); for "
            "MMAction2's headerless '<path> <label>' lists give the option as a mapping {train: FILE, test: FILE}"
        )
    splits = split_columns_of(header, f"{path}:1")
    if role is not None and splits:
        raise ManifestError(f"{path}:1: a list given for role {role!r} cannot also have split columns")
    unknown = [h for h in header if h not in ("path", "label") and h not in splits]
    if unknown:
        raise ManifestError(f"{path}:1: unknown column(s) {unknown}; expected path, label, split or split<k>")
    rows = []
    for lineno, line in body:
        where = f"{path}:{lineno}"
        fields = _fields(line, delimiter)
        if len(fields) != len(header):
            raise ManifestError(f"{where}: expected {len(header)} fields ({', '.join(header)}), got {len(fields)}")
        record = dict(zip(header, fields, strict=True))
        rel = check_relative_path(record["path"], where)
        if PurePosixPath(rel).suffix.lower() not in VIDEO_EXTENSIONS:
            raise ManifestError(f"{where}: {rel!r} is not a video file name ({', '.join(VIDEO_EXTENSIONS)})")
        label = record.get("label", "").strip() or None
        if label is None and "/" not in rel:
            raise ManifestError(f"{where}: {rel!r} is in no class folder and the list gives no label for it")
        row = {"path": rel, "label_name": label or rel.split("/", 1)[0], "where": where}
        row["video_id"] = check_video_id(video_id_of(rel), where)
        if role is not None:
            row["split1"] = role
        for column, k in splits.items():
            row[f"split{k}"] = _role(record[column], where)
        rows.append(row)
    return rows, sorted(splits.values()) if role is None else [1]


def list_files(root: Path, value) -> dict[str | None, Path]:
    """The `list` option as {role or None: path}; relative paths are under the dataset root."""
    if isinstance(value, dict):
        return {_role(str(k), f"option list key {k!r}"): Path(root, v) for k, v in value.items()}
    return {None: Path(root, value)}


def check_options(opts: dict) -> None:
    """Option types: list none, a file name or {role: file name}; test_fraction a number in [0, 1)."""
    value = opts["list"]
    ok = (
        value is None
        or isinstance(value, str)
        or (isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()))
    )
    if not ok:
        raise ManifestError(f"dataset kind 'videos': option list must be a file or {{role: file}}, got {value!r}")
    fraction = opts["test_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction < 1:
        raise ManifestError(f"dataset kind 'videos': option test_fraction must be a number in [0, 1), got {fraction!r}")


def list_splits(root: Path, options: dict) -> list[int]:
    """The split numbers the adapter will give for these options (read from the list's header when it has one)."""
    opts = merge_options("videos", options, DEFAULTS)
    check_options(opts)
    if not opts["list"] or isinstance(opts["list"], dict):
        return [1]
    path = Path(root, opts["list"])
    lines = read_lines(path)
    if not lines:
        raise ManifestError(f"{path}: the list is empty")
    header = [f.lower() for f in _fields(lines[0][1], _delimiter(lines[0][1]))]
    return sorted(split_columns_of(header, f"{path}:1").values()) or [1]


def hash_split(rows: list[dict], test_fraction: float) -> None:
    """Split 1 roles by class: the `test_fraction` of each class whose ids hash lowest are 'test' (at least one when
    the class has two or more videos and the fraction is above 0), the others 'train'."""
    by_class: dict[str, list[dict]] = {}
    for row in rows:
        by_class.setdefault(row["label_name"], []).append(row)
    for members in by_class.values():
        members.sort(key=lambda r: hashlib.sha1(r["video_id"].encode()).hexdigest())
        n_test = round(len(members) * test_fraction)
        if test_fraction > 0 and len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        for i, row in enumerate(members):
            row["split1"] = TEST if i < n_test else TRAIN


def label_order(names) -> list[str]:
    """Class names in label order: sorted, numerically when every name is a non-negative integer."""
    names = set(names)
    if all(n.isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def read_videos(root: Path, video_dir: str = "videos", list_option=None, test_fraction: float = 0.3):
    """The table (adapter contract) and a report of how it was built."""
    root = Path(root)
    check_options({"list": list_option, "test_fraction": test_fraction})
    report: dict = {"layout": "list" if list_option else "class folders"}
    if list_option:
        rows, splits, first_seen = [], set(), {}
        for role, path in list_files(root, list_option).items():
            file_rows, file_splits = read_list_file(path, role)
            splits.update(file_splits)
            for row in file_rows:
                where = row.pop("where")
                if row["video_id"] in first_seen:
                    raise ManifestError(
                        f"{where}: video {row['path']!r} has the id {row['video_id']!r} of an entry at "
                        f"{first_seen[row['video_id']]} (listed twice, or two names that differ only in the "
                        "extension or in '/' vs '__')"
                    )
                first_seen[row["video_id"]] = where
                rows.append(row)
        if not rows:
            raise ManifestError(f"{root}: the list option {list_option!r} names no video")
        if not any(c.startswith("split") for row in rows for c in row):
            hash_split(rows, float(test_fraction))
            report["roles_from"] = f"test_fraction {test_fraction}"
        else:
            report["roles_from"] = "list"
    else:
        rows, scan_report = scan_class_folders(root / video_dir)
        report.update(scan_report)
        first_seen = {}
        for row in rows:
            row["video_id"] = video_id_of(row["path"])
            if row["video_id"] in first_seen:
                raise ManifestError(
                    f"{root / video_dir}: {first_seen[row['video_id']]} and {row['path']} give the same video id "
                    f"{row['video_id']!r}; rename one of them"
                )
            first_seen[row["video_id"]] = row["path"]
        if not rows:
            raise ManifestError(f"{root / video_dir}: no video files in class folders (<class>/<name>.<ext>)")
        hash_split(rows, float(test_fraction))
        report["roles_from"] = f"test_fraction {test_fraction}"
    classes = label_order(r["label_name"] for r in rows)
    label_of = {name: i for i, name in enumerate(classes)}
    for row in rows:
        row["label"] = label_of[row["label_name"]]
    split_names = sorted({c for row in rows for c in row if c.startswith("split")}, key=lambda c: int(c[5:]))
    return make_table(rows, split_names), report


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: video_dir ("videos"), list (none, a file, or {role: file}), test_fraction (0.3)."""
    opts = merge_options("videos", options, DEFAULTS)
    table, selection = read_videos(Path(root), opts["video_dir"], opts["list"], opts["test_fraction"])
    report = {"kind": "videos", "n_classes": int(table["label"].nunique()), "roles": role_counts(table)}
    return table, Path(root) / opts["video_dir"], {**report, "selection": selection}
