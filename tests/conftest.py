import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scenebias.media import ffmpeg_exe

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip when a prerequisite is missing on a developer machine; in CI a missing prerequisite is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing prerequisite in CI: {what}")
    pytest.skip(f"missing prerequisite: {what}")


def make_video(path: Path, *args: str) -> Path:
    """Write a test video with the real ffmpeg; args are the encoder options after the lavfi input."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True)
    return path


def lavfi_testsrc(size: str = "160x120", seconds: float = 1.0, rate: int = 25) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-t", str(seconds)]


@pytest.fixture(scope="session")
def tiny_world() -> dict:
    """The smoke world's settings, completed with schema defaults, made smaller still for unit tests."""
    from scenebias.config import validate_config

    config = validate_config(
        {
            "world": {
                "source": {"train": 16, "test": 8, "test_conflict": 8, "test_masked": 8, "test_noactor": 8},
                "targets": {"fine": {"actions": "fine", "scene": 8, "train": 6, "test": 6}},
            },
            "datasets": {"source": {"kind": "synthetic"}, "fine": {"kind": "synthetic"}},
        }
    )
    return config["world"]


@pytest.fixture
def venv_env() -> dict:
    """Environment for running the workflow's tools: the running interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def fresh_clone(dest: Path) -> Path:
    """A checkout of this repository at `dest` as a user's `git clone` would have it: the tracked files plus the
    untracked ones git does not ignore (so that uncommitted work is tested too), without .venv, results or
    .snakemake. Tests run the workflow from its root, exactly as the README says."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is left out, as a commit would
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    require(found is not None, f"the `{name}` command (install with `make venv`)")
    return found


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory, tiny_world):
    """A tiny synthetic source dataset run through the real stages: manifest, frames, motion boxes, k-means
    labels. Returns a dict of paths (manifest, frames, scene, boxes, truth)."""
    import numpy as np

    from scenebias.datasets import DATASET_KINDS
    from scenebias.frames import extract_shard, write_index
    from scenebias.humans.boxes import save_boxes
    from scenebias.humans.stage import BOX_BACKENDS, shard_boxes
    from scenebias.manifest import assign_shards, reconcile_with_disk
    from scenebias.scene import fit_kmeans, kmeans_soft_labels, save_labels, video_features
    from scenebias.synth.world import render_world

    root = tmp_path_factory.mktemp("tiny_source")
    render_world(tiny_world, root / "world", ["source"])
    listed, video_root, _ = DATASET_KINDS["synthetic"].adapt(root / "world" / "source", {})
    manifest, _ = reconcile_with_disk(listed, video_root)
    manifest = assign_shards(manifest, 1000)
    manifest.to_csv(root / "manifest.csv", index=False)
    packs = root / "frames" / "0000" / "packs"
    index = extract_shard(manifest, video_root, packs, 32, 2)
    write_index(index, root / "frames" / "0000" / "index.csv")
    merged = index.copy()
    merged.insert(1, "shard", "0000")
    write_index(merged, root / "frames" / "index.csv")
    save_boxes(root / "boxes.npz", shard_boxes(index, packs, BOX_BACKENDS["motion"].build({}, {}), 1))
    ids, feats = video_features(index, packs, root / "boxes.npz", 4, 0.3)
    save_labels(root / "scene.npz", ids, kmeans_soft_labels(feats, fit_kmeans(feats, 8, 0), 1.0))
    assert np.isfinite(feats).all()
    return {
        "root": root,
        "manifest": root / "manifest.csv",
        "frames": root / "frames" / "index.csv",
        "scene": root / "scene.npz",
        "boxes": root / "boxes.npz",
        "truth": root / "world" / "source" / "ground_truth.csv",
    }


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A threaded HTTP server on 127.0.0.1 (free port) serving `folder`; yields its base URL. Nothing leaves
    the machine: it stands in for the public URLs the fetch rule downloads from."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
