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
    reconcile_with_disk,
    shard_names,
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
    with pytest.raises(ManifestError, match="does not exist"):
        reconcile_with_disk(pd.DataFrame({"path": []}), tmp_path / "nowhere")


def test_shards_are_fixed_size_runs_of_sorted_ids(tmp_path):
    table = pd.DataFrame(
        {"video_id": [f"v{i:03d}" for i in range(10)][::-1], "path": "p", "label": 0, "label_name": "a"}
    )
    manifest = assign_shards(table, 4)
    assert manifest["video_id"].is_monotonic_increasing
    assert manifest["shard"].value_counts().sort_index().tolist() == [4, 4, 2]
    write_manifest(manifest, {"listed": 10}, tmp_path / "m.csv", tmp_path / "r.json")
    assert shard_names(tmp_path / "m.csv") == ["0000", "0001", "0002"]
    assert json.loads((tmp_path / "r.json").read_text())["shards"] == 3


def test_linked_class_folders_and_files_are_found(tmp_path):
    """A class folder linked in from elsewhere and a linked file count as on disk under their listed paths; a link
    back up the tree is not walked forever."""
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


def test_no_listed_video_on_disk_is_a_clear_error(tmp_path):
    list_dir, video_root = write_tree(tmp_path, {"trainlist01.txt": "jump/a.mp4 1\nrun/b.mp4 2\n"}, ["jump/x.mp4"])
    with pytest.raises(ManifestError, match=r"none of the 2 listed videos is under .*videos \(e.g. jump/a.mp4\)"):
        reconcile_with_disk(read_ucf_style(list_dir), video_root)
