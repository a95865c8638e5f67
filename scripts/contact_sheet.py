#!/usr/bin/env python
"""Draw a dataset's contact sheet: its human boxes (`boxes`), its scene labels (`scenes`) or its recomposed test
sets (`recomposed`: one sheet per set into the --out folder), as PNGs and JSONs listing what each PNG shows."""

import argparse
import json
import logging
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.humans.stage import BOX_BACKENDS, boxes_label
from scenebias.paths import sidecar
from scenebias.sheets import SheetSettings, boxes_sheet, scenes_sheet, write_sheet
from scenebias.sheets.recomposed import recomposed_sheets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sheet", choices=["boxes", "scenes", "recomposed"])
    parser.add_argument("--dataset", required=True, help="name printed on the sheet")
    parser.add_argument("--index", type=Path, required=True, help="the dataset's merged frames/index.csv")
    parser.add_argument("--manifest", type=Path, help="manifest.csv (classes; boxes sheet)")
    parser.add_argument("--boxes", type=Path, help="humans/boxes.npz (boxes sheet)")
    parser.add_argument("--labels", type=Path, help="scene/labels.npz (scenes sheet)")
    parser.add_argument("--recomposed", type=Path, help="recomposed/index.csv (recomposed sheets)")
    parser.add_argument("--videos", type=Path, help="recomposed/videos.csv (recomposed sheets)")
    parser.add_argument("--settings", default="{}", help="the sheets config section as JSON")
    parser.add_argument("--score-threshold", type=float, default=0.3)
    parser.add_argument("--valid-ratio", type=float, default=0.7)
    parser.add_argument("--backend", choices=sorted(BOX_BACKENDS), help="the box backend (says what the boxes are)")
    parser.add_argument("--out", type=Path, required=True, help="the PNG (recomposed: the folder of PNGs)")
    parser.add_argument("--record", type=Path, help="the JSON of what the PNG shows (boxes, scenes)")
    add_hparams_argument(parser, "beside --out")
    args = parser.parse_args()
    setup_logging()
    settings = SheetSettings(**json.loads(args.settings))
    if args.sheet == "recomposed":
        if args.recomposed is None or args.videos is None:
            parser.error("the recomposed sheets need --recomposed and --videos")
        written = recomposed_sheets(args.dataset, args.index, args.recomposed, args.videos, settings, args.out)
        write_hparams(
            args.hparams or Path(args.out) / "hparams.json", {"sheet": args.sheet, "settings": vars(settings)}
        )
        logging.info("%s: sheets of %s", args.out, ", ".join(written) or "no set (no video qualified)")
        return
    if args.record is None:
        parser.error(f"the {args.sheet} sheet needs --record")
    if args.sheet == "boxes":
        if args.manifest is None or args.boxes is None:
            parser.error("the boxes sheet needs --manifest and --boxes")
        sheet, record = boxes_sheet(
            args.dataset,
            args.index,
            args.manifest,
            args.boxes,
            settings,
            args.score_threshold,
            args.valid_ratio,
            boxes_label(args.backend),
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
