"""Helpers the dataset adapters share: option checking, the output table and per-split role counts.

Every adapter behind `scenebias.datasets.DATASET_KINDS` is called as `adapt(root, options)` and returns
`(table, video_root, report)`: the listed videos (columns video_id, path, label, label_name, any extra columns,
then `split<k>`), the folder their paths are relative to, and a JSON-able report. Report keys are chosen not to
collide with those of `scenebias.manifest.reconcile_with_disk` (listed, used, missing, unlisted, ...), so the
workflow can merge the two.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from scenebias.manifest import BASE_COLUMNS, ManifestError

TRAIN, TEST, UNUSED = "train", "test", ""


def merge_options(kind: str, options: dict | None, defaults: dict) -> dict:
    """The defaults updated with the config's options; a misspelt option fails instead of being ignored."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ManifestError(f"dataset kind {kind!r}: unknown option(s) {unknown}; known options: {sorted(defaults)}")
    return {**defaults, **options}


def split_column(split: int) -> str:
    return f"split{int(split)}"


def split_numbers(kind: str, splits: Iterable[int], allowed: Iterable[int]) -> list[int]:
    """The official splits to read, checked against those the dataset has."""
    allowed = sorted(allowed)
    chosen = sorted({int(s) for s in ([splits] if isinstance(splits, int) else splits)})
    if not chosen or not set(chosen) <= set(allowed):
        raise ManifestError(f"dataset kind {kind!r}: option 'splits' must be a non-empty subset of {allowed}")
    return chosen


def make_table(rows: list[dict], split_columns: list[str], extra_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The adapter contract's table: base columns, extras, then one split column per split ('' = unused)."""
    columns = [*BASE_COLUMNS, *extra_columns, *split_columns]
    table = pd.DataFrame(rows, columns=columns)
    table[split_columns] = table[split_columns].fillna(UNUSED)
    table["label"] = table["label"].astype(int)
    return table


def role_counts(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Videos per role in each split column, e.g. {"split1": {"train": 9537, "test": 3783}}."""
    counts = {}
    for column in sorted(c for c in table.columns if c.startswith("split")):
        values = table[column].replace(UNUSED, "unused").value_counts()
        counts[column] = {role: int(n) for role, n in sorted(values.items())}
    return counts


def load_json(path: Path):
    """A JSON file's content; a missing or unparsable file fails with its name (and line)."""
    if not path.is_file():
        raise ManifestError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise ManifestError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped line) for the non-blank lines of a text list; CRLF and a BOM are fine."""
    if not path.is_file():
        raise ManifestError(f"{path}: file not found")
    # Universal newlines turn the CRLF of the official UCF101/HMDB51 lists into plain line ends.
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not UTF-8 text ({err})") from None
    return [(lineno, line.strip()) for lineno, line in enumerate(lines, 1) if line.strip()]
