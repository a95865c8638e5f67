"""Small helpers shared by the thin scripts in scripts/: logging, and the record of what each job was made with."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
from pathlib import Path

from scenebias.provenance import environment, file_record


def setup_logging(verbose: bool = False) -> None:
    """Log lines to stderr (which Snakemake's `log:` captures), one format for every stage."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def add_hparams_argument(parser: argparse.ArgumentParser, default_help: str = "beside --out") -> None:
    """The `--hparams` option of a stage script: where its record (write_hparams) goes."""
    parser.add_argument("--hparams", type=Path, help=f"where to record the settings and environment ({default_help})")


def write_hparams(path: Path | str, params: dict, files: dict[str, Path | str | None] | None = None) -> None:
    """The one writer of a job's hparams.json: its settings (`params`), the files it read that decide its result
    (weights, released files, an initialisation; each with its sha256) and the environment it ran in
    (scenebias.provenance: commit, Python, packages, CUDA/cuDNN/GPUs, ffmpeg, Snakemake)."""
    path = Path(path)
    record = {
        "params": params,
        "files": {name: file_record(p) for name, p in (files or {}).items() if p is not None},
        "environment": environment(),
        "argv": sys.argv,
        "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    """A stage's report (quality, counts) as indented JSON, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
