import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import lavfi_testsrc, make_video, require
from scenebias.framepack import count_frames, read_frames
from scenebias.frames import BadVideoError, extract_shard, extract_video, pack_name
from scenebias.media import FFMPEG_ENV, ffmpeg_exe, ffmpeg_version, parse_input_stream

GOOD = {
    # name: (encoder options, expected frames, expected (w, h) at short side 32)
    "h264.mp4": (lavfi_testsrc() + ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 25, (42, 32)),
    "xvid.avi": (lavfi_testsrc() + ["-c:v", "mpeg4", "-vtag", "XVID"], 25, (42, 32)),
    "mjpeg.avi": (lavfi_testsrc() + ["-c:v", "mjpeg"], 25, (42, 32)),
    "vp9.webm": (lavfi_testsrc() + ["-c:v", "libvpx-vp9", "-b:v", "200k"], 25, (42, 32)),
    "odd.mp4": (lavfi_testsrc("63x47") + ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 25, (44, 32)),
    "odd_mpeg4.avi": (lavfi_testsrc("63x47") + ["-c:v", "mpeg4"], 25, (44, 32)),
    "portrait.mp4": (lavfi_testsrc("72x128") + ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 25, (32, 56)),
    "one_frame.mp4": (lavfi_testsrc() + ["-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"], 1, (42, 32)),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Good and bad videos, all made here with the real ffmpeg."""
    root = tmp_path_factory.mktemp("videos")
    for name, (args, _, _) in GOOD.items():
        make_video(root / name, *args)
    make_video(root / "whole.mp4", *lavfi_testsrc(seconds=2), "-c:v", "libx264", "-pix_fmt", "yuv420p")
    make_video(root / "whole_faststart.mp4", *lavfi_testsrc(seconds=2), "-c:v", "libx264", "-movflags", "+faststart")
    make_video(root / "whole.avi", *lavfi_testsrc(seconds=2), "-c:v", "mpeg4")
    for name in ("whole.mp4", "whole_faststart.mp4", "whole.avi"):
        data = (root / name).read_bytes()
        (root / f"truncated_{name}").write_bytes(data[: len(data) // 2])
    make_video(root / "audio_only.mp4", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac")
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("this is a text file, not a video\n")
    header = bytearray((root / "whole_faststart.mp4").read_bytes())
    header[:48] = bytes(range(48))  # the MP4's first boxes (ftyp, the start of moov) overwritten
    (root / "broken_header.mp4").write_bytes(bytes(header))
    return root


@pytest.mark.parametrize("name", sorted(GOOD))
def test_codecs_and_odd_sizes_extract(videos, tmp_path, name):
    _, n_frames, (w, h) = GOOD[name]
    record = extract_video("v", videos / name, tmp_path / "v.zip", short_side=32, jpeg_qscale=3)
    assert record.status == "ok", record.error
    assert (record.n_frames, record.w, record.h) == (n_frames, w, h)
    assert record.fps == pytest.approx(25)
    frames = read_frames(tmp_path / "v.zip")
    assert frames.shape == (n_frames, h, w, 3)
    assert count_frames(tmp_path / "v.zip") == n_frames


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty.mp4", "empty file"),
        ("text.mp4", "not a video: the file holds text"),
        ("audio_only.mp4", "no video stream: the file holds audio"),
        ("broken_header.mp4", "cannot open: not a video or a damaged header"),
        ("truncated_whole.mp4", "an MP4 cut off before its index"),
        ("truncated_whole_faststart.mp4", "truncated"),
        ("truncated_whole.avi", "truncated"),
        ("does_not_exist.mp4", "file not found"),
    ],
)
def test_bad_videos_are_recorded_not_raised(videos, tmp_path, name, reason):
    record = extract_video("v", videos / name, tmp_path / "v.zip", short_side=32, jpeg_qscale=3)
    assert record.status == "failed"
    assert pd.Series([record.error]).str.contains(reason).all(), record.error
    assert not (tmp_path / "v.zip").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary leftovers


def test_pack_holds_the_same_jpegs_as_plain_ffmpeg(videos, tmp_path):
    extract_video("v", videos / "h264.mp4", tmp_path / "v.zip", short_side=32, jpeg_qscale=2)
    out = tmp_path / "plain"
    out.mkdir()
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-threads", "1", "-i", str(videos / "h264.mp4"), "-vf",
         "scale=if(lt(iw\\,ih)\\,32\\,-2):if(lt(iw\\,ih)\\,-2\\,32):flags=area", "-fps_mode", "passthrough",
         "-q:v", "2", "-start_number", "0", str(out / "%06d.jpg")],
        check=True,
    )  # fmt: skip
    with zipfile.ZipFile(tmp_path / "v.zip") as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        names = sorted(zf.namelist())
        assert names == sorted(p.name for p in out.iterdir())
        assert all(zf.read(n) == (out / n).read_bytes() for n in names)


def test_frame_indices_are_zero_based_and_ordered(videos, tmp_path):
    extract_video("v", videos / "h264.mp4", tmp_path / "v.zip", short_side=32, jpeg_qscale=2)
    all_frames = read_frames(tmp_path / "v.zip")
    some = read_frames(tmp_path / "v.zip", [0, 24, 3])
    assert np.array_equal(some, all_frames[[0, 24, 3]])


def shard_table(names):
    return pd.DataFrame({"video_id": [Path(n).stem for n in names], "path": names})


def test_shard_skips_bad_videos_and_keeps_the_good(videos, tmp_path):
    names = ["h264.mp4", "empty.mp4", "xvid.avi", "text.mp4"]
    index = extract_shard(shard_table(names), videos, tmp_path / "packs", 32, 2, "skip", workers=2)
    assert index["video_id"].tolist() == ["h264", "empty", "xvid", "text"]
    assert index["status"].tolist() == ["ok", "failed", "ok", "failed"]
    assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == ["h264.zip", "xvid.zip"]
    assert (index.loc[index.status == "ok", "jpeg_qscale"] == 2).all()


def test_on_bad_video_fail_raises_with_the_video_and_reason(videos, tmp_path):
    with pytest.raises(BadVideoError, match=r"empty: empty file"):
        extract_shard(shard_table(["h264.mp4", "empty.mp4"]), videos, tmp_path / "packs", 32, 2, "fail")


def test_paths_escaping_the_root_are_refused(videos, tmp_path):
    table = pd.DataFrame({"video_id": ["x"], "path": ["../../etc/passwd"]})
    index = extract_shard(table, videos, tmp_path / "packs", 32, 2)
    assert index.loc[0, "status"] == "failed" and "escapes" in index.loc[0, "error"]


def chroma_subsampling(jpeg: bytes) -> tuple[int, int]:
    """(horizontal, vertical) chroma subsampling of a baseline JPEG, from its SOF0 header's per-component sampling
    factors: (2, 2) is 4:2:0, (1, 1) is 4:4:4."""
    i = jpeg.index(b"\xff\xc0") + 10  # marker, length, precision, height, width, number of components
    factors = [jpeg[i + 3 * c + 1] for c in range(jpeg[i - 1])]  # (id, sampling, table) per component
    luma, chroma = factors[0], factors[1]
    return (luma >> 4) // (chroma >> 4), (luma & 15) // (chroma & 15)


@pytest.mark.parametrize("chroma, subsampling", [(420, (2, 2)), (444, (1, 1))])
def test_jpeg_chroma_subsampling_is_a_setting(videos, tmp_path, chroma, subsampling):
    """frames.jpeg_chroma: 4:2:0 as real footage (the paper path), or 4:4:4 for the synthetic world's thin limbs."""
    record = extract_video("v", videos / "h264.mp4", tmp_path / "v.zip", 32, 2, jpeg_chroma=chroma)
    assert record.status == "ok", record.error
    with zipfile.ZipFile(tmp_path / "v.zip") as zf:
        assert {chroma_subsampling(zf.read(n)) for n in zf.namelist()} == {subsampling}


# Variable frame rate: 50 frames at 25 fps, then 10 frames 0.5 s apart. The header says 25 fps over 6.5 s (~163
# frames); all 60 frames are there and decode without an error. (MP4 reports the average rate, 60 frames' worth.)
VFR_PTS = "setpts='if(lt(N,50),N/25,2+(N-50)/2)/TB'"
VFR = {
    "vfr.mkv": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "vfr.avi": ["-c:v", "mpeg4"],  # AVI stores the gaps as empty frames, as a dropped-frame capture does
}


@pytest.mark.parametrize("name", sorted(VFR))
def test_variable_frame_rate_video_keeps_all_its_frames(tmp_path, name):
    video = make_video(
        tmp_path / name, *lavfi_testsrc(seconds=10), "-frames:v", "60", "-vf", VFR_PTS, "-fps_mode", "vfr", *VFR[name]
    )
    header = parse_input_stream(subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video)], capture_output=True,
                                               text=True).stderr)  # fmt: skip
    assert header.duration * header.fps > 2 * 60  # duration x nominal rate would call it truncated
    record = extract_video("v", video, tmp_path / "v.zip", short_side=32, jpeg_qscale=3)
    assert record.status == "ok", record.error
    assert record.n_frames == count_frames(tmp_path / "v.zip") == 60
    frames = read_frames(tmp_path / "v.zip", [0, 49, 50, 59])
    assert not np.array_equal(frames[1], frames[2]) and not np.array_equal(frames[2], frames[3])


def test_failure_reasons_carry_no_ffmpeg_internals(videos, tmp_path):
    """ffmpeg prefixes its messages with internal context ("[in#0/avi @ 0x55d0...]"); reasons leave it out."""
    for name in ("truncated_whole.avi", "truncated_whole_faststart.mp4", "text.mp4", "truncated_whole.mp4"):
        record = extract_video("v", videos / name, tmp_path / "v.zip", short_side=32, jpeg_qscale=3)
        assert record.status == "failed" and record.error
        assert " @ 0x" not in record.error and "[error]" not in record.error and "[in#" not in record.error, (
            record.error
        )


def test_a_255_character_id_keeps_its_frames_and_its_shard(videos, tmp_path):
    long_id = "v" * 250 + "_long"
    table = pd.DataFrame({"video_id": ["h264", long_id, "xvid"], "path": ["h264.mp4", "h264.mp4", "xvid.avi"]})
    index = extract_shard(table, videos, tmp_path / "packs", 32, 2, workers=2)
    assert index["status"].tolist() == ["ok", "ok", "ok"], index["error"].tolist()
    pack = index.set_index("video_id").loc[long_id, "pack"]
    assert pack != f"{long_id}.zip" and len(pack.encode()) <= 200 and pack.startswith("vvvv")
    assert count_frames(tmp_path / "packs" / pack) == 25
    assert pack_name("v" * 250 + "_other") != pack  # distinct ids keep distinct names


def test_a_video_whose_pack_cannot_be_written_fails_alone(videos, tmp_path):
    packs = tmp_path / "packs"
    (packs / "xvid.zip").mkdir(parents=True)  # a folder in the way of one video's pack
    index = extract_shard(shard_table(["h264.mp4", "xvid.avi", "mjpeg.avi"]), videos, packs, 32, 2, workers=2)
    assert index["status"].tolist() == ["ok", "failed", "ok"]
    assert "IsADirectoryError" in index.loc[1, "error"]
    assert sorted(p.name for p in packs.iterdir()) == ["h264.zip", "mjpeg.zip", "xvid.zip"]
    assert not list(packs.glob(".*"))  # no temporary pack left behind


def test_symbolic_links_are_followed_and_the_listed_path_kept(videos, tmp_path):
    """A linked class folder and a linked video file are read where they point (outside the root, too); a broken
    link is a recorded failure."""
    root = tmp_path / "root"
    (root / "jump").mkdir(parents=True)
    (root / "jump" / "linked.mp4").symlink_to(videos / "h264.mp4")
    (root / "run").symlink_to(videos, target_is_directory=True)
    (root / "jump" / "broken.mp4").symlink_to(tmp_path / "nowhere.mp4")
    table = pd.DataFrame({"video_id": ["a", "b", "c"], "path": ["jump/linked.mp4", "run/xvid.avi", "jump/broken.mp4"]})
    index = extract_shard(table, root, tmp_path / "packs", 32, 2)
    assert index["status"].tolist() == ["ok", "ok", "failed"]
    assert index["n_frames"].tolist()[:2] == [25, 25] and "broken symbolic link" in index.loc[2, "error"]


# The broken files and the reason each must give, on the pinned ffmpeg (the wheel's 9.0) and on Debian 12's 5.1:
# the kind before " | " is what the run summary groups by.
BROKEN = {
    "truncated_whole_faststart.mp4": "truncated",
    "text.mp4": "not a video: the file holds text",
    "empty.mp4": "empty file (0 bytes)",
    "broken_header.mp4": "cannot open: not a video or a damaged header",
    "truncated_whole.mp4": "cannot open: an MP4 cut off before its index (moov atom) was written",
    "audio_only.mp4": "no video stream: the file holds audio (aac)",
}


def other_ffmpeg() -> str | None:
    """A second ffmpeg to test against: $SCENEBIAS_TEST_FFMPEG, else the system's (`.ci/run` installs Debian's)."""
    return os.environ.get("SCENEBIAS_TEST_FFMPEG") or shutil.which("ffmpeg")


@pytest.fixture
def use_ffmpeg(monkeypatch):
    """Switch the ffmpeg in use for one test (ffmpeg_exe is cached), restoring the default afterwards."""

    def use(exe: str | None) -> None:
        if exe:
            monkeypatch.setenv(FFMPEG_ENV, exe)
        else:
            monkeypatch.delenv(FFMPEG_ENV, raising=False)
        ffmpeg_exe.cache_clear()

    yield use
    monkeypatch.delenv(FFMPEG_ENV, raising=False)
    ffmpeg_exe.cache_clear()


@pytest.mark.parametrize("which", ["pinned", "system"])
def test_broken_files_give_the_same_clear_reason_on_both_ffmpegs(videos, tmp_path, use_ffmpeg, which):
    """The reasons are read from what ffmpeg says, so they stay clear on the wheel's ffmpeg 9 and Debian's 5.1,
    whose messages differ ("Trailing option(s)...", "Format mov... detected only with low score" are not reasons)."""
    import imageio_ffmpeg

    pinned = imageio_ffmpeg.get_ffmpeg_exe()
    exe = pinned if which == "pinned" else other_ffmpeg()
    require(exe is not None, "a system ffmpeg besides the pinned one (Debian: apt-get install ffmpeg; .ci/run does)")
    if which == "system":
        assert ffmpeg_version(exe) != ffmpeg_version(pinned), "the system ffmpeg is the pinned one"
    use_ffmpeg(exe)
    assert ffmpeg_exe() == exe
    for name, kind in BROKEN.items():
        record = extract_video("v", videos / name, tmp_path / "v.zip", short_side=32, jpeg_qscale=3)
        head = record.error.split(" | ")[0]
        assert record.status == "failed" and head.startswith(kind), (name, ffmpeg_version(exe), record.error)
        for noise in ("Trailing option", "low score", "Invalid data found", "Error opening", "/"):
            assert noise not in head, (name, record.error)


def test_the_pinned_ffmpeg_is_used_whatever_is_on_path(tmp_path, use_ffmpeg, monkeypatch):
    """PATH's ffmpeg is never picked up; $SCENEBIAS_FFMPEG names another one, and a wrong value is an error."""
    import imageio_ffmpeg

    from scenebias.media import FFmpegNotFound

    decoy = tmp_path / "bin" / "ffmpeg"
    decoy.parent.mkdir()
    decoy.write_text("#!/bin/sh\nexit 1\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{decoy.parent}{os.pathsep}{os.environ['PATH']}")
    use_ffmpeg(None)
    assert ffmpeg_exe() == imageio_ffmpeg.get_ffmpeg_exe()
    use_ffmpeg(str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FFmpegNotFound, match=FFMPEG_ENV):
        ffmpeg_exe()


# Names that are ffmpeg, shell or format-string syntax elsewhere: each is only a name here.
ODD_NAMES = ["Progress 100%.mp4", "50%off.mp4", "%d.mp4", "%%.mp4", "{}.mp4", "-rf.mp4", "a'b\"c $(x).mp4"]


def test_odd_names_are_data_not_syntax(videos, tmp_path):
    """Ids with '%', '%d', '%%', '{}', a leading '-' or quotes keep their frames, also when the temporary folder's
    own path holds a '%' (the output pattern escapes it)."""
    root = tmp_path / "root"
    root.mkdir()
    for name in ODD_NAMES:
        shutil.copy(videos / "h264.mp4", root / name)
    table = pd.DataFrame({"video_id": [Path(n).stem for n in ODD_NAMES], "path": ODD_NAMES})
    index = extract_shard(table, root, tmp_path / "packs", 32, 2, workers=2)
    assert index["status"].tolist() == ["ok"] * len(ODD_NAMES), index["error"].tolist()
    assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == sorted(f"{Path(n).stem}.zip" for n in ODD_NAMES)
    work = tmp_path / "tmp 50%d %%"
    work.mkdir()
    record = extract_video("%d", root / "%d.mp4", tmp_path / "x.zip", 32, 2, workdir=work)
    assert record.status == "ok" and count_frames(tmp_path / "x.zip") == 25, record.error
    assert list(work.iterdir()) == []
