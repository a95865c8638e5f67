"""Locating the ffmpeg binary and reading what ffmpeg says about a video.

The ffmpeg binary comes from the system PATH when there is one, else from the imageio-ffmpeg wheel (which
ships a full ffmpeg but no ffprobe). Nothing here needs ffprobe: stream facts are parsed from the header ffmpeg
prints on stderr while it decodes, so probing costs no extra process.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass

FFMPEG_ENV = "SCENEBIAS_FFMPEG"


class FFmpegNotFound(RuntimeError):
    pass


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $SCENEBIAS_FFMPEG, else `ffmpeg` on PATH, else imageio-ffmpeg's."""
    explicit = os.environ.get(FFMPEG_ENV)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise FFmpegNotFound(f"${FFMPEG_ENV}={explicit} is not an executable file")
        return explicit
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise FFmpegNotFound(
            "no ffmpeg on PATH and the imageio-ffmpeg package is not installed; "
            "install one of them (e.g. `apt-get install ffmpeg` or `pip install imageio-ffmpeg`)"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class StreamInfo:
    codec: str
    width: int
    height: int
    fps: float  # 0.0 when the header gives none
    duration: float  # seconds; 0.0 when unknown


_VIDEO_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>[\w-]+)(?P<rest>.*)")
_SIZE = re.compile(r"(?<![\w.])(?P<w>\d{1,5})x(?P<h>\d{1,5})(?![\w])")
_FPS = re.compile(r"(?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")


def parse_input_stream(stderr: str) -> StreamInfo | None:
    """The first video stream of the *input* as printed in ffmpeg's header, or None if it has none.

    ffmpeg prints an "Input #0" block and, later, "Output #0" blocks with the same layout; only the input
    block describes the source file.
    """
    head = stderr.split("Output #0", 1)[0]
    match = _VIDEO_LINE.search(head)
    if match is None:
        return None
    rest = match.group("rest")
    size = _SIZE.search(rest)
    fps = _FPS.search(rest)
    duration = _DURATION.search(head)
    seconds = 0.0
    if duration:
        seconds = int(duration["h"]) * 3600 + int(duration["m"]) * 60 + float(duration["s"])
    fps_value = 0.0
    if fps:
        fps_value = float(fps["fps"]) * (1000 if fps["k"] else 1)
    return StreamInfo(
        codec=match.group("codec"),
        width=int(size["w"]) if size else 0,
        height=int(size["h"]) if size else 0,
        fps=fps_value,
        duration=seconds,
    )


def last_error_lines(stderr: str, n: int = 3) -> str:
    """The last few meaningful stderr lines, for a one-line failure reason in a CSV cell."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("  ")]
    return " | ".join(lines[-n:]).replace(",", ";")[:400]
