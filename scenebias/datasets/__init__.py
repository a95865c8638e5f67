"""Dataset kinds: each reads one dataset family's official lists into the shared manifest layout.

An adapter returns a DataFrame with columns video_id, path (relative to the video root, POSIX), label (0-based
int), label_name and one `split<k>` column per official split whose values name the video's role in that split
(train, test, or another evaluation set; empty when unused).

`DATASET_KINDS` is the registry (config `datasets.<name>.kind`; the schema's enum lists the same names,
tests/test_structure.py checks): one record per kind with its adapter `adapt(root, options) -> (table,
video_root, report)`, its options and their defaults, the splits it has, whether the workflow renders it (the
synthetic world: no root) and which options name list files of the user's. The workflow and the config check
loop over these records; no kind name is written anywhere else. Options per kind (all optional; unknown ones fail):

    synthetic   (none)          root = the rendered dataset's folder, <world>/<name>
    ucf101      splits [1,2,3], video_dir "UCF-101", list_dir "ucfTrainTestlist"
    hmdb51      splits [1,2,3], video_dir "videos", split_dir "testTrainMulti_7030_splits"
    diving48    version "V2" | "V1", video_dir "rgb", list_dir ".", extension ".mp4"
    kinetics    split_dirs {train: train, val: test} (class folders) or csv <file(s)> (flat folder),
                video_dir ".", subset_lists {train: train_ytid_list.txt, val: val_ytid_list.txt}
    videos      your own videos, <root>/videos/<class>/<any name>.<ext>: video_dir "videos", list <file> or
                {role: file} (path,label,split...; MMAction2 lists), test_fraction 0.3 (roles without a list)

`dataset_splits(kind, root, options)` says which split numbers a kind gives with those options, so that the
config check can refuse a run that asks for a split the dataset does not have before any job starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scenebias.datasets import diving48, hmdb51, kinetics, ucf101, videos
from scenebias.datasets.common import merge_options, role_counts, split_numbers
from scenebias.datasets.diving48 import read_diving48
from scenebias.datasets.hmdb51 import read_hmdb51
from scenebias.datasets.kinetics import read_kinetics
from scenebias.datasets.ucf101 import read_ucf101
from scenebias.datasets.ucf_lists import read_ucf_style
from scenebias.paths import world_file

Adapter = Callable[[Path, dict], tuple[pd.DataFrame, Path, dict]]


def _synthetic(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """A rendered synthetic dataset (root = <world>/<name>, with videos/ and lists/ in UCF101's list format)."""
    merge_options("synthetic", options, {})
    table = read_ucf_style(world_file(root, "lists"))
    report = {"kind": "synthetic", "n_classes": int(table["label"].nunique()), "roles": role_counts(table)}
    return table, world_file(root, "videos"), report


def one_split(root: Path | None, options: dict) -> list[int]:
    return [1]


def _official_splits(kind: str, allowed: tuple[int, ...]) -> Callable[[Path | None, dict], list[int]]:
    return lambda root, options: split_numbers(kind, options["splits"], allowed)


def _videos_splits(root: Path | None, options: dict) -> list[int]:
    videos.check_options(options)
    return videos.list_splits(Path(root), options) if root is not None else [1]


def no_lists(options: dict) -> list[tuple[str, str]]:
    return []


def never(options: dict) -> bool:
    return False


def _videos_lists(options: dict) -> list[tuple[str, str]]:
    """The `list` option's file(s): (option key, file relative to the root)."""
    value = options.get("list")
    if not value:
        return []
    return [(f"list.{k}", v) for k, v in value.items()] if isinstance(value, dict) else [("list", value)]


def no_hint(root: Path, options: dict) -> str:
    return ""


def _diving48_lists(options: dict) -> list[tuple[str, str]]:
    """The list files of the chosen version (option `version`) and the vocabulary, under list_dir."""
    opts = merge_options("diving48", options, diving48.DEFAULTS)
    lists = [("version", str(Path(opts["list_dir"], f))) for f in diving48.LIST_FILES[opts["version"]].values()]
    return [*lists, ("list_dir", str(Path(opts["list_dir"], diving48.VOCAB_FILE)))]


def _diving48_hint(root: Path, options: dict) -> str:
    """When the chosen version's lists are absent but another version's are there, say which version to set."""
    opts = merge_options("diving48", options, diving48.DEFAULTS)
    for version, files in diving48.LIST_FILES.items():
        if version != opts["version"] and all(Path(root, opts["list_dir"], f).is_file() for f in files.values()):
            return (
                f"; the folder has the {version} lists ({', '.join(files.values())}): set "
                f"options.version: {version}, or add the {opts['version']} lists"
            )
    return ""


def _videos_splits_need_disk(options: dict) -> bool:
    return isinstance(options.get("list"), str)  # one list file: its header names the splits


@dataclass(frozen=True)
class DatasetKind:
    """One dataset family.

    adapt: reads the lists (and the disk) into the manifest table.
    defaults: every option with its default (a config's options are checked against these names).
    splits: `splits(root, options)` -> the split numbers it gives with these options (defaults filled in); root is
        None when planning without the disk, and only kinds whose `splits_need_disk(options)` read it.
    rendered: made by the workflow from the `world` settings (no root; ground truth in its folder).
    list_files: the list files the options choose, [(option key, file under root)]: inputs of the manifest job
        (editing one rebuilds it) and checked on disk before any job.
    missing_hint: `missing_hint(root, options)` -> text added to the error for an absent list file (e.g. which
        option value the files present would need).
    splits_need_disk: whether, with these options, `splits` reads a list file (under root) to answer.
    """

    adapt: Adapter
    defaults: dict = field(default_factory=dict)
    splits: Callable[[Path | None, dict], list[int]] = one_split
    rendered: bool = False
    list_files: Callable[[dict], list[tuple[str, str]]] = no_lists
    splits_need_disk: Callable[[dict], bool] = never
    missing_hint: Callable[[Path, dict], str] = no_hint

    def options(self, kind: str, options: dict | None) -> dict:
        """The options with defaults filled in; a misspelt name fails."""
        return merge_options(kind, options, self.defaults)


DATASET_KINDS: dict[str, DatasetKind] = {
    "synthetic": DatasetKind(_synthetic, rendered=True),
    "ucf101": DatasetKind(ucf101.adapt, ucf101.DEFAULTS, _official_splits("ucf101", ucf101.SPLITS)),
    "hmdb51": DatasetKind(hmdb51.adapt, hmdb51.DEFAULTS, _official_splits("hmdb51", hmdb51.SPLITS)),
    "diving48": DatasetKind(diving48.adapt, diving48.DEFAULTS, list_files=_diving48_lists, missing_hint=_diving48_hint),
    "kinetics": DatasetKind(kinetics.adapt, kinetics.DEFAULTS),
    "videos": DatasetKind(
        videos.adapt,
        videos.DEFAULTS,
        _videos_splits,
        list_files=_videos_lists,
        splits_need_disk=_videos_splits_need_disk,
    ),
}


def dataset_splits(kind: str, root: Path | None, options: dict) -> list[int]:
    """The split numbers (`split<k>` columns) the adapter of `kind` gives with these options, which are checked
    (unknown names, splits the dataset lacks) as the adapter would. Only kinds whose splits come from a list file's
    header read the disk (under root); without root their answer is [1]."""
    record = DATASET_KINDS[kind]
    return record.splits(root, record.options(kind, options))


__all__ = [
    "DATASET_KINDS",
    "Adapter",
    "DatasetKind",
    "dataset_splits",
    "read_diving48",
    "read_hmdb51",
    "read_kinetics",
    "read_ucf101",
    "read_ucf_style",
]
