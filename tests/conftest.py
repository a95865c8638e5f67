import os
import shutil
import subprocess
import sys
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


def testsrc(size: str = "160x120", seconds: float = 1.0, rate: int = 25) -> list[str]:
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


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    require(found is not None, f"the `{name}` command (install with `make venv`)")
    return found
