"""Your own videos through the real workflow: a folder of class folders made here with ffmpeg (odd names, names
that are ffmpeg/shell/format syntax, a class folder linked in from elsewhere, a variable-frame-rate file, a panning
camera, a broken file, a name too long for a pack file name, link loops and broken links), run from the root of a
fresh clone as README "Bring your own videos" says, through manifest -> frames -> human boxes, in folder-scan mode
and (a second dataset on the same folder) with a list; the run ends with the summary of what it left out. The last
test changes the folder (adds, removes, replaces a video) and checks that only the changed shards rerun."""

import json
import os
import re
import shutil
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
# Names that are syntax somewhere (ffmpeg's output pattern, str.format, a shell, an option): each is only a name.
ODD = ["walk/Progress 100%.mp4", "walk/50%off.mp4", "-odd/%d.mp4", "-odd/100%%.mp4", "-odd/{}.mp4", "-odd/-rf.mp4"]
TARGETS = ["results/mine/frames/index.csv", "results/mine/humans/quality.json", "results/listed/frames/index.csv"]


def walker(path: Path, start: int, *extra: str) -> Path:
    """A white figure crossing a static blue scene: something for the motion backend to find."""
    return make_video(
        path, "-f", "lavfi", "-i", "color=c=0x336699:s=96x64:r=10:d=1.2", "-f", "lavfi", "-i",
        "color=c=white:s=10x24:r=10:d=1.2", "-filter_complex", f"[0][1]overlay=x='{start}+n*5':y=20{''.join(extra)}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", *(["-fps_mode", "vfr"] if extra else []),
    )  # fmt: skip


def run(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [tool("snakemake"), "--cores", "2", *args, "--configfile", "mine.yaml"],
        cwd=checkout, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("own")
    root = base / "my_videos"
    videos = root / "videos"
    walker(videos / "walk" / "Morning walk (1).mp4", 4)
    walker(videos / "walk" / f"{LONG.strip()}.mp4", 30)
    for i, name in enumerate(ODD):
        walker(videos / name, 2 + 3 * i)
    # a class folder linked in from another disk, holding a variable-frame-rate video (6 frames at 10 fps, then
    # 6 frames 0.5 s apart: 12 frames, where duration x rate says ~36)
    walker(base / "elsewhere" / "wave" / "w1.mp4", 10)
    walker(base / "elsewhere" / "wave" / "vfr.mkv", 20, ",setpts='if(lt(N,6),N/10,0.6+(N-6)/2)/TB'")
    (videos / "wave").symlink_to(base / "elsewhere" / "wave", target_is_directory=True)
    # a panning camera: everything moves, the motion box covers the frame
    make_video(
        videos / "pan" / "street.mp4", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=1.2",
        "-vf", "crop=96:64:x='t*120':y=60", "-c:v", "libx264", "-pix_fmt", "yuv420p",
    )  # fmt: skip
    (videos / "pan" / "broken.mp4").write_text("not a video\n")
    # links that lead nowhere or in circles: one recorded problem each, never a crash of the dataset
    (videos / "walk" / "loop").symlink_to("..", target_is_directory=True)  # back up the tree
    (videos / "walk" / "self.mp4").symlink_to("self.mp4")  # a link to itself (ELOOP)
    (videos / "pan" / "gone.mp4").symlink_to(base / "deleted.mp4")  # a broken link to a file
    (videos / "unmounted").symlink_to(base / "disk2" / "unmounted", target_is_directory=True)  # to a folder
    shutil.copy(videos / "walk" / "Morning walk (1).mp4", videos / "walk" / "two\nlines.mp4")  # no id: skipped
    # the same folder with a list: two videos, and a listed path that is a link loop (missing, with its reason)
    (root / "list.csv").write_text("path,label\nwalk/Progress 100%.mp4,walk\n-odd/%d.mp4,odd\nwalk/self.mp4,walk\n")
    checkout = fresh_clone(base / "scenebias")
    config = {
        "datasets": {
            "mine": {"kind": "videos", "root": str(root)},
            "listed": {"kind": "videos", "root": str(root), "options": {"list": "list.csv"}},
        },
        "pretrain": {"dataset": "mine"},
        "scene": {"kmeans": {"fit_on": "mine"}},
        "manifest": {"shard_size": 3},
    }
    (checkout / "mine.yaml").write_text(yaml.safe_dump(config))
    proc = run(checkout, *TARGETS)
    return checkout / "results" / "mine", proc.stdout + proc.stderr


MINE = ["walk__Morning walk (1)", f"walk__{LONG.strip()}", "wave__w1", "wave__vfr", "pan__street", "pan__broken"]
MINE += [name.removesuffix(".mp4").replace("/", "__") for name in ODD]


def test_manifest_of_class_folders(own_run):
    results, _ = own_run
    manifest = pd.read_csv(results / "manifest.csv", dtype=str, keep_default_na=False).set_index("video_id")
    assert sorted(manifest.index) == sorted(MINE)
    assert manifest.loc["wave__vfr", "path"] == "wave/vfr.mkv"  # the listed path through the link
    assert manifest.loc["-odd__%d", "path"] == "-odd/%d.mp4"
    assert set(manifest["label_name"]) == {"-odd", "pan", "walk", "wave"}
    assert set(manifest["split1"]) == {"train", "test"} and manifest["shard"].nunique() >= 3
    report = json.loads((results / "manifest_report.json").read_text())
    problems = {e["path"]: e["problem"] for e in report["unreadable_examples"]}
    assert report["unreadable_paths"] == 4 and set(problems) == {
        "pan/gone.mp4",
        "unmounted",
        "walk/loop",
        "walk/self.mp4",
    }
    assert report["adapter"]["selection"]["unusable_name_examples"] == ["walk/two\nlines.mp4"]


def test_frames_keep_every_good_video(own_run):
    results, _ = own_run
    index = pd.read_csv(results / "frames" / "index.csv", dtype={"shard": str}, keep_default_na=False)
    index = index.set_index("video_id")
    assert index["status"].to_dict() == {v: "failed" if v == "pan__broken" else "ok" for v in MINE}
    assert (index.loc[[n.removesuffix(".mp4").replace("/", "__") for n in ODD], "n_frames"] == 12).all()
    assert index.loc["wave__vfr", "n_frames"] == 12  # every frame of the variable-frame-rate file
    long = index.loc[f"walk__{LONG.strip()}"]
    assert long["n_frames"] == 12 and len(long["pack"]) <= 200
    assert count_frames(results / "frames" / long["shard"] / "packs" / long["pack"]) == 12
    report = json.loads((results / "frames" / "report.json").read_text())
    assert report["failed"] == 1 and report["failed_videos"][0]["error"].startswith("not a video: the file holds text")
    hparams = json.loads((results / "frames" / index.loc["pan__broken", "shard"] / "hparams.json").read_text())
    assert hparams["tools"]["ffmpeg"]["version"].startswith("ffmpeg version")
    assert hparams["tools"]["ffmpeg"]["chosen_by"] == "the imageio-ffmpeg wheel (default)"


def test_boxes_drop_the_panning_camera(own_run):
    results, _ = own_run
    quality = json.loads((results / "humans" / "quality.json").read_text())
    assert quality["videos"] == len(MINE) - 1
    assert quality["boxes"]["backend"] == "motion" and quality["boxes"]["are"].startswith("motion regions")
    dropped = quality["large_boxes_dropped"]
    assert dropped["videos"] == 1 and dropped["frames"] >= 10


def test_run_ends_with_what_it_left_out(own_run):
    _, output = own_run
    summary = output.split("Videos per dataset", 1)[1]
    n = len(MINE)
    assert f"mine: {n} listed, {n - 1} with frames, 1 left out:" in summary
    assert "1 failed: not a video: the file holds text (e.g. pan__broken)" in summary
    assert "whole-frame motion boxes dropped" in summary
    assert "results/mine/frames/report.json" in summary
    # links: one line per dataset, each problem once, with its kind
    assert re.search(
        r"mine: .*\n(.*\n)*?    4 path\(s\) on disk could not be read: broken symbolic link \(e\.g\. pan/gone\.mp4, "
        r"unmounted\); symbolic link loop \(e\.g\. walk/loop, walk/self\.mp4\)",
        summary,
    ), summary
    # what the boxes are: motion regions, with the caution
    assert "human boxes are motion regions (not person detections):" in summary
    assert "a person who does not move gets no box" in summary and "detector backend" in summary
    # the list: two videos kept, the listed link loop missing with its reason
    assert "listed: 3 listed, 2 with frames, 1 left out:" in summary
    assert "1 missing on disk (e.g. walk/self.mp4 (symbolic link loop" in summary


def test_report_table_of_videos_left_out(own_run):
    from scenebias.summary import left_out_markdown

    results, _ = own_run
    text = left_out_markdown(results.parent, ["mine"])
    table = text.splitlines()
    assert table[0].startswith("| dataset | listed | with frames | missing on disk | failed |")
    dropped = json.loads((results / "humans" / "quality.json").read_text())["large_boxes_dropped"]["boxes"]
    n = len(MINE)
    assert dropped > 0 and table[2].startswith(
        f"| mine | {n} | {n - 1} | 0 | 1 | not a video: the file holds text (1, e.g. pan__broken) | {dropped} | 4: "
        "broken symbolic link (e.g. pan/gone.mp4); symbolic link loop (e.g. walk/loop) | motion regions (not person "
        "detections): "
    ), table[2]
    assert "**Human boxes are motion regions (not person detections).** Caution: a box is wherever" in text


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


def jobs_run(output: str) -> dict[str, int]:
    """{rule: jobs} of what a real run executed, from Snakemake's "rule NAME:" / "localrule NAME:" lines."""
    counts: dict[str, int] = {}
    for rule in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, flags=re.M):
        counts[rule] = counts.get(rule, 0) + 1
    counts.pop("all", None)
    return counts


def shards_of(results: Path) -> dict[str, set[str]]:
    manifest = pd.read_csv(results / "manifest.csv", dtype=str, keep_default_na=False)
    return {name: set(group["video_id"]) for name, group in manifest.groupby("shard")}


def test_a_changed_folder_is_noticed_and_only_changed_shards_rerun(own_run):
    """Runs last (it changes the folder). Unchanged: nothing to do. Adding, removing or replacing a video rebuilds
    both manifests on that folder, and only the shards whose videos changed are extracted and boxed again; the list
    dataset, whose videos did not change, reruns nothing after its manifest."""
    results, _ = own_run
    checkout = results.parent.parent
    videos = Path(json.loads((results / "manifest_report.json").read_text())["video_root"])
    assert "Nothing to be done" in run(checkout, *TARGETS, "-n").stdout

    def change(action) -> tuple[dict, dict, set]:
        before = shards_of(results)
        action()
        plan = run(checkout, *TARGETS, "-n").stdout
        assert "Params have changed" in plan and "video files" in plan  # the manifest's reason: the folder changed
        counts = jobs_run((lambda p: p.stdout + p.stderr)(run(checkout, *TARGETS)))
        after = shards_of(results)
        changed = {name for name in {*before, *after} if before.get(name) != after.get(name)}  # new, gone, other
        assert "Nothing to be done" in run(checkout, *TARGETS, "-n").stdout
        return counts, after, changed

    counts, after, changed = change(lambda: walker(videos / "walk" / "added later.mp4", 7))
    assert "walk__added later" in set().union(*after.values())
    assert 1 <= len(changed) <= 4 and len(changed & set(after)) < len(after)
    assert counts == {"manifest": 2, "extract_frames": len(changed & set(after)), "merge_frame_index": 1,
                      "human_boxes": len(changed & set(after)), "merge_human_boxes": 1}, counts  # fmt: skip
    index = pd.read_csv(results / "frames" / "index.csv", keep_default_na=False).set_index("video_id")
    assert index.loc["walk__added later", "status"] == "ok" and index.loc["walk__added later", "n_frames"] == 12

    counts, after, changed = change(lambda: (videos / "-odd" / "{}.mp4").unlink())
    assert "-odd__{}" not in set().union(*after.values()) and 1 <= len(changed) <= 4
    assert counts.get("extract_frames", 0) == len(changed & set(after)) and counts["manifest"] == 2
    assert counts["merge_frame_index"] == 1 and counts["merge_human_boxes"] == 1

    replaced = videos / "walk" / "50%off.mp4"
    counts, after, changed = change(lambda: make_video(
        replaced, "-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p"
    ))  # fmt: skip
    shard = next(name for name, ids in after.items() if "walk__50%off" in ids)
    assert changed == set() and counts == {"manifest": 2, "extract_frames": 1, "merge_frame_index": 1,
                                           "human_boxes": 1, "merge_human_boxes": 1}, counts  # fmt: skip
    assert f"frames/{shard}/index.csv" in (results.parent / "logs" / "frames" / "mine" / f"{shard}.log").read_text()
    index = pd.read_csv(results / "frames" / "index.csv", keep_default_na=False).set_index("video_id")
    assert index.loc["walk__50%off", "n_frames"] == 20  # the new, longer video
