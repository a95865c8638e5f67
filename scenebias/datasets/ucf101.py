"""UCF101 (Soomro et al., 2012): 13,320 clips of 101 actions and three official train/test splits.

Layout, the two official archives (UCF101.rar, UCF101TrainTestSplits-RecognitionTask.zip) unpacked under root:

    <root>/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi
    <root>/ucfTrainTestlist/classInd.txt      "1 ApplyEyeMakeup"                                (1-based index)
    <root>/ucfTrainTestlist/trainlist01.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"   (path, 1-based label)
    <root>/ucfTrainTestlist/testlist01.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"     (path only)

The official lists have CRLF line ends. Every video is in either the train or the test list of each split, so each
row gets 'train' or 'test' in every `split<k>` column read.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from scenebias.datasets.common import TEST, TRAIN, make_table, merge_options, read_lines, role_counts, split_column
from scenebias.datasets.common import split_numbers as check_splits
from scenebias.datasets.ucf_lists import read_class_index
from scenebias.manifest import ManifestError, check_relative_path, check_video_id

SPLITS = (1, 2, 3)
DEFAULTS = {"splits": list(SPLITS), "video_dir": "UCF-101", "list_dir": "ucfTrainTestlist"}


def class_lookup(class_index: Path) -> tuple[list[str], dict[str, int]]:
    """Class names in label order, and a case-insensitive name -> 0-based label map.

    Case-insensitive because the release disagrees with itself: classInd.txt says "HandstandPushups" while the
    clips are named v_HandStandPushups_gXX_cYY.avi (and some re-packed copies of the lists or the folders carry
    that spelling too). Taking the class from the folder component and matching it without case gives the right
    label whichever spelling a copy uses; parsing the class out of the file name would not.
    """
    classes = read_class_index(class_index)
    lookup: dict[str, int] = {}
    for label, name in enumerate(classes):
        if name.casefold() in lookup:
            raise ManifestError(
                f"{class_index}: classes {classes[lookup[name.casefold()]]!r} and {name!r} differ only in case"
            )
        lookup[name.casefold()] = label
    return classes, lookup


def disk_folders(video_root: Path) -> dict[str, str]:
    """The class folders actually on disk, by case-folded name (empty when the videos are not there yet)."""
    if not video_root.is_dir():
        return {}
    return {p.name.casefold(): p.name for p in video_root.iterdir() if p.is_dir()}


def read_split_list(
    path: Path, classes: list[str], lookup: dict[str, int], folders: dict[str, str]
) -> list[tuple[str, str, str, int]]:
    """(where, video_id, path, label) per line of a trainlist ("<Class>/<file> <label>") or testlist ("<Class>/<file>").

    The path's folder is spelt as on disk when a folder of that name (ignoring case) exists, else as in
    classInd.txt, so the manifest's paths open on case-sensitive file systems whichever spelling a list uses.
    """
    entries = []
    for lineno, line in read_lines(path):
        where = f"{path}:{lineno}"
        parts = line.split()
        if len(parts) not in (1, 2):
            raise ManifestError(f"{where}: expected '<Class>/<video file> [label]', got {line!r}")
        rel = PurePosixPath(check_relative_path(parts[0], where))
        if len(rel.parts) != 2:
            raise ManifestError(f"{where}: expected '<Class>/<video file>', got {parts[0]!r}")
        folder, name = rel.parts
        if folder.casefold() not in lookup:
            raise ManifestError(f"{where}: class folder {folder!r} is not in classInd.txt")
        label = lookup[folder.casefold()]
        if len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise ManifestError(f"{where}: label {parts[1]!r} is not a class index 1..{len(classes)}")
            if int(parts[1]) - 1 != label:
                raise ManifestError(f"{where}: label {parts[1]} disagrees with the class folder {folder!r}")
        video_id = check_video_id(rel.stem, where)
        entries.append((where, video_id, f"{folders.get(folder.casefold(), classes[label])}/{name}", label))
    return entries


def read_ucf101(
    root: Path, splits=SPLITS, video_dir: str = "UCF-101", list_dir: str = "ucfTrainTestlist"
) -> pd.DataFrame:
    """The videos of the chosen official splits with their labels and a `split<k>` role column per split."""
    root = Path(root)
    splits = check_splits("ucf101", splits, SPLITS)
    lists = root / list_dir
    classes, lookup = class_lookup(lists / "classInd.txt")
    folders = disk_folders(root / video_dir)
    rows: dict[str, dict] = {}
    first_seen: dict[str, str] = {}
    for split in splits:
        column = split_column(split)
        for role in (TRAIN, TEST):
            for where, video_id, rel, label in read_split_list(
                lists / f"{role}list{split:02d}.txt", classes, lookup, folders
            ):
                row = rows.setdefault(
                    video_id, {"video_id": video_id, "path": rel, "label": label, "label_name": classes[label]}
                )
                first_seen.setdefault(video_id, where)
                if row["path"] != rel:
                    raise ManifestError(
                        f"{where}: video {video_id!r} listed as {row['path']!r} at {first_seen[video_id]}"
                    )
                if column in row:
                    raise ManifestError(f"{where}: duplicate video {video_id!r}: already {row[column]!r} in {column}")
                row[column] = role
    if not rows:
        raise ManifestError(f"{lists}: the split lists name no videos")
    return make_table(list(rows.values()), [split_column(s) for s in splits])


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: splits (default [1, 2, 3]), video_dir ("UCF-101"), list_dir ("ucfTrainTestlist")."""
    opts = merge_options("ucf101", options, DEFAULTS)
    table = read_ucf101(Path(root), opts["splits"], opts["video_dir"], opts["list_dir"])
    report = {"kind": "ucf101", "n_classes": len(read_class_index(Path(root) / opts["list_dir"] / "classInd.txt"))}
    report["roles"] = role_counts(table)
    return table, Path(root) / opts["video_dir"], report
