"""Lists in UCF101's format, which the synthetic world also writes.

    classInd.txt          "1 ApplyEyeMakeup"                                  (1-based class index)
    trainlist01.txt       "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"     (path, 1-based label)
    testlist01.txt        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"       (path only; label = its folder)

Any `<set>list<NN>.txt` file is read: the set name (train, test, test_conflict, ...) becomes the video's role in
split NN. Malformed lines, unknown classes and duplicate ids fail with the file name and line number.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pandas as pd

from scenebias.manifest import ManifestError, check_relative_path, check_video_id

LIST_NAME = re.compile(r"^(?P<set>[a-z][a-z0-9_]*)list(?P<split>\d+)\.txt$")


def read_class_index(path: Path) -> list[str]:
    """Class names in label order from a classInd.txt ("<1-based index> <name>" per line)."""
    if not path.is_file():
        raise ManifestError(f"{path}: class index file not found")
    names: dict[int, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ManifestError(f"{path}:{lineno}: expected '<index> <class name>', got {line!r}")
        index = int(parts[0])
        if index in names or parts[1] in names.values():
            raise ManifestError(f"{path}:{lineno}: duplicate class entry {line!r}")
        names[index] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ManifestError(f"{path}: class indices must run 1..{len(names)} without gaps")
    return [names[i] for i in range(1, len(names) + 1)]


def read_list(path: Path, classes: list[str]) -> list[tuple[int, str, str, int]]:
    """(line number, video_id, relative path, 0-based label) for each entry of one split list."""
    label_of = {name: i for i, name in enumerate(classes)}
    entries = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        parts = line.split()
        if len(parts) not in (1, 2):
            raise ManifestError(f"{where}: expected '<class>/<video file> [label]', got {line!r}")
        rel = check_relative_path(parts[0], where)
        folder = PurePosixPath(rel).parent.name
        if folder not in label_of:
            raise ManifestError(f"{where}: class folder {folder!r} is not in classInd.txt")
        label = label_of[folder]
        if len(parts) == 2:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(classes):
                raise ManifestError(f"{where}: label {parts[1]!r} is not a class index 1..{len(classes)}")
            if int(parts[1]) - 1 != label:
                raise ManifestError(f"{where}: label {parts[1]} disagrees with the class folder {folder!r}")
        entries.append((lineno, check_video_id(PurePosixPath(rel).stem, where), rel, label))
    return entries


def read_ucf_style(list_dir: Path) -> pd.DataFrame:
    """All `<set>list<NN>.txt` files of a folder as one table with a `split<N>` column per split."""
    classes = read_class_index(list_dir / "classInd.txt")
    rows: dict[str, dict] = {}
    lists = sorted(p for p in list_dir.glob("*list*.txt") if LIST_NAME.match(p.name))
    if not lists:
        raise ManifestError(f"{list_dir}: no split lists (<set>list<NN>.txt) found")
    for path in lists:
        match = LIST_NAME.match(path.name)
        column = f"split{int(match['split'])}"
        seen_here: set[str] = set()
        for lineno, video_id, rel, label in read_list(path, classes):
            if video_id in seen_here:
                raise ManifestError(f"{path}:{lineno}: duplicate video id {video_id!r}")
            seen_here.add(video_id)
            row = rows.setdefault(
                video_id, {"video_id": video_id, "path": rel, "label": label, "label_name": classes[label]}
            )
            if row["path"] != rel:
                raise ManifestError(f"{path}:{lineno}: video id {video_id!r} also listed as {row['path']!r}")
            if row.get(column):
                raise ManifestError(f"{path}:{lineno}: {video_id!r} already has role {row[column]!r} in {column}")
            row[column] = match["set"]
    table = pd.DataFrame(list(rows.values()))
    split_columns = sorted(c for c in table.columns if c.startswith("split"))
    table[split_columns] = table[split_columns].fillna("")
    return table
