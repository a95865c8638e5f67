"""Small helpers shared by the thin scripts in scripts/: logging and recording hyperparameters."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
from pathlib import Path

import scenebias
from scenebias.launch import ALLOCATOR_ENVIRONMENT


def setup_logging(verbose: bool = False) -> None:
    """Log lines to stderr (which Snakemake's `log:` captures), one format for every stage."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def write_hparams(path: Path | str, params: dict) -> None:
    """Record a stage's settings next to its outputs, with the versions that produced them."""
    path = Path(path)
    record = {
        "params": params,
        "scenebias": scenebias.__version__,
        "python": platform.python_version(),
        "argv": sys.argv,
        # what the workflow set for every job (scenebias.launch); null where the job did not get it
        "environment": {key: os.environ.get(key) for key in ALLOCATOR_ENVIRONMENT},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    """A stage's report (quality, counts) as indented JSON, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
