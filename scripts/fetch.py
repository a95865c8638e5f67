#!/usr/bin/env python
"""Download a file (model weights, class lists) from a URL and check its pinned sha256."""

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.fetch import FetchError, download
from scenebias.paths import sidecar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--out", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    try:
        download(args.url, args.out, args.sha256)
    except FetchError as exc:
        sys.exit(f"error: {exc}")
    write_hparams(
        args.hparams or sidecar(args.out), {"url": args.url, "sha256": args.sha256}, files={"download": args.out}
    )
    print(f"{args.url} -> {args.out} (sha256 ok)")


if __name__ == "__main__":
    main()
