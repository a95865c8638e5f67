#!/usr/bin/env python
"""Draw a dataset's contact sheet: its human boxes (`boxes`) or its scene labels (`scenes`), as a PNG and a JSON
listing what the PNG shows."""

import argparse
import json
import logging
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.sheets import SheetSettings, boxes_sheet, scenes_sheet, write_sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sheet", choices=["boxes", "scenes"])
    parser.add_argument("--dataset", required=True, help="name printed on the sheet")
    parser.add_argument("--index", type=Path, required=True, help="the dataset's merged frames/index.csv")
    parser.add_argument("--manifest", type=Path, help="manifest.csv (classes; boxes sheet)")
    parser.add_argument("--boxes", type=Path, help="humans/boxes.npz (boxes sheet)")
    parser.add_argument("--labels", type=Path, help="scene/labels.npz (scenes sheet)")
    parser.add_argument("--settings", default="{}", help="the sheets config section as JSON")
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--valid-ratio", type=float, default=0.7)
    parser.add_argument("--out", type=Path, required=True, help="the PNG")
    parser.add_argument("--record", type=Path, required=True, help="the JSON of what the PNG shows")
    add_hparams_argument(parser, "beside --out")
    args = parser.parse_args()
    setup_logging()
    settings = SheetSettings(**json.loads(args.settings))
    if args.sheet == "boxes":
        if args.manifest is None or args.boxes is None:
            parser.error("the boxes sheet needs --manifest and --boxes")
        sheet, record = boxes_sheet(
            args.dataset, args.index, args.manifest, args.boxes, settings, args.score_threshold, args.valid_ratio
        )
    else:
        if args.labels is None:
            parser.error("the scenes sheet needs --labels")
        sheet, record = scenes_sheet(args.dataset, args.index, args.labels, settings)
    write_sheet(sheet, record, args.out, args.record)
    params = {"sheet": args.sheet, "settings": vars(settings), "score_threshold": args.score_threshold,
              "valid_ratio": args.valid_ratio}  # fmt: skip
    write_hparams(args.hparams or sidecar(args.out), params)
    grid = record["grid"]
    logging.info("%s: %d rows x %d columns, %dx%d px", args.out, grid["rows"], grid["cols"], *sheet.shape[1::-1])


if __name__ == "__main__":
    main()
