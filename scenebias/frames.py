"""Frame extraction: one ffmpeg run per video, short side resized, JPEGs packed into one ZIP per video.

A video that cannot be decoded (empty, truncated, not a video, no video stream, unknown codec) is recorded in
the shard's index with status `failed` and its reason; with on_bad_video="fail" it stops the job instead. Any
other per-video failure (a pack that cannot be written) is recorded the same way: one video never costs its shard.
Stream facts (codec, size, fps) come from the header ffmpeg prints during the same run: no second process.

Truncation is judged from what the file says about itself, never from duration x nominal frame rate alone (a valid
variable-frame-rate file decodes to far fewer frames than that): a video is truncated when it decodes to under
90 % of the frames its container lists (where the container states a count), or when ffmpeg reports damaged data
(a corrupt or cut packet, a decoding error) *and* the frames fall that far short of duration x rate.

On-disk names come from `pack_name`: the video id, or for an id too long for a file name a shortened id plus a
hash, so any id fits the 255-byte limit of common file systems (the index's `pack` column names the file). A video
id is data, never syntax: ffmpeg gets the file behind the `file:` protocol and writes into a temporary folder with a
neutral name, and no id reaches a shell or a format string.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from scenebias.framepack import write_pack
from scenebias.media import (
    LOG_LEVEL_ARGS,
    StreamInfo,
    damage_lines,
    failure_reason,
    ffmpeg_exe,
    image_pattern,
    input_url,
    last_error_lines,
    parse_input_stream,
)
from scenebias.progress import track

log = logging.getLogger(__name__)

INDEX_COLUMNS = [
    "video_id", "status", "n_frames", "fps", "w", "h", "src_w", "src_h", "codec", "jpeg_qscale", "pack", "error",
]  # fmt: skip
# A video whose decoded frame count falls this far short of what its container holds is treated as truncated.
TRUNCATION_TOLERANCE = 0.9
# Longest on-disk name (bytes) derived from a video id; leaves room under the usual 255-byte limit for the
# temporary names packs are written under.
MAX_NAME_BYTES = 200


class BadVideoError(RuntimeError):
    pass


@dataclass
class FrameRecord:
    video_id: str
    status: str  # ok | failed
    n_frames: int = 0
    fps: float = 0.0
    w: int = 0
    h: int = 0
    src_w: int = 0
    src_h: int = 0
    codec: str = ""
    jpeg_qscale: int = 0
    pack: str = ""
    error: str = ""


# JPEG pixel formats by chroma subsampling (frames.jpeg_chroma).
JPEG_PIX_FMT = {420: "yuvj420p", 444: "yuvj444p"}


def extraction_command(
    video: Path, pattern: str, short_side: int, jpeg_qscale: int, jpeg_chroma: int = 420
) -> list[str]:
    """The ffmpeg command line that writes every decoded frame of the first video stream, short side resized, as
    numbered JPEGs (chroma subsampled 4:2:0 as real footage is, or kept 4:4:4). `pattern` is an image2 pattern
    (`image_pattern`); the video goes in as a `file:` URL, so its name is never read as ffmpeg syntax.

    The benchmark runs this very command as the bare-ffmpeg baseline, so both produce the same JPEGs.
    """
    s = short_side
    scale = f"scale=w='if(lt(iw,ih),{s},-2)':h='if(lt(iw,ih),-2,{s})':flags=area"
    return [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *LOG_LEVEL_ARGS,
        "-threads", "1", "-i", input_url(video),
        "-map", "0:v:0", "-vf", scale, "-fps_mode", "passthrough", "-start_number", "0",
        "-q:v", str(jpeg_qscale), "-pix_fmt", JPEG_PIX_FMT[jpeg_chroma], "-f", "image2", pattern,
    ]  # fmt: skip


def pack_name(video_id: str) -> str:
    """The frame pack's file name: `<video_id>.zip`, or when that is longer than MAX_NAME_BYTES, the id cut to fit
    plus 16 hex digits of its SHA-1 (distinct ids keep distinct names)."""
    name = f"{video_id}.zip"
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(video_id.encode()).hexdigest()[:16]
    head = video_id.encode()[: MAX_NAME_BYTES - len(digest) - 5].decode("utf-8", "ignore")
    return f"{head}-{digest}.zip"


def truncation(n_decoded: int, info: StreamInfo | None, stderr: str) -> str | None:
    """Why a video that decoded to n_decoded frames counts as truncated, or None (module docstring)."""
    if info is None:
        return None
    if info.frames:
        if n_decoded < TRUNCATION_TOLERANCE * info.frames - 1:
            return f"truncated: decoded {n_decoded} of the {info.frames} frames the container lists"
        return None
    expected = info.duration * info.fps
    damage = damage_lines(stderr)
    if damage and expected >= 2 and n_decoded < TRUNCATION_TOLERANCE * expected - 1:
        return (
            f"truncated: decoded {n_decoded} of ~{expected:.0f} frames ({info.duration:.2f} s at {info.fps:g} fps) "
            f"and ffmpeg reports damaged data"
        )
    return None


def _frame_size(jpeg: Path) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF marker, without decoding it."""
    data = jpeg.read_bytes()
    i = 2
    while i < len(data) - 9:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return 0, 0


def extract_video(
    video_id: str,
    video: Path,
    pack: Path,
    short_side: int,
    jpeg_qscale: int,
    workdir: Path | None = None,
    jpeg_chroma: int = 420,
) -> FrameRecord:
    """Extract one video into a frame pack; never raises for a bad video, returns a `failed` record."""
    record = FrameRecord(video_id=video_id, status="failed", jpeg_qscale=jpeg_qscale)
    if not video.is_file():
        broken = video.is_symlink()
        record.error = f"{'broken symbolic link' if broken else 'file not found'}: {video}"
        return record
    if video.stat().st_size == 0:
        record.error = "empty file (0 bytes)"
        return record
    with tempfile.TemporaryDirectory(prefix="frames-", dir=workdir) as tmp:  # never named after the id
        cmd = extraction_command(video, image_pattern(tmp), short_side, jpeg_qscale, jpeg_chroma)
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        info = parse_input_stream(proc.stderr)
        if info is not None:
            record.codec, record.src_w, record.src_h, record.fps = (
                info.codec,
                info.width,
                info.height,
                info.fps,
            )
        jpegs = sorted(Path(tmp).glob("*.jpg"))
        if proc.returncode != 0:
            with open(video, "rb") as fh:
                record.error = failure_reason(proc.stderr, fh.read(1024))
            return record
        if not jpegs:
            record.error = "no frames decoded | " + last_error_lines(proc.stderr)
            return record
        reason = truncation(len(jpegs), info, proc.stderr)
        if reason is not None:
            record.error = f"{reason} | {last_error_lines(proc.stderr)}"
            return record
        record.w, record.h = _frame_size(jpegs[0])
        write_pack(jpegs, pack)
    record.status, record.n_frames, record.pack = "ok", len(jpegs), pack.name
    return record


def extract_shard(
    videos: pd.DataFrame,
    dataset_root: Path,
    pack_dir: Path,
    short_side: int,
    jpeg_qscale: int,
    on_bad_video: str = "skip",
    workers: int = 1,
    jpeg_chroma: int = 420,
) -> pd.DataFrame:
    """Extract every video of a shard (`videos` has video_id and path columns); returns the shard index.

    A path is checked as listed (relative, no '..'); symbolic links on it, to a class folder or to the file, are
    followed when the video is read, and the listed path's id is kept. A failure of one video (unreadable,
    undecodable, a pack that cannot be written) is recorded in its row; the other videos are kept.
    """
    pack_dir.mkdir(parents=True, exist_ok=True)
    root = dataset_root.resolve()

    def one(row) -> FrameRecord:
        rel = PurePosixPath(str(row.path).replace("\\", "/"))
        if rel.is_absolute() or ".." in rel.parts:
            return FrameRecord(row.video_id, "failed", error=f"path escapes the dataset root: {row.path}")
        video = root / rel
        try:
            return extract_video(
                row.video_id,
                video,
                pack_dir / pack_name(row.video_id),
                short_side,
                jpeg_qscale,
                jpeg_chroma=jpeg_chroma,
            )
        except OSError as exc:
            return FrameRecord(row.video_id, "failed", jpeg_qscale=jpeg_qscale, error=f"{type(exc).__name__}: {exc}")

    rows = list(videos.itertuples(index=False))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        records = list(track(pool.map(one, rows), "frames", unit="video", total=len(rows)))
    index = pd.DataFrame([asdict(r) for r in records], columns=INDEX_COLUMNS)
    failed = index[index.status != "ok"]
    for rec in failed.itertuples():
        log.warning("video %s left out: %s", rec.video_id, rec.error)
    if len(failed) and on_bad_video == "fail":
        first = failed.iloc[0]
        raise BadVideoError(
            f"{len(failed)} video(s) could not be decoded, e.g. {first.video_id}: {first.error} "
            "(set frames.on_bad_video: skip to record them and continue)"
        )
    return index


def write_index(index: pd.DataFrame, path: Path) -> None:
    """Write a CSV atomically, so a killed job never leaves a half index that looks complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    index.to_csv(tmp, index=False)
    os.replace(tmp, path)
