import json
from pathlib import Path

import pandas as pd
import pytest

from scenebias.datasets.ucf_lists import read_ucf_style
from scenebias.manifest import (
    ManifestError,
    assign_shards,
    check_relative_path,
    check_video_id,
    folder_state,
    manifest_report,
    reconcile_with_disk,
    shard_names,
    shard_versions,
    write_manifest,
)


def write_tree(root: Path, lists: dict[str, str], videos: list[str]) -> tuple[Path, Path]:
    list_dir, video_root = root / "lists", root / "videos"
    list_dir.mkdir(parents=True)
    (list_dir / "classInd.txt").write_text("1 jump\n2 run\n")
    for name, text in lists.items():
        (list_dir / name).write_text(text)
    for rel in videos:
        (video_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (video_root / rel).write_bytes(b"x")
    return list_dir, video_root


def test_reads_ucf_style_lists_with_roles(tmp_path):
    list_dir, _ = write_tree(
        tmp_path,
        {
            "trainlist01.txt": "jump/a.mp4 1\nrun/b.mp4 2\n",
            "testlist01.txt": "run/c.mp4\n",
            "trainlist02.txt": "run/c.mp4 2\n",
            "testlist02.txt": "jump/a.mp4\nrun/b.mp4\n",
        },
        [],
    )
    table = read_ucf_style(list_dir).set_index("video_id")
    assert table.loc["a", "label"] == 0 and table.loc["b", "label_name"] == "run"
    assert table.loc["a", ["split1", "split2"]].tolist() == ["train", "test"]
    assert table.loc["c", ["split1", "split2"]].tolist() == ["test", "train"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("jump/a.mp4 2", r"trainlist01.txt:2: label 2 disagrees"),
        ("swim/a.mp4 1", r"trainlist01.txt:2: class folder 'swim' is not in classInd"),
        ("jump/a.mp4 7", r"trainlist01.txt:2: label '7' is not a class index"),
        ("jump/a.mp4 1 extra", r"trainlist01.txt:2: expected"),
        ("../jump/a.mp4 1", r"trainlist01.txt:2: path '../jump/a.mp4' escapes"),
        ("/abs/jump/a.mp4 1", r"trainlist01.txt:2: path '/abs/jump/a.mp4' escapes"),
        ("jump/x.mp4 1", r"trainlist01.txt:2: duplicate video id 'x'"),
    ],
)
def test_malformed_lines_fail_with_file_and_line(tmp_path, line, message):
    list_dir, _ = write_tree(tmp_path, {"trainlist01.txt": f"jump/x.mp4 1\n{line}\n"}, [])
    with pytest.raises(ManifestError, match=message):
        read_ucf_style(list_dir)


def test_bad_class_index_fails_with_line(tmp_path):
    list_dir, _ = write_tree(tmp_path, {"trainlist01.txt": "jump/a.mp4 1\n"}, [])
    (list_dir / "classInd.txt").write_text("1 jump\ntwo run\n")
    with pytest.raises(ManifestError, match=r"classInd.txt:2"):
        read_ucf_style(list_dir)


@pytest.mark.parametrize("bad", ["", "a/b", "a\\b", "..", "x..y", ".hidden", "a\nb"])
def test_video_ids_that_could_escape_are_rejected(bad):
    with pytest.raises(ManifestError, match="invalid video id"):
        check_video_id(bad, "list.txt:3")


def test_relative_paths_are_normalised():
    assert check_relative_path("a\\b.avi", "x") == "a/b.avi"
    with pytest.raises(ManifestError):
        check_relative_path("a/../../b.avi", "x")


def test_missing_and_unlisted_videos_are_reported_not_fatal(tmp_path):
    list_dir, video_root = write_tree(
        tmp_path,
        {"trainlist01.txt": "".join(f"jump/v{i}.mp4 1\n" for i in range(8))},
        [f"jump/v{i}.mp4" for i in range(5)] + ["run/stray1.avi", "run/stray2.mp4", "jump/notes.txt"],
    )
    listed = read_ucf_style(list_dir)
    manifest, report = reconcile_with_disk(listed, video_root)
    assert len(manifest) == 5
    assert report["missing"] == 3 and report["missing_examples"] == [
        "jump/v5.mp4",
        "jump/v6.mp4",
        "jump/v7.mp4",
    ]
    assert report["unlisted"] == 2 and report["unlisted_examples"] == ["run/stray1.avi", "run/stray2.mp4"]


def test_missing_video_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match=r"does not exist; check the dataset's root and its options.video_dir"):
        reconcile_with_disk(pd.DataFrame({"path": []}), tmp_path / "nowhere")


def shard_members(ids: list[str], shard_size: int) -> dict[str, frozenset]:
    table = pd.DataFrame({"video_id": ids, "path": "p", "label": 0, "label_name": "a"})
    manifest = assign_shards(table, shard_size)
    return {name: frozenset(group["video_id"]) for name, group in manifest.groupby("shard")}


def test_shards_are_bounded_and_named_by_their_videos(tmp_path):
    table = pd.DataFrame(
        {"video_id": [f"v{i:03d}" for i in range(300)][::-1], "path": "p", "label": 0, "label_name": "a"}
    )
    manifest = assign_shards(table, 40)
    assert manifest["video_id"].is_monotonic_increasing  # rows stay in id order; shards are a column
    sizes = manifest["shard"].value_counts()
    assert sizes.max() <= 40 and 5 <= len(sizes) <= 30
    assert manifest["shard"].str.fullmatch(r"[0-9a-f]{8}").all()
    assert assign_shards(table.sample(frac=1, random_state=0), 40).equals(manifest)  # order of rows does not matter
    write_manifest(manifest, {"listed": 300}, tmp_path / "m.csv", tmp_path / "r.json")
    assert shard_names(tmp_path / "m.csv") == sorted(sizes.index)
    assert json.loads((tmp_path / "r.json").read_text())["shards"] == len(sizes)


@pytest.mark.parametrize("n_videos, shard_size", [(1000, 300), (1000, 50), (120, 10)])
def test_one_added_or_removed_video_changes_few_shards(n_videos, shard_size):
    """Fixed-size runs of sorted ids would move every shard after the new video; stable shards change one, rarely
    two or three, and every other shard keeps its name and its videos."""
    ids = [f"clip {i}" for i in range(n_videos)]
    before = shard_members(ids, shard_size)
    changed = []
    for extra in range(40):
        after = shard_members([*ids, f"new {extra}"], shard_size)
        changed.append(sum(before.get(name) != members for name, members in after.items()))
        removed = shard_members(ids[:extra] + ids[extra + 1 :], shard_size)
        changed.append(sum(before.get(name) != members for name, members in removed.items()))
    assert max(changed) <= 3 and sum(changed) / len(changed) <= 1.8, changed


def test_shard_versions_change_only_for_the_changed_shard(tmp_path):
    table = pd.DataFrame({"video_id": [f"v{i}" for i in range(50)], "path": [f"a/v{i}.mp4" for i in range(50)],
                          "label": 0, "label_name": "a", "size_bytes": 10, "mtime_ns": 1})  # fmt: skip
    manifest = assign_shards(table, 10)
    manifest.to_csv(tmp_path / "m.csv", index=False)
    before = shard_versions(tmp_path / "m.csv")
    manifest.loc[manifest["video_id"] == "v7", "mtime_ns"] = 2  # the video was replaced
    manifest.to_csv(tmp_path / "m.csv", index=False)
    after = shard_versions(tmp_path / "m.csv")
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {manifest.set_index("video_id").loc["v7", "shard"]}


def test_folder_state_notices_added_removed_and_replaced_videos(tmp_path):
    import os

    root = tmp_path / "videos"
    (root / "walk").mkdir(parents=True)
    (root / "walk" / "a.mp4").write_bytes(b"x")
    (root / "walk" / "notes.txt").write_text("not a video")
    first = folder_state(root)
    assert first.startswith("1 video files, 1 bytes") and folder_state(root) == first
    (root / "walk" / "notes.txt").write_text("edited")  # not a video: not watched
    assert folder_state(root) == first
    (root / "walk" / "b.mp4").write_bytes(b"yy")
    added = folder_state(root)
    assert added.startswith("2 video files, 3 bytes") and added != first
    os.utime(root / "walk" / "b.mp4", ns=(1, 1))  # replaced by a file of the same size
    assert folder_state(root) != added
    (root / "walk" / "b.mp4").unlink()
    (root / "walk" / "c.mp4").symlink_to(root / "gone.mp4")
    state = folder_state(root)
    assert state != first and "1 unreadable path(s)" in state


def test_linked_class_folders_and_files_are_found(tmp_path):
    """A class folder linked in from elsewhere and a linked file count as on disk under their listed paths; a link
    back up the tree is not walked forever, and is one recorded problem."""
    list_dir, video_root = write_tree(
        tmp_path, {"trainlist01.txt": "jump/a.mp4 1\nrun/b.mp4 2\nrun/c.mp4 2\n"}, ["jump/a.mp4"]
    )
    (tmp_path / "other" / "run").mkdir(parents=True)
    (tmp_path / "other" / "run" / "b.mp4").write_bytes(b"x")
    (video_root / "run").symlink_to(tmp_path / "other" / "run", target_is_directory=True)
    (tmp_path / "other" / "run" / "c.mp4").symlink_to(video_root / "jump" / "a.mp4")
    (video_root / "jump" / "loop").symlink_to(video_root, target_is_directory=True)
    manifest, report = reconcile_with_disk(read_ucf_style(list_dir), video_root)
    assert manifest["path"].tolist() == ["jump/a.mp4", "run/b.mp4", "run/c.mp4"]
    assert report["missing"] == 0 and report["unlisted"] == 0
    assert report["unreadable_paths"] == 1 and report["unreadable_examples"][0]["path"] == "jump/loop"
    assert "symbolic link loop" in report["unreadable_examples"][0]["problem"]
    assert (manifest["size_bytes"] == 1).all() and (manifest["mtime_ns"] > 0).all()


def test_link_loops_and_broken_links_are_one_problem_each_not_a_crash(tmp_path):
    """A link to itself, two links pointing at each other (ELOOP), a broken link to a file and a broken link to a
    class folder: the listed videos are kept, each bad path is recorded once with its reason, and a listed path
    that is one of them is missing with that reason."""
    list_dir, video_root = write_tree(
        tmp_path, {"trainlist01.txt": "jump/a.mp4 1\njump/self.mp4 1\n"}, ["jump/a.mp4", "run/b.mp4"]
    )
    (video_root / "jump" / "self.mp4").symlink_to("self.mp4")
    (video_root / "run" / "ping.mp4").symlink_to("pong.mp4")
    (video_root / "run" / "pong.mp4").symlink_to("ping.mp4")
    (video_root / "run" / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (video_root / "unmounted").symlink_to(tmp_path / "disk2" / "unmounted", target_is_directory=True)
    manifest, report = reconcile_with_disk(read_ucf_style(list_dir), video_root)
    assert manifest["path"].tolist() == ["jump/a.mp4"]
    problems = {e["path"]: e["problem"] for e in report["unreadable_examples"]}
    assert report["unreadable_paths"] == 5 and set(problems) == {
        "jump/self.mp4", "run/gone.mp4", "run/ping.mp4", "run/pong.mp4", "unmounted"
    }  # fmt: skip
    assert problems["jump/self.mp4"].startswith("symbolic link loop")
    assert problems["run/gone.mp4"].startswith("broken symbolic link") and "nowhere.mp4" in problems["run/gone.mp4"]
    assert problems["unmounted"].startswith("broken symbolic link")
    assert report["missing_examples"] == ["jump/self.mp4 (symbolic link loop (the link leads back to itself))"]


def test_top_level_counts_agree_with_the_adapter_selection():
    """An adapter that drops selected videos it did not find (Kinetics) says so in its selection; the top level of
    manifest_report.json counts them as listed and missing too."""
    disk = {"listed": 4, "used": 4, "missing": 0, "missing_examples": [], "unlisted": 0}
    selection = {"selected": 5, "used": 4, "missing": 1, "missing_examples": ["abc123"]}
    report = manifest_report(disk, {"kind": "kinetics", "selection": selection})
    assert (report["listed"], report["used"], report["missing"]) == (5, 4, 1)
    assert report["listed"] == selection["selected"] and report["missing"] == selection["missing"]
    assert report["missing_examples"] == ["abc123"] and report["adapter"]["selection"] == selection
    plain = manifest_report(disk, {"kind": "videos", "selection": {"layout": "class folders"}})
    assert plain["listed"] == 4 and plain["missing"] == 0


def test_no_listed_video_on_disk_is_a_clear_error(tmp_path):
    list_dir, video_root = write_tree(tmp_path, {"trainlist01.txt": "jump/a.mp4 1\nrun/b.mp4 2\n"}, ["jump/x.mp4"])
    with pytest.raises(ManifestError, match=r"none of the 2 listed videos is under .*videos \(e.g. jump/a.mp4\)"):
        reconcile_with_disk(read_ucf_style(list_dir), video_root)
