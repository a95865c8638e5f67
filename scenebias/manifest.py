"""Per-dataset manifests: one row per usable video, with its label, split roles, file stamp and shard.

A manifest is built by a dataset adapter (scenebias.datasets) from the dataset's own lists, checked against the
files actually on disk, and written as `manifest.csv` plus a `manifest_report.json` that states what was listed
but missing, what is on disk but unlisted, and which paths could not be read (a broken symbolic link, a link
loop, an unreadable folder: one recorded problem of one path, never a failure of the dataset).

Each row carries the stamp of its file (`size_bytes`, `mtime_ns`: what `cp`, `mv` or a new download of a video
changes), so a replaced video is a changed row. Shards are the unit of work of every per-video stage, and their
membership is stable: videos are ordered by a hash of their id, and a shard ends after a video whose hash says so
(once the shard holds a quarter of `shard_size`) or when it holds `shard_size` videos. Adding or removing a video
therefore changes 1.4 shards on average (bench/added_video.py), not every shard after it, and a shard's name (the
hash of its last video) is the same as long as its videos are. `folder_state` is the cheap listing the workflow
reads while planning to notice a changed folder; `shard_versions` and `file_version` what it compares to rerun only
the shards whose videos changed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pandas as pd

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp")
BASE_COLUMNS = ["video_id", "path", "label", "label_name"]
STAMP_COLUMNS = ["size_bytes", "mtime_ns"]  # the listed file's stamp, as found when the manifest was built
SHOW_NAMES = 5  # how many example names a report prints
SHARD_NAME_HEX = 8  # hex digits of a shard's name


class ManifestError(ValueError):
    """Malformed dataset lists, with the file (and line) that caused it."""


def check_video_id(video_id: str, where: str) -> str:
    """Reject ids that could escape a folder when used as a file name (`where` names the file and line)."""
    bad = (
        not video_id
        or "/" in video_id
        or "\\" in video_id
        or ".." in video_id
        or video_id.startswith(".")
        or any(c in video_id for c in "\0\n\r\t")
    )
    if bad:
        raise ManifestError(
            f"{where}: invalid video id {video_id!r}: ids become file names, so they may not be empty, "
            "start with '.', or contain '/', '\\\\', '..' or control characters"
        )
    return video_id


def check_relative_path(path: str, where: str) -> str:
    """A list entry's path must stay inside the dataset root: relative, no '..' components."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if not path or posix.is_absolute() or ".." in posix.parts:
        raise ManifestError(f"{where}: path {path!r} escapes the dataset root (absolute or containing '..')")
    return str(posix)


@dataclass
class FolderScan:
    """What lies under a video folder: every video file (relative POSIX path as found, not resolved -> the stamp
    (size in bytes, mtime in ns) of the file it is or links to) and every path that could not be read (-> why)."""

    videos: dict[str, tuple[int, int]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


_EXTENSIONS = frozenset(ext.lstrip(".") for ext in VIDEO_EXTENSIONS)


def is_video_name(name: str) -> bool:
    base, dot, ext = name.rpartition(".")
    return bool(dot and base) and ext.lower() in _EXTENSIONS


_SCANS: dict[str, FolderScan] | None = None  # while `reusing_scans` is active: folder -> its scan


@contextlib.contextmanager
def reusing_scans():
    """Within the block, a folder is scanned once (the manifest job: the adapter and the disk check read the same
    folder a moment apart)."""
    global _SCANS
    _SCANS = {}
    try:
        yield
    finally:
        _SCANS = None


def scan_folder(video_root: Path) -> FolderScan:
    """Every video file under video_root, following symbolic links to folders and files. A link back to a folder it
    lies in is not entered again, and it, a broken link, a link that loops, and a folder or file that cannot be
    read are recorded in `problems`; none of them stops the scan. One `stat` per video file (its stamp), none for
    other plain files."""
    key = os.path.realpath(video_root)
    if _SCANS is not None and key in _SCANS:
        return _SCANS[key]
    scan = FolderScan()

    def walk(folder: str, prefix: str, ancestors: frozenset[str]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            scan.problems[prefix.rstrip("/") or "."] = f"cannot read the folder ({exc.strerror or exc})"
            return
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_symlink():
                    st = entry.stat()  # follows the link: raises for a broken or looping one
                    is_dir = stat.S_ISDIR(st.st_mode)
                elif entry.is_dir(follow_symlinks=False):
                    is_dir = True
                elif is_video_name(entry.name):
                    st, is_dir = entry.stat(follow_symlinks=False), False
                else:
                    continue
            except OSError as exc:
                scan.problems[rel] = link_problem(entry.path, exc)
                continue
            if is_dir:
                real = os.path.realpath(entry.path)
                if real in ancestors:
                    scan.problems[rel] = "symbolic link loop (to a folder above it; not entered again)"
                else:
                    walk(entry.path, f"{rel}/", ancestors | {real})
            elif is_video_name(entry.name) and stat.S_ISREG(st.st_mode):
                scan.videos[rel] = (st.st_size, st.st_mtime_ns)

    walk(str(video_root), "", frozenset({os.path.realpath(video_root)}))
    scan.videos = dict(sorted(scan.videos.items()))
    scan.problems = dict(sorted(scan.problems.items()))
    if _SCANS is not None:
        _SCANS[key] = scan
    return scan


def link_problem(path: str, exc: OSError) -> str:
    """Why a path found in a folder cannot be read, in words."""
    if os.path.islink(path):
        if exc.errno == 40:  # ELOOP
            return "symbolic link loop (the link leads back to itself)"
        if isinstance(exc, FileNotFoundError):
            return f"broken symbolic link (to {os.readlink(path)}, which does not exist)"
    return f"cannot read ({exc.strerror or exc})"


def find_videos(video_root: Path) -> set[str]:
    """Relative POSIX paths (as listed, not resolved) of every video file under video_root (`scan_folder`)."""
    return set(scan_folder(video_root).videos)


def folder_state(video_root: Path) -> str:
    """A one-line state of a video folder: counts, total size, newest change and a digest of every video's path and
    stamp and every unreadable path. Any added, removed or replaced video (or a link that broke or was mended)
    changes it; the workflow reads it while planning, so the manifest is rebuilt when it changes."""
    if not Path(video_root).is_dir():
        return f"no folder {video_root}"
    scan = scan_folder(video_root)
    listing = [f"{rel}\0{size}\0{mtime}" for rel, (size, mtime) in scan.videos.items()]
    listing += [f"{rel}\0{problem}" for rel, problem in scan.problems.items()]
    digest = hashlib.sha1("\n".join(listing).encode(errors="surrogateescape"))
    newest = max((m for _, m in scan.videos.values()), default=0)
    when = datetime.fromtimestamp(newest / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if newest else "-"
    total = sum(size for size, _ in scan.videos.values())
    return (
        f"{len(scan.videos)} video files, {total} bytes, newest {when}, {len(scan.problems)} unreadable path(s), "
        f"sha1 {digest.hexdigest()[:16]}"
    )


def _examples(names: Iterable[str]) -> list[str]:
    return sorted(names)[:SHOW_NAMES]


def problem_report(problems: dict[str, str]) -> dict:
    """The report's record of unreadable paths: a count and examples with their reason."""
    shown = sorted(problems)[:SHOW_NAMES]
    return {
        "unreadable_paths": len(problems),
        "unreadable_examples": [{"path": p, "problem": problems[p]} for p in shown],
    }


def reconcile_with_disk(listed: pd.DataFrame, video_root: Path) -> tuple[pd.DataFrame, dict]:
    """Drop listed videos that are not on disk and stamp the others (STAMP_COLUMNS); report the missing ones, the
    unlisted files on disk and the paths that could not be read (broken or looping links)."""
    if not video_root.is_dir():
        raise ManifestError(
            f"video folder {video_root} does not exist; check the dataset's root and its options.video_dir in the "
            "config"
        )
    scan = scan_folder(video_root)
    present = listed["path"].isin(scan.videos)
    missing = listed.loc[~present, "path"].tolist()
    extra = sorted(set(scan.videos) - set(listed["path"]))
    report = {
        "video_root": str(video_root),
        "listed": len(listed),
        "used": int(present.sum()),
        "missing": len(missing),
        "missing_examples": [_with_problem(p, scan.problems) for p in _examples(missing)],
        "unlisted": len(extra),
        "unlisted_examples": _examples(extra),
        **problem_report(scan.problems),
    }
    if missing:
        log.warning("%d listed video(s) missing under %s, e.g. %s", len(missing), video_root, _examples(missing))
    if extra:
        log.warning("%d video file(s) under %s are in no list, e.g. %s", len(extra), video_root, _examples(extra))
    for rel, problem in sorted(scan.problems.items()):
        log.warning("%s/%s: %s", video_root, rel, problem)
    if len(listed) and not present.any():
        raise ManifestError(
            f"none of the {len(listed)} listed videos is under {video_root} (e.g. {_examples(missing)[0]}); "
            "check the dataset's root (and video_dir option) in the config"
        )
    kept = listed[present].reset_index(drop=True)
    stamps = [scan.videos[p] for p in kept["path"]]
    kept["size_bytes"] = [size for size, _ in stamps]
    kept["mtime_ns"] = [mtime for _, mtime in stamps]
    return kept, report


def _with_problem(path: str, problems: dict[str, str]) -> str:
    """A missing path, with why it is unreadable when it (or a folder on it) is a recorded problem."""
    parts = PurePosixPath(path).parts
    for i in range(len(parts), 0, -1):
        problem = problems.get("/".join(parts[:i]))
        if problem:
            return f"{path} ({problem})"
    return path


def _hash_key(video_id: str) -> tuple[int, int]:
    """(position, cut draw) of a video: two independent 64-bit numbers from the SHA-1 of its id."""
    digest = hashlib.sha1(video_id.encode(errors="surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


def assign_shards(manifest: pd.DataFrame, shard_size: int) -> pd.DataFrame:
    """Sort by video id and give every video a stable shard (module docstring): in the order of the ids' hashes, a
    shard ends after a video whose second hash falls under min(1/2, 2 / shard_size) of its range, once the shard holds
    a quarter of shard_size, or when it holds shard_size videos (shards average 0.5-0.65 x shard_size; one added
    video changes 1.4 shards on average in 1,000- and 20,000-video folders, and a handful at worst, when it lands in
    a run of full shards). A shard is named by 8 hex digits of its last video's hash (more where two would collide).
    """
    out = manifest.sort_values("video_id", kind="stable").reset_index(drop=True)
    keys = [_hash_key(v) for v in out["video_id"]]
    order = sorted(range(len(out)), key=lambda i: keys[i])
    smallest, cut_below = max(1, shard_size // 4), min(0.5, 2 / shard_size) * 2**64
    members: list[list[int]] = [[]]
    for i in order:
        members[-1].append(i)
        size = len(members[-1])
        if size >= shard_size or (size >= smallest and keys[i][1] < cut_below):
            members.append([])
    members = [m for m in members if m]
    names = [f"{keys[m[-1]][0]:016x}" for m in members]
    short = [n[:SHARD_NAME_HEX] for n in names]
    taken = Counter(short)
    shard = [""] * len(out)
    for m, name, cut in zip(members, names, short, strict=True):
        for i in m:
            shard[i] = cut if taken[cut] == 1 else name
    out["shard"] = shard
    return out


def manifest_report(disk: dict, adapter: dict) -> dict:
    """manifest_report.json: the disk check's counts at the top, the adapter's report under `adapter`. An adapter
    that drops selected videos it does not find itself (Kinetics: ids selected by the lists, not downloaded) says so
    in `adapter.selection` (selected, missing, missing_examples); they count as listed and missing at the top too, so
    the top-level counts and the selection agree."""
    report = dict(disk)
    selection = adapter.get("selection", {})
    if "selected" in selection:
        report["listed"] = disk["listed"] + int(selection["missing"])
        report["missing"] = disk["missing"] + int(selection["missing"])
        report["missing_examples"] = (disk["missing_examples"] + list(selection["missing_examples"]))[:SHOW_NAMES]
    return {**report, "adapter": adapter}


def shard_names(manifest_csv: Path) -> list[str]:
    """The shards of a written manifest (read by the workflow after the manifest checkpoint)."""
    shards = pd.read_csv(manifest_csv, usecols=["shard"], dtype=str)["shard"]
    return sorted(shards.unique())


def _version_key(path: Path) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_mtime_ns, st.st_size


def shard_versions(manifest_csv: Path) -> dict[str, str]:
    """shard -> a digest of its rows (id, path, file stamp): what a per-shard job's result depends on in the
    manifest, so the workflow reruns only the shards whose videos changed."""
    return _shard_versions(_version_key(Path(manifest_csv)))


@functools.lru_cache(maxsize=32)
def _shard_versions(key: tuple[str, int, int]) -> dict[str, str]:
    columns = ["video_id", "path", *STAMP_COLUMNS, "shard"]
    table = pd.read_csv(key[0], dtype=str, keep_default_na=False, usecols=lambda c: c in columns)
    rows = table["video_id"].str.cat([table[c] for c in columns[1:-1] if c in table.columns], sep="\0")
    return {
        shard: hashlib.sha1("\n".join(group).encode(errors="surrogateescape")).hexdigest()[:16]
        for shard, group in rows.groupby(table["shard"], sort=True)
    }


def file_version(path: Path) -> str:
    """A digest of a file's content (a manifest), for jobs that read the whole of it: they rerun when it changes,
    not when it is rewritten unchanged."""
    return _file_version(_version_key(Path(path)))


@functools.lru_cache(maxsize=32)
def _file_version(key: tuple[str, int, int]) -> str:
    return hashlib.sha1(Path(key[0]).read_bytes()).hexdigest()[:16]


def write_manifest(manifest: pd.DataFrame, report: dict, out_csv: Path, report_json: Path) -> None:
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(out_csv, index=False)
    report = {
        **report,
        "shards": int(manifest["shard"].nunique()),
        "classes": int(manifest["label"].nunique()),
    }
    report_json.write_text(json.dumps(report, indent=1) + "\n")
