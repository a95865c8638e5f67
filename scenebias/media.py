"""Locating the ffmpeg binary and reading what ffmpeg says about a video.

One ffmpeg for every machine: the binary pinned in the imageio-ffmpeg wheel (a full ffmpeg, no ffprobe), whatever
else is on PATH, so that frames and failure reasons do not depend on which ffmpeg a machine happens to have. A
user's own binary is used only when named by $SCENEBIAS_FFMPEG; its version is recorded with the frames.

Nothing here needs ffprobe: stream facts are parsed from the header ffmpeg prints on stderr while it decodes, so
probing costs no extra process; the same run's log, written with level tags, says whether the demuxer or a decoder
met damaged data, and `failure_reason` turns a failed run's log into one reason that reads the same on the ffmpeg
versions tested (5.1, Debian 12's, and the wheel's 9.0).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass

FFMPEG_ENV = "SCENEBIAS_FFMPEG"


class FFmpegNotFound(RuntimeError):
    pass


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $SCENEBIAS_FFMPEG when set, else the imageio-ffmpeg wheel's (never PATH's)."""
    explicit = os.environ.get(FFMPEG_ENV)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise FFmpegNotFound(f"${FFMPEG_ENV}={explicit} is not an executable file")
        return explicit
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise FFmpegNotFound(
            "the imageio-ffmpeg package (which ships the pinned ffmpeg) is not installed: `pip install "
            f"imageio-ffmpeg`, or name your own binary with ${FFMPEG_ENV}=/path/to/ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def ffmpeg_version(exe: str | None = None) -> str:
    """The first line of `ffmpeg -version` of `exe` (default: the binary in use), e.g. "ffmpeg version 5.1.9-0+deb12u1"
    without the copyright."""
    exe = exe or ffmpeg_exe()
    try:
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, errors="replace",
                             timeout=20).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out.splitlines()[0].split(" Copyright", 1)[0].strip() if out.strip() else "unknown (ffmpeg -version failed)"


def ffmpeg_info() -> dict:
    """What to record with the frames: the binary in use, its version, and why it was chosen."""
    chosen = f"${FFMPEG_ENV}" if os.environ.get(FFMPEG_ENV) else "the imageio-ffmpeg wheel (default)"
    return {"version": ffmpeg_version(), "path": ffmpeg_exe(), "chosen_by": chosen}


def input_url(path: str | os.PathLike) -> str:
    """A file name as an ffmpeg input: absolute and behind the `file:` protocol, so no character of it (a ':', a
    leading '-', '%') is read as ffmpeg syntax."""
    return "file:" + os.path.abspath(path)


def image_pattern(folder: str | os.PathLike, digits: int = 6, ext: str = "jpg") -> str:
    """The image2 output pattern `<folder>/%06d.jpg`, with any '%' of the folder's name escaped as '%%'."""
    return os.path.join(str(folder).replace("%", "%%"), f"%0{digits}d.{ext}")


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


# Lines every failed run prints in some form, which say nothing about the file (ffmpeg 5.1 and 9 word them
# differently): they are left out of a failure reason.
_GENERIC = re.compile(
    r"Invalid data found when processing input|^Error opening (input|output)|detected only with low score"
    r"|^Trailing option|does not contain any stream|matches no streams|^Error binding filtergraph|^Conversion failed"
    r"|^Error while filtering|^Nothing was written",
    re.IGNORECASE,
)
_INPUT_STREAM = re.compile(r"Stream #0:\d+.*?: (?P<type>Video|Audio|Subtitle|Data|Attachment): (?P<codec>[\w-]+)")
_DECODER = re.compile(r"decoder .*not found|unsupported codec|could not find codec|no decoder", re.IGNORECASE)


def is_text(sample: bytes) -> bool:
    """Whether the first bytes of a file read as text (UTF-8, printable or whitespace): a text file renamed .mp4."""
    if not sample:
        return False
    text = sample.decode("utf-8", errors="ignore")
    return len(text) >= len(sample) // 2 and all(c.isprintable() or c.isspace() for c in text)


def failure_reason(stderr: str, sample: bytes = b"") -> str:
    """One reason for a failed ffmpeg run: a fixed kind first (the run summary groups by it), then ffmpeg's own
    words for this file, without the lines every failure prints. `sample`: the file's first bytes.

        not a video: the file holds text | moov atom not found
        cannot open: not a video or a damaged header | EBML header parsing failed
        no video stream: the file holds audio (aac)
        cannot decode the video stream | Decoder (codec xyz) not found
    """
    head = stderr.split("Output #0", 1)[0]
    opened = re.search(r"^(\[[^\]]*\]\s*)*Input #0", head, re.MULTILINE) is not None
    streams = [(m["type"].lower(), m["codec"]) for m in _INPUT_STREAM.finditer(head)]
    specific = [ln for ln in damage_lines(stderr) if ln and not _GENERIC.search(ln)]
    detail = " | ".join(dict.fromkeys(specific))
    if not opened:
        if is_text(sample):
            kind = "not a video: the file holds text"
        elif sample[4:8] == b"ftyp" and "moov atom not found" in stderr:
            kind = "cannot open: an MP4 cut off before its index (moov atom) was written"
        else:
            kind = "cannot open: not a video or a damaged header"
    elif not any(t == "video" for t, _ in streams):
        held = " and ".join(f"{t} ({c})" for t, c in streams) or "no streams"
        return f"no video stream: the file holds {held}"
    elif any(_DECODER.search(ln) for ln in specific):
        kind = "cannot decode the video stream"
    else:
        kind = "decoding failed"
        detail = detail or last_error_lines(stderr)
    return f"{kind} | {detail}".replace(",", ";")[:400] if detail else kind.replace(",", ";")
