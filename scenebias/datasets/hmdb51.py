"""HMDB51 (Kuehne et al., 2011): 6,766 clips of 51 actions and three official 70/30 splits.

Layout, the official archives (hmdb51_org.rar with one .rar per class, test_train_splits.rar) unpacked under root:

    <root>/videos/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi
    <root>/testTrainMulti_7030_splits/brush_hair_test_split1.txt    "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 "

Each class has one file per split listing all of its videos with a tag: 1 = train, 2 = test, 0 = not used in that
split. Labels are the class names sorted, 0-based. Video names keep the web titles they came from, so they contain
characters such as '!', '(', ')', '&', ';' and '#'; those are fine as ids (only separators and the like are not).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from scenebias.datasets.common import (
    TEST,
    TRAIN,
    UNUSED,
    make_table,
    merge_options,
    read_lines,
    role_counts,
    split_column,
)
from scenebias.datasets.common import split_numbers as check_splits
from scenebias.manifest import VIDEO_EXTENSIONS, ManifestError, check_relative_path, check_video_id

SPLITS = (1, 2, 3)
TAGS = {"0": UNUSED, "1": TRAIN, "2": TEST}
SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>\d+)\.txt$")
DEFAULTS = {"splits": list(SPLITS), "video_dir": "videos", "split_dir": "testTrainMulti_7030_splits"}


def split_files(split_dir: Path, splits: list[int]) -> tuple[list[str], dict[tuple[str, int], Path]]:
    """The classes (sorted names from the split-file names) and the file of each (class, split)."""
    if not split_dir.is_dir():
        raise ManifestError(f"{split_dir}: split folder not found")
    files = {}
    for path in split_dir.glob("*_test_split*.txt"):
        match = SPLIT_FILE.match(path.name)
        if match:
            files[match["cls"], int(match["split"])] = path
    classes = sorted({cls for cls, _ in files})
    if not classes:
        raise ManifestError(f"{split_dir}: no <class>_test_split<k>.txt files found")
    for cls in classes:
        for split in splits:
            if (cls, split) not in files:
                raise ManifestError(
                    f"{split_dir}: {cls}_test_split{split}.txt is missing (class {cls!r}, split {split})"
                )
    return classes, files


def read_split_file(path: Path) -> list[tuple[str, str, str]]:
    """(where, video file name, role) per line "<video>.avi <tag>"."""
    entries = []
    for lineno, line in read_lines(path):
        where = f"{path}:{lineno}"
        parts = line.split()
        if len(parts) != 2:
            raise ManifestError(f"{where}: expected '<video file> <tag 0|1|2>', got {line!r}")
        name, tag = parts
        if tag not in TAGS:
            raise ManifestError(f"{where}: unknown tag {tag!r} (0 = unused, 1 = train, 2 = test)")
        # The name must be a bare file name: it is joined to the class folder.
        check_video_id(name, where)
        if Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
            raise ManifestError(f"{where}: {name!r} is not a video file name")
        entries.append((where, name, TAGS[tag]))
    return entries


def read_hmdb51(root: Path, splits=SPLITS, split_dir: str = "testTrainMulti_7030_splits") -> pd.DataFrame:
    """All videos named in the chosen splits' files, with a `split<k>` role column per split ('' = unused).

    Videos tagged 0 in every chosen split are kept with empty roles: they are listed, just unused.
    """
    splits = check_splits("hmdb51", splits, SPLITS)
    classes, files = split_files(Path(root) / split_dir, splits)
    rows: dict[str, dict] = {}
    first_seen: dict[str, str] = {}
    for split in splits:
        column = split_column(split)
        for label, cls in enumerate(classes):
            for where, name, role in read_split_file(files[cls, split]):
                video_id = check_video_id(Path(name).stem, where)
                rel = check_relative_path(f"{cls}/{name}", where)
                row = rows.setdefault(video_id, {"video_id": video_id, "path": rel, "label": label, "label_name": cls})
                first_seen.setdefault(video_id, where)
                if row["label_name"] != cls:
                    raise ManifestError(
                        f"{where}: video {name!r} is also listed for class {row['label_name']!r} "
                        f"at {first_seen[video_id]}"
                    )
                if row["path"] != rel or column in row:
                    raise ManifestError(f"{where}: duplicate video {video_id!r} (first at {first_seen[video_id]})")
                row[column] = role
    if not rows:
        raise ManifestError(f"{Path(root) / split_dir}: the split files name no videos")
    return make_table(list(rows.values()), [split_column(s) for s in splits])


def adapt(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """Adapter. Options: splits ([1, 2, 3]), video_dir ("videos"), split_dir ("testTrainMulti_7030_splits")."""
    opts = merge_options("hmdb51", options, DEFAULTS)
    table = read_hmdb51(Path(root), opts["splits"], opts["split_dir"])
    split_columns = [c for c in table.columns if c.startswith("split")]
    unused = int((table[split_columns] == UNUSED).all(axis=1).sum())
    classes, _ = split_files(Path(root) / opts["split_dir"], check_splits("hmdb51", opts["splits"], SPLITS))
    report = {"kind": "hmdb51", "n_classes": len(classes), "roles": role_counts(table)}
    report["unused_in_all_splits"] = unused
    return table, Path(root) / opts["video_dir"], report
