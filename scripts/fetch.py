#!/usr/bin/env python
"""Download a file (model weights, class lists) from a URL and check its pinned sha256."""

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import setup_logging
from scenebias.fetch import FetchError, download


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sha256", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup_logging()
    try:
        download(args.url, args.out, args.sha256)
    except FetchError as exc:
        sys.exit(f"error: {exc}")
    print(f"{args.url} -> {args.out} (sha256 ok)")


if __name__ == "__main__":
    main()
