"""Locating the ffmpeg binary and reading what ffmpeg says about a video.

The ffmpeg binary comes from the system PATH when there is one, else from the imageio-ffmpeg wheel (which
ships a full ffmpeg but no ffprobe). Nothing here needs ffprobe: stream facts are parsed from the header ffmpeg
prints on stderr while it decodes, so probing costs no extra process; the same run's log, written with level tags,
says whether the demuxer or a decoder met damaged data.
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
    frames: int = 0  # the frame count the container itself states (Matroska's NUMBER_OF_FRAMES tag); 0 = none


# ffmpeg's log lines, as written with `-loglevel level+info`: any number of "[context @ 0x...]" prefixes, then the
# message level in brackets, then the message.
LOG_LEVEL_ARGS = ("-loglevel", "level+info")
_CONTEXT = re.compile(r"\[[^\]\[]+? @ 0x[0-9a-fA-F]+\]\s*")
_LEVEL = re.compile(r"\[(?P<level>trace|debug|verbose|info|warning|error|fatal|panic)\]\s?")
# Warnings that say the data itself is damaged (the demuxer found a cut or corrupt packet).
_DAMAGE_WARNINGS = re.compile(r"corrupt|partial file|ended prematurely|truncat", re.IGNORECASE)

_VIDEO_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>[\w-]+)(?P<rest>.*)")
_SIZE = re.compile(r"(?<![\w.])(?P<w>\d{1,5})x(?P<h>\d{1,5})(?![\w])")
_FPS = re.compile(r"(?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_NUMBER_OF_FRAMES = re.compile(r"^\s*NUMBER_OF_FRAMES\s*:\s*(?P<n>\d+)\s*$", re.MULTILINE)


def parse_input_stream(stderr: str) -> StreamInfo | None:
    """The first video stream of the *input* as printed in ffmpeg's header, or None if it has none.

    ffmpeg prints an "Input #0" block and, later, "Output #0" blocks with the same layout; only the input
    block describes the source file. Works on plain stderr and on stderr written with level tags.
    """
    head = "\n".join(clean_line(line) for line in stderr.split("Output #0", 1)[0].splitlines())
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
    # The stream's own metadata block follows its Stream line (up to the next Stream line).
    block = head[match.end() :].split("Stream #", 1)[0]
    frames = _NUMBER_OF_FRAMES.search(block)
    return StreamInfo(
        codec=match.group("codec"),
        width=int(size["w"]) if size else 0,
        height=int(size["h"]) if size else 0,
        fps=fps_value,
        duration=seconds,
        frames=int(frames["n"]) if frames else 0,
    )


def clean_line(line: str) -> str:
    """A log line without ffmpeg's internal context prefixes ("[in#0/avi @ 0x55d0c8]") and level tag."""
    return _LEVEL.sub("", _CONTEXT.sub("", line), count=1).strip()


def _level(line: str) -> str | None:
    match = _LEVEL.search(_CONTEXT.sub("", line))
    return match["level"] if match and match.start() == 0 else None


def damage_lines(stderr: str) -> list[str]:
    """The lines in which the demuxer or a decoder reports damaged data: every error-level line, and warnings about
    corrupt or cut packets (needs stderr written with level tags, `LOG_LEVEL_ARGS`)."""
    found = []
    for line in stderr.splitlines():
        level = _level(line)
        if level in ("error", "fatal", "panic") or (level == "warning" and _DAMAGE_WARNINGS.search(line)):
            found.append(clean_line(line))
    return found


def last_error_lines(stderr: str, n: int = 3) -> str:
    """The last few meaningful stderr lines, for a one-line failure reason in a CSV cell: warnings and errors
    when the log has level tags, else the non-indented lines; ffmpeg's internal context prefixes are removed."""
    lines = stderr.splitlines()
    if any(_level(line) for line in lines):
        kept = [clean_line(ln) for ln in lines if _level(ln) in ("warning", "error", "fatal", "panic")]
    else:
        kept = [clean_line(ln) for ln in lines if ln.strip() and not ln.startswith("  ")]
    kept = [ln for ln in kept if ln]
    return " | ".join(kept[-n:]).replace(",", ";")[:400]
