#!/usr/bin/env python
"""A backend's preparation, run once per run before its per-shard jobs (scenebias.backends.Preparation): e.g. the
authors' released files read into an indexed store that every shard job then memory-maps."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.backends import SettingFiles
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.registry import BACKENDS
from scenebias.released.store import ReleaseFormatError
from scenebias.released.unpickle import UnsafeReleaseFile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--section", choices=sorted(BACKENDS), required=True)
    parser.add_argument("--backend", required=True, help="a backend of the section with a prepare step")
    parser.add_argument("--settings", default="{}", help="the backend's config section as JSON")
    parser.add_argument("--file", nargs=2, action="append", default=[], metavar=("NAME", "PATH"),
                        help="an input of the preparation (repeated, also per file of one name)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    add_hparams_argument(parser, "hparams.json in --out")
    args = parser.parse_args()
    setup_logging()
    record = BACKENDS[args.section].get(args.backend)
    if record is None or record.prepare is None:
        parser.error(f"{args.section}.{args.backend}: no such backend with a prepare step")
    given: dict[str, list[Path]] = {}
    for name, path in args.file:
        given.setdefault(name, []).append(Path(path))
    unknown = sorted(set(given) - set(record.prepare.files))
    if unknown:
        parser.error(
            f"--file {unknown[0]}: not an input of {args.backend}'s preparation ({sorted(record.prepare.files)})"
        )
    files = {
        name: given.get(name, []) if isinstance(source, SettingFiles) else (given.get(name) or [None])[0]
        for name, source in record.prepare.files.items()
    }
    settings = json.loads(args.settings)
    try:
        report = record.prepare.run(files, settings, args.out)
    except (ReleaseFormatError, UnsafeReleaseFile, ValueError, OSError) as exc:
        sys.exit(f"error: {exc}")
    hashed = {f"{name}_{i}": p for name, paths in given.items() for i, p in enumerate(paths)}
    write_hparams(args.hparams or args.out / "hparams.json", {"section": args.section, "backend": args.backend,
                  "settings": settings}, files=hashed)  # fmt: skip
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, list | dict)}))


if __name__ == "__main__":
    main()
