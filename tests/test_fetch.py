"""Weights downloads with a pinned sha256: `scenebias.fetch.download` and the workflow's `fetch` rule, against a
loopback HTTP server (127.0.0.1 only; nothing leaves the machine)."""

import hashlib
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, serve_folder, tool
from scenebias.fetch import FetchError, check_sha256, download

PAYLOAD = b"not really a resnet, but bytes with a known digest\n" * 200
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA256 = hashlib.sha256(b"something else").hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A loopback HTTP server serving a folder that holds `w.bin` (PAYLOAD)."""
    root = tmp_path_factory.mktemp("served")
    (root / "w.bin").write_bytes(PAYLOAD)
    with serve_folder(root) as url:
        yield url


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_with_the_right_sha256(server, tmp_path):
    dest = tmp_path / "downloads" / "w.bin"
    assert download(f"{server}/w.bin", dest, SHA256) == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["w.bin"]  # no .part file
    check_sha256(dest, SHA256.upper())  # hex case does not matter


def test_download_with_a_wrong_sha256_leaves_nothing(server, tmp_path):
    dest = tmp_path / "downloads" / "w.bin"
    with pytest.raises(FetchError) as info:
        download(f"{server}/w.bin", dest, WRONG_SHA256)
    message = str(info.value)
    assert "sha256 mismatch" in message and WRONG_SHA256 in message and SHA256 in message
    assert leftovers(dest.parent) == []


@pytest.mark.parametrize("sha256", [None, ""])
def test_download_without_a_sha256_is_refused(server, tmp_path, sha256):
    dest = tmp_path / "w.bin"
    with pytest.raises(FetchError, match="refusing to download .* without a pinned sha256"):
        download(f"{server}/w.bin", dest, sha256)
    assert leftovers(tmp_path) == []


def test_download_from_an_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/w.bin"
    with pytest.raises(FetchError, match=f"could not download {url}") as info:
        download(url, tmp_path / "w.bin", SHA256, timeout=5)
    assert "local path in the config" in str(info.value)
    assert leftovers(tmp_path) == []


def test_download_of_a_missing_file(server, tmp_path):
    with pytest.raises(FetchError, match="could not download .*404"):
        download(f"{server}/nope.bin", tmp_path / "w.bin", SHA256)
    assert leftovers(tmp_path) == []


def test_check_sha256_of_a_changed_file(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(PAYLOAD[:-1])  # truncated by one byte
    with pytest.raises(FetchError, match="sha256 mismatch"):
        check_sha256(path, SHA256)


# ---------------------------------------------------------------------------------------------------------
# The workflow's fetch rule


def fetch_with_snakemake(
    workdir: Path, url: str, sha256: str, env: dict, *args: str, target: str = "places365_resnet50.pth.tar"
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run Snakemake on the smoke config with a Places365 url + sha256, and the categories file from `downloads`
    (the same url), targeting only one download."""
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["scene"] = {
        "backend": "places365",
        "places365": {"url": url, "sha256": sha256, "categories": "download:categories_places365.txt"},
    }
    config["downloads"] = {"categories_places365.txt": {"url": url, "sha256": sha256}}
    config["resources"] = str(workdir / "res")
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = workdir / "res" / "downloads" / target
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "1", *args, str(target)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300), target


@pytest.mark.workflow
def test_fetch_rule_downloads_and_checks(server, tmp_path, venv_env):
    proc, target = fetch_with_snakemake(tmp_path / "ok", f"{server}/w.bin", SHA256, venv_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert target.read_bytes() == PAYLOAD
    assert leftovers(target.parent) == [target.name, f"{target.name}.hparams.json"]  # the file and its record

    proc, target = fetch_with_snakemake(tmp_path / "bad", f"{server}/w.bin", WRONG_SHA256, venv_env)
    assert proc.returncode != 0
    log = tmp_path / "bad" / "res" / "logs" / "fetch" / f"{target.name}.log"
    assert "sha256 mismatch" in log.read_text()
    assert "sha256 mismatch" in proc.stdout + proc.stderr  # shown to the user, not only in the log file
    assert not target.exists()
    assert leftovers(target.parent) == []


@pytest.mark.workflow
def test_a_file_setting_can_name_a_download(server, tmp_path, venv_env):
    """scene.places365.categories: download:NAME is fetched from `downloads` with its pinned sha256."""
    proc, target = fetch_with_snakemake(tmp_path, f"{server}/w.bin", SHA256, venv_env,
                                        target="categories_places365.txt")  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert target.read_bytes() == PAYLOAD


@pytest.mark.workflow
def test_a_missing_local_file_names_its_key(tmp_path, venv_env):
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    config["scene"] = {"backend": "places365",
                       "places365": {"weights": str(weights), "categories": str(tmp_path / "nowhere.txt")}}  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--cores", "1", "-n"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=venv_env, timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "scene.places365.categories" in out and "nowhere.txt does not exist" in out and "download:NAME" in out
