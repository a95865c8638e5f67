"""Getting model weights: a local file from the config, or a download from a URL with a pinned sha256."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from tqdm import tqdm

from scenebias.provenance import sha256_of


class FetchError(RuntimeError):
    pass


def check_sha256(path: Path, expected: str | None) -> None:
    if expected is None:
        return
    actual = sha256_of(path)
    if actual.lower() != expected.lower():
        raise FetchError(
            f"{path}: sha256 mismatch: expected {expected}, got {actual}. The file is corrupt, truncated or a "
            "different release; delete it and fetch it again, or fix the pinned sha256 in the config"
        )


def download(url: str, dest: Path, sha256: str | None, timeout: float = 60.0) -> Path:
    """Download url to dest through a temporary name; the file only appears once its sha256 matches."""
    if not sha256:
        raise FetchError(
            f"refusing to download {url} without a pinned sha256: set the sha256 next to the url in the config "
            "(compute it with `sha256sum` on a trusted copy), or point the config at a local file instead"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, mininterval=2) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
        check_sha256(tmp, sha256)
        os.replace(tmp, dest)
    except OSError as exc:
        raise FetchError(
            f"could not download {url}: {exc}. Without internet, download the file elsewhere and set its local "
            "path in the config"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest
