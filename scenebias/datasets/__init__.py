"""Dataset adapters: each reads one dataset family's official lists into the shared manifest layout.

An adapter returns a DataFrame with columns video_id, path (relative to the video root, POSIX), label (0-based
int), label_name and one `split<k>` column per official split whose values name the video's role in that split
(train, test, or another evaluation set; empty when unused).

`ADAPTERS` maps a dataset kind to `adapt(root, options) -> (table, video_root, report)`, so the workflow calls
every family the same way and then checks the table against the disk with `scenebias.manifest.reconcile_with_disk`.
Options per kind (all optional; unknown ones fail):

    synthetic   (none)          root = the rendered dataset's folder, <world>/<name>
    ucf101      splits [1,2,3], video_dir "UCF-101", list_dir "ucfTrainTestlist"
    hmdb51      splits [1,2,3], video_dir "videos", split_dir "testTrainMulti_7030_splits"
    diving48    version "V2" | "V1", video_dir "rgb", list_dir ".", extension ".mp4"
    kinetics    split_dirs {train: train, val: test} (class folders) or csv <file(s)> (flat folder),
                video_dir ".", subset_lists {train: train_ytid_list.txt, val: val_ytid_list.txt}
    videos      your own videos, <root>/videos/<class>/<any name>.<ext>: video_dir "videos", list <file> or
                {role: file} (path,label,split...; MMAction2 lists), test_fraction 0.3 (roles without a list)

`dataset_splits(kind, root, options)` says which split numbers an adapter gives with those options, so that the
config check can refuse a run that asks for a split the dataset does not have before any job starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from scenebias.datasets import diving48, hmdb51, kinetics, ucf101, videos
from scenebias.datasets.common import merge_options, role_counts, split_numbers
from scenebias.datasets.diving48 import read_diving48
from scenebias.datasets.hmdb51 import read_hmdb51
from scenebias.datasets.kinetics import read_kinetics
from scenebias.datasets.ucf101 import read_ucf101
from scenebias.datasets.ucf_lists import read_ucf_style

Adapter = Callable[[Path, dict], tuple[pd.DataFrame, Path, dict]]


def _synthetic(root: Path, options: dict) -> tuple[pd.DataFrame, Path, dict]:
    """A rendered synthetic dataset (root = <world>/<name>, with videos/ and lists/ in UCF101's list format)."""
    merge_options("synthetic", options, {})
    table = read_ucf_style(Path(root) / "lists")
    report = {"kind": "synthetic", "n_classes": int(table["label"].nunique()), "roles": role_counts(table)}
    return table, Path(root) / "videos", report


ADAPTERS: dict[str, Adapter] = {
    "synthetic": _synthetic,
    "ucf101": ucf101.adapt,
    "hmdb51": hmdb51.adapt,
    "diving48": diving48.adapt,
    "kinetics": kinetics.adapt,
    "videos": videos.adapt,
}


OPTION_DEFAULTS = {
    "synthetic": {},
    "ucf101": ucf101.DEFAULTS,
    "hmdb51": hmdb51.DEFAULTS,
    "diving48": diving48.DEFAULTS,
    "kinetics": kinetics.DEFAULTS,
    "videos": videos.DEFAULTS,
}


def dataset_splits(kind: str, root: Path | None, options: dict) -> list[int]:
    """The split numbers (`split<k>` columns) the adapter of `kind` gives with these options, which are checked
    (unknown names, splits the dataset lacks) as the adapter would. Only a `videos` dataset with a list file reads
    the disk (the list's header, under root); without root its answer is [1]."""
    opts = merge_options(kind, options, OPTION_DEFAULTS[kind])
    if kind in ("ucf101", "hmdb51"):
        return split_numbers(kind, opts["splits"], (1, 2, 3))
    if kind == "videos":
        videos.check_options(opts)
        return videos.list_splits(Path(root), options or {}) if root is not None else [1]
    return [1]  # synthetic (<set>list01.txt), diving48 and kinetics: one split


__all__ = [
    "ADAPTERS",
    "Adapter",
    "dataset_splits",
    "read_diving48",
    "read_hmdb51",
    "read_kinetics",
    "read_ucf101",
    "read_ucf_style",
]
