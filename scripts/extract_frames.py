#!/usr/bin/env python
"""Extract the frames of one manifest shard into frame packs, writing the shard's index.csv."""

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import pandas as pd

from scenebias.cli import setup_logging, write_hparams
from scenebias.frames import BadVideoError, extract_shard, write_index
from scenebias.media import ffmpeg_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--shard", required=True, help="shard name as in the manifest's shard column")
    parser.add_argument("--video-root", type=Path, help="folder the manifest paths are relative to")
    parser.add_argument("--manifest-report", type=Path, help="manifest_report.json (gives the video root)")
    parser.add_argument("--packs", type=Path, required=True, help="folder that receives <video_id>.zip packs")
    parser.add_argument("--index", type=Path, required=True, help="index.csv to write")
    parser.add_argument(
        "--hparams", type=Path, help="where to record the settings (default: hparams.json beside --index)"
    )
    parser.add_argument("--short-side", type=int, required=True)
    parser.add_argument("--jpeg-qscale", type=int, required=True, help="ffmpeg -q:v, 1 (best) .. 31")
    parser.add_argument("--jpeg-chroma", type=int, choices=[420, 444], default=420, help="chroma subsampling")
    parser.add_argument("--on-bad-video", choices=["skip", "fail"], default="skip")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    setup_logging()
    if args.video_root is None:
        if args.manifest_report is None:
            parser.error("give --video-root or --manifest-report")
        args.video_root = Path(json.loads(args.manifest_report.read_text())["video_root"])
    manifest = pd.read_csv(args.manifest, dtype={"shard": str})
    videos = manifest[manifest["shard"] == args.shard]
    if videos.empty:
        sys.exit(f"error: shard {args.shard!r} is not in {args.manifest}")
    try:
        index = extract_shard(
            videos,
            args.video_root,
            args.packs,
            args.short_side,
            args.jpeg_qscale,
            args.on_bad_video,
            args.workers,
            args.jpeg_chroma,
        )
    except BadVideoError as exc:
        sys.exit(f"error: {exc}")
    write_hparams(
        args.hparams or args.index.with_name("hparams.json"),
        {
            "short_side": args.short_side,
            "jpeg_qscale": args.jpeg_qscale,
            "jpeg_chroma": args.jpeg_chroma,
            "on_bad_video": args.on_bad_video,
        },
        tools={"ffmpeg": ffmpeg_info()},
    )
    write_index(index, args.index)
    ok = int((index["status"] == "ok").sum())
    print(f"shard {args.shard}: {ok}/{len(index)} videos extracted -> {args.index}")


if __name__ == "__main__":
    main()
