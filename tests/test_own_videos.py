"""Your own videos through the real workflow: a folder of class folders made here with ffmpeg (odd names, a class
folder linked in from elsewhere, a variable-frame-rate file, a panning camera, a broken file and a name too long
for a pack file name), run from the root of a fresh clone as README "Bring your own videos" says, through
manifest -> frames -> human boxes; the run ends with the summary of what it left out."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import fresh_clone, make_video, tool
from scenebias.framepack import count_frames

pytestmark = pytest.mark.workflow

LONG = "a walk in the park recorded on a phone " * 6  # 234 characters: the id outgrows a pack file name


def walker(path: Path, start: int, *extra: str) -> Path:
    """A white figure crossing a static blue scene: something for the motion backend to find."""
    return make_video(
        path, "-f", "lavfi", "-i", "color=c=0x336699:s=96x64:r=10:d=1.2", "-f", "lavfi", "-i",
        "color=c=white:s=10x24:r=10:d=1.2", "-filter_complex", f"[0][1]overlay=x='{start}+n*5':y=20{''.join(extra)}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", *(["-fps_mode", "vfr"] if extra else []),
    )  # fmt: skip


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    base = tmp_path_factory.mktemp("own")
    root = base / "my_videos"
    walker(root / "videos" / "walk" / "Morning walk (1).mp4", 4)
    walker(root / "videos" / "walk" / f"{LONG.strip()}.mp4", 30)
    # a class folder linked in from another disk, holding a variable-frame-rate video (6 frames at 10 fps, then
    # 6 frames 0.5 s apart: 12 frames, where duration x rate says ~36)
    walker(base / "elsewhere" / "wave" / "w1.mp4", 10)
    walker(base / "elsewhere" / "wave" / "vfr.mkv", 20, ",setpts='if(lt(N,6),N/10,0.6+(N-6)/2)/TB'")
    (root / "videos" / "wave").symlink_to(base / "elsewhere" / "wave", target_is_directory=True)
    # a panning camera: everything moves, the motion box covers the frame
    make_video(
        root / "videos" / "pan" / "street.mp4", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=1.2",
        "-vf", "crop=96:64:x='t*120':y=60", "-c:v", "libx264", "-pix_fmt", "yuv420p",
    )  # fmt: skip
    (root / "videos" / "pan" / "broken.mp4").write_text("not a video\n")
    checkout = fresh_clone(base / "scenebias")
    config = {
        "datasets": {"mine": {"kind": "videos", "root": str(root)}},
        "pretrain": {"dataset": "mine"},
        "scene": {"kmeans": {"fit_on": "mine"}},
        "manifest": {"shard_size": 3},
    }
    (checkout / "mine.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/mine/frames/index.csv", "results/mine/humans/quality.json"]
    proc = subprocess.run(
        [tool("snakemake"), "--cores", "2", *targets, "--configfile", "mine.yaml"],
        cwd=checkout, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return checkout / "results" / "mine", proc.stdout + proc.stderr


def test_manifest_of_class_folders(own_run):
    results, _ = own_run
    manifest = pd.read_csv(results / "manifest.csv", dtype={"shard": str}, keep_default_na=False).set_index("video_id")
    assert sorted(manifest.index) == sorted(
        ["walk__Morning walk (1)", f"walk__{LONG.strip()}", "wave__w1", "wave__vfr", "pan__street", "pan__broken"]
    )
    assert manifest.loc["wave__vfr", "path"] == "wave/vfr.mkv"  # the listed path through the link
    assert set(manifest["label_name"]) == {"pan", "walk", "wave"}
    assert set(manifest["split1"]) == {"train", "test"} and manifest["shard"].nunique() == 2


def test_frames_keep_every_good_video(own_run):
    results, _ = own_run
    index = pd.read_csv(results / "frames" / "index.csv", dtype={"shard": str}, keep_default_na=False)
    index = index.set_index("video_id")
    assert index["status"].to_dict() == {v: "failed" if v == "pan__broken" else "ok" for v in index.index}
    assert index.loc["wave__vfr", "n_frames"] == 12  # every frame of the variable-frame-rate file
    long = index.loc[f"walk__{LONG.strip()}"]
    assert long["n_frames"] == 12 and len(long["pack"]) <= 200
    assert count_frames(results / "frames" / long["shard"] / "packs" / long["pack"]) == 12
    report = json.loads((results / "frames" / "report.json").read_text())
    assert report["failed"] == 1 and "@ 0x" not in report["failed_videos"][0]["error"]


def test_boxes_drop_the_panning_camera(own_run):
    results, _ = own_run
    quality = json.loads((results / "humans" / "quality.json").read_text())
    assert quality["videos"] == 5
    dropped = quality["large_boxes_dropped"]
    assert dropped["videos"] == 1 and dropped["frames"] >= 10


def test_run_ends_with_what_it_left_out(own_run):
    _, output = own_run
    summary = output.split("Videos per dataset", 1)[1]
    assert "mine: 6 listed, 5 with frames, 1 left out:" in summary
    assert "1 failed: " in summary and "(e.g. pan__broken)" in summary
    assert "whole-frame motion boxes dropped" in summary
    assert "results/mine/frames/report.json" in summary


def test_report_table_of_videos_left_out(own_run):
    from scenebias.summary import left_out_markdown

    results, _ = own_run
    table = left_out_markdown(results.parent, ["mine"]).splitlines()
    assert table[0].startswith("| dataset | listed | with frames | missing on disk | failed |")
    dropped = json.loads((results / "humans" / "quality.json").read_text())["large_boxes_dropped"]["boxes"]
    assert dropped > 0 and table[2].startswith(
        "| mine | 6 | 5 | 0 | 1 | Error opening input: Invalid data found when processing input (1, e.g. pan__broken) "
        f"| {dropped} |"
    )


def test_a_list_naming_no_video_on_disk_ends_with_a_clear_message(tmp_path):
    """Every listed video missing: the manifest job fails with what is wrong, and the run's summary repeats it
    (no downstream job runs on an empty manifest)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "my_videos"
    (root / "videos" / "walk").mkdir(parents=True)
    (root / "list.csv").write_text("path,label\nwalk/a.mp4,walk\nwalk/b.mp4,walk\n")
    checkout = fresh_clone(tmp_path / "scenebias")
    config = {
        "datasets": {"mine": {"kind": "videos", "root": str(root), "options": {"list": "list.csv"}}},
        "pretrain": {"dataset": "mine"},
        "scene": {"kmeans": {"fit_on": "mine"}},
    }
    (checkout / "mine.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [tool("snakemake"), "--cores", "1", "results/mine/frames/index.csv", "--configfile", "mine.yaml"],
        cwd=checkout, capture_output=True, text=True, env=env,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "mine: no manifest: none of the 2 listed videos is under" in output, output[-3000:]
    assert "results/logs/manifest/mine.log" in output.split("Videos per dataset", 1)[1]
    assert "usage: merge_frame_index" not in output and "Finished jobid" not in output  # nothing ran after it
