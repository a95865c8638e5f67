"""Dataset adapters on tiny trees in each dataset's official layout, with real (tiny) video files."""

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import lavfi_testsrc, make_video
from scenebias.datasets import DATASET_KINDS, read_diving48, read_hmdb51, read_kinetics, read_ucf101
from scenebias.manifest import ManifestError, reconcile_with_disk


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """One tiny real clip per container; the trees below copy them under the datasets' own names."""
    folder = tmp_path_factory.mktemp("clips")
    tiny = lavfi_testsrc("32x24", 0.2, 10)
    return {ext: make_video(folder / f"clip{ext}", *tiny) for ext in (".avi", ".mp4")}


def place(clips: dict[str, Path], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clips[path.suffix], path)


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + newline for line in lines).encode())
    return path


def adapt_and_reconcile(kind: str, root: Path, options: dict | None = None):
    table, video_root, report = DATASET_KINDS[kind].adapt(root, options or {})
    manifest, disk = reconcile_with_disk(table, video_root)
    return manifest, report, disk


# --- UCF101 ---------------------------------------------------------------------------------------------------

UCF_CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
# The real release: class folder and classInd say "HandstandPushups", the clips say "HandStandPushups".
UCF_FILES = {cls: cls.replace("Handstand", "HandStand") for cls in UCF_CLASSES}


def ucf_entry(cls: str, group: int, folder: str | None = None) -> str:
    return f"{folder or cls}/v_{UCF_FILES[cls]}_g{group:02d}_c01.avi"


def write_ucf_lists(root: Path) -> Path:
    """Official list formats with CRLF; split 2's testlist spells the folder like the clips (HandStand...)."""
    lists = root / "ucfTrainTestlist"
    write(lists / "classInd.txt", [f"{i} {c}" for i, c in enumerate(UCF_CLASSES, 1)], "\r\n")
    for split, (train_g, test_g) in {1: (8, 1), 2: (1, 8), 3: (8, 1)}.items():
        train = [f"{ucf_entry(c, train_g)} {i}" for i, c in enumerate(UCF_CLASSES, 1)]
        test = [ucf_entry(c, test_g, UCF_FILES[c] if split == 2 else None) for c in UCF_CLASSES]
        write(lists / f"trainlist{split:02d}.txt", train, "\r\n")
        write(lists / f"testlist{split:02d}.txt", test, "\r\n")
    return lists


@pytest.fixture
def ucf_root(tmp_path, clips) -> Path:
    for cls in UCF_CLASSES:
        for group in (1, 8):
            place(clips, tmp_path / "UCF-101" / ucf_entry(cls, group))
    write_ucf_lists(tmp_path)
    return tmp_path


def test_ucf101_reads_three_splits_with_the_handstand_quirk(ucf_root):
    assert b"\r\n" in (ucf_root / "ucfTrainTestlist" / "trainlist01.txt").read_bytes()
    manifest, report, disk = adapt_and_reconcile("ucf101", ucf_root)
    assert disk["missing"] == 0 and disk["unlisted"] == 0 and len(manifest) == 6
    rows = manifest.set_index("video_id")
    quirk = rows.loc["v_HandStandPushups_g01_c01"]
    assert (quirk["label"], quirk["label_name"]) == (1, "HandstandPushups")
    assert quirk["path"] == "HandstandPushups/v_HandStandPushups_g01_c01.avi"  # the folder as on disk
    assert quirk[["split1", "split2", "split3"]].tolist() == ["test", "train", "test"]
    assert rows.loc["v_YoYo_g08_c01", ["label", "split1", "split2"]].tolist() == [2, "train", "test"]
    assert report["n_classes"] == 3
    assert report["roles"] == {f"split{k}": {"test": 3, "train": 3} for k in (1, 2, 3)}


def test_ucf101_reads_only_the_chosen_splits(ucf_root):
    table, video_root, _ = DATASET_KINDS["ucf101"].adapt(ucf_root, {"splits": [2]})
    assert [c for c in table.columns if c.startswith("split")] == ["split2"]
    assert video_root == ucf_root / "UCF-101" and len(table) == 6


@pytest.mark.parametrize(
    "line, message",
    [
        ("YoYo/v_YoYo_g09_c01.avi 1", r"trainlist01.txt:4: label 1 disagrees with the class folder 'YoYo'"),
        ("Swim/v_Swim_g01_c01.avi 1", r"trainlist01.txt:4: class folder 'Swim' is not in classInd"),
        ("YoYo/v_YoYo_g09_c01.avi 9", r"trainlist01.txt:4: label '9' is not a class index"),
        ("../YoYo/v_YoYo_g09_c01.avi 3", r"trainlist01.txt:4: path '../YoYo/v_YoYo_g09_c01.avi' escapes"),
        ("YoYo/extra/v_YoYo_g09_c01.avi 3", r"trainlist01.txt:4: expected '<Class>/<video file>'"),
        ("YoYo/v_YoYo_g08_c01.avi 3", r"trainlist01.txt:4: duplicate video 'v_YoYo_g08_c01'"),
        ("YoYo/v_YoYo_g01_c01.avi 3", r"testlist01.txt:3: duplicate video 'v_YoYo_g01_c01': already 'train'"),
    ],
)
def test_ucf101_malformed_lists_name_file_and_line(tmp_path, line, message):
    lists = write_ucf_lists(tmp_path)
    with (lists / "trainlist01.txt").open("ab") as handle:
        handle.write(line.encode() + b"\r\n")
    with pytest.raises(ManifestError, match=message):
        read_ucf101(tmp_path)


def test_ucf101_missing_list_is_named(tmp_path):
    (write_ucf_lists(tmp_path) / "testlist03.txt").unlink()
    with pytest.raises(ManifestError, match=r"testlist03.txt: file not found"):
        read_ucf101(tmp_path)
    assert len(read_ucf101(tmp_path, splits=[1, 2])) == 6


# --- HMDB51 ---------------------------------------------------------------------------------------------------

# Real-style names (web titles with '!', '(', ')', '&', ';', '#'), and their tags in splits 1, 2, 3.
HMDB = {
    "brush_hair": {
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi": "121",
        "Brushing_Hair_(Tutorial)!_brush_hair_h_nm_np1_fr_goo_1.avi": "210",
        "Aussie_Hair_&_Co;_brush_hair_u_cm_np2_le_med_0.avi": "000",
    },
    "cartwheel": {
        "#122_Cartwheel_Lesson_cartwheel_f_cm_np1_ri_med_0.avi": "112",
        "Bodenturnen_2004_cartwheel_f_cm_np1_le_med_0.avi": "221",
        "Cartwheel!!!_cartwheel_f_nm_np1_fr_bad_2.avi": "000",
    },
}


def write_hmdb_splits(root: Path, extra: dict[str, list[str]] | None = None) -> Path:
    split_dir = root / "testTrainMulti_7030_splits"
    for cls, videos in HMDB.items():
        for k in (1, 2, 3):
            # The official files end each line with a space after the tag.
            lines = [f"{name} {tags[k - 1]} " for name, tags in videos.items()]
            write(split_dir / f"{cls}_test_split{k}.txt", lines + (extra or {}).get(f"{cls}{k}", []))
    return split_dir


@pytest.fixture
def hmdb_root(tmp_path, clips) -> Path:
    for cls, videos in HMDB.items():
        for name in videos:
            place(clips, tmp_path / "videos" / cls / name)
    write_hmdb_splits(tmp_path)
    return tmp_path


def test_hmdb51_reads_tags_and_odd_names(hmdb_root):
    manifest, report, disk = adapt_and_reconcile("hmdb51", hmdb_root)
    assert disk["missing"] == 0 and disk["unlisted"] == 0 and len(manifest) == 6
    rows = manifest.set_index("video_id")
    odd = rows.loc["Brushing_Hair_(Tutorial)!_brush_hair_h_nm_np1_fr_goo_1"]
    assert odd["path"] == "brush_hair/Brushing_Hair_(Tutorial)!_brush_hair_h_nm_np1_fr_goo_1.avi"
    assert (odd["label"], odd["label_name"]) == (0, "brush_hair")
    assert odd[["split1", "split2", "split3"]].tolist() == ["test", "train", ""]
    hash_name = rows.loc["#122_Cartwheel_Lesson_cartwheel_f_cm_np1_ri_med_0"]
    assert hash_name[["label", "split1", "split3"]].tolist() == [1, "train", "test"]
    assert (
        rows.loc["Aussie_Hair_&_Co;_brush_hair_u_cm_np2_le_med_0", ["split1", "split2", "split3"]].tolist() == [""] * 3
    )
    assert report["n_classes"] == 2 and report["unused_in_all_splits"] == 2
    assert report["roles"]["split1"] == {"test": 2, "train": 2, "unused": 2}
    assert report["roles"]["split3"] == {"test": 1, "train": 2, "unused": 3}


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {"cartwheel1": ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1"]},
            r"cartwheel_test_split1.txt:4: .*also listed",
        ),
        ({"brush_hair2": ["new_video_brush_hair_0.avi 3"]}, r"brush_hair_test_split2.txt:4: unknown tag '3'"),
        ({"brush_hair1": ["new_video_brush_hair_0.avi"]}, r"brush_hair_test_split1.txt:4: expected"),
        ({"brush_hair1": ["sub/new_video.avi 1"]}, r"brush_hair_test_split1.txt:4: invalid video id"),
        ({"brush_hair1": ["..avi 1"]}, r"brush_hair_test_split1.txt:4: invalid video id"),
        ({"cartwheel3": ["notes.txt 1"]}, r"cartwheel_test_split3.txt:4: 'notes.txt' is not a video"),
        ({"cartwheel1": ["Cartwheel!!!_cartwheel_f_nm_np1_fr_bad_2.avi 1"]}, r"cartwheel_test_split1.txt:4: duplicate"),
    ],
)
def test_hmdb51_malformed_splits_name_file_and_line(tmp_path, extra, message):
    write_hmdb_splits(tmp_path, extra)
    with pytest.raises(ManifestError, match=message):
        read_hmdb51(tmp_path)


def test_hmdb51_missing_split_file_is_named(tmp_path):
    (write_hmdb_splits(tmp_path) / "cartwheel_test_split2.txt").unlink()
    with pytest.raises(ManifestError, match=r"cartwheel_test_split2.txt is missing"):
        read_hmdb51(tmp_path)
    assert list(read_hmdb51(tmp_path, splits=[1, 3]).columns[-2:]) == ["split1", "split3"]


# --- Diving48 -------------------------------------------------------------------------------------------------

VOCAB = [
    ["Back", "15som", "05Twis", "FREE"],
    ["Back", "15som", "15Twis", "FREE"],
    ["Forward", "2som", "NoTwis", "PIKE"],
]
DIVES = ["-mmq0PT-u8k_00000", "-mmq0PT-u8k_00001", "_8Vy3dlHg2w_00003", "zJ1nEW-KQ1s_00012"]


def dive(name: str, label: int, start: int = 0, end: int = 60) -> dict:
    return {"vid_name": name, "label": label, "start_frame": start, "end_frame": end}


def write_diving_lists(root: Path, v2_train: list | None = None, v2_test: list | None = None) -> Path:
    (root / "Diving48_vocab.json").write_text(json.dumps(VOCAB))
    v2_train = v2_train if v2_train is not None else [dive(DIVES[0], 0), dive(DIVES[1], 2, 10, 95), dive(DIVES[2], 1)]
    (root / "Diving48_V2_train.json").write_text(json.dumps(v2_train))
    (root / "Diving48_V2_test.json").write_text(json.dumps(v2_test or [dive(DIVES[3], 2)]))
    # V1: another split of the same videos, one of them with another label (V2 corrected some labels).
    (root / "Diving48_train.json").write_text(json.dumps([dive(DIVES[0], 0), dive(DIVES[3], 2)]))
    (root / "Diving48_test.json").write_text(json.dumps([dive(DIVES[1], 1), dive(DIVES[2], 1)]))
    return root


@pytest.fixture
def diving_root(tmp_path, clips) -> Path:
    for name in DIVES:
        place(clips, tmp_path / "rgb" / f"{name}.mp4")
    return write_diving_lists(tmp_path)


def test_diving48_v2_and_v1(diving_root):
    manifest, report, disk = adapt_and_reconcile("diving48", diving_root)
    assert disk["missing"] == 0 and disk["unlisted"] == 0 and len(manifest) == 4
    rows = manifest.set_index("video_id")
    first = rows.loc[DIVES[1]]
    assert first[["path", "label", "label_name", "start_frame", "end_frame", "split1"]].tolist() == [
        f"{DIVES[1]}.mp4",
        2,
        "Forward_2som_NoTwis_PIKE",
        10,
        95,
        "train",
    ]
    assert report == {"kind": "diving48", "version": "V2", "n_classes": 3, "roles": {"split1": {"test": 1, "train": 3}}}
    v1, v1_report, _ = adapt_and_reconcile("diving48", diving_root, {"version": "V1"})
    assert v1.set_index("video_id").loc[DIVES[1], ["label", "split1"]].tolist() == [1, "test"]
    assert v1_report["roles"] == {"split1": {"test": 2, "train": 2}}


@pytest.mark.parametrize(
    "train, test, message",
    [
        (
            [dive(DIVES[0], 0), {"vid_name": DIVES[1], "start_frame": 0, "end_frame": 9}],
            None,
            r"V2_train.json\[1\]: missing key\(s\) \['label'\]",
        ),
        ([dive(DIVES[0], 0), dive(DIVES[1], 3)], None, r"V2_train.json\[1\]: label 3 is not a class index 0..2"),
        ([dive(DIVES[0], 0), dive(DIVES[1], True)], None, r"V2_train.json\[1\]: label True"),
        ([dive(DIVES[0], 0), dive(DIVES[1], 0, 50, 10)], None, r"V2_train.json\[1\]: start_frame 50 / end_frame 10"),
        ([dive(DIVES[0], 0), dive(DIVES[0], 1)], None, r"V2_train.json\[1\]: duplicate vid_name"),
        ([dive(DIVES[0], 0)], [dive(DIVES[0], 0)], r"V2_test.json\[0\]: duplicate vid_name .*V2_train.json\[0\]"),
        ([dive(DIVES[0], 0), dive("../x", 0)], None, r"V2_train.json\[1\]: invalid video id"),
        ([dive(DIVES[0], 0), "x"], None, r"V2_train.json\[1\]: expected an object"),
    ],
)
def test_diving48_malformed_entries_name_file_and_index(tmp_path, train, test, message):
    write_diving_lists(tmp_path, train, test)
    with pytest.raises(ManifestError, match=message):
        read_diving48(tmp_path)


def test_diving48_malformed_vocab_and_json(tmp_path):
    write_diving_lists(tmp_path)
    (tmp_path / "Diving48_vocab.json").write_text(json.dumps([VOCAB[0], ["Back", "15som", "FREE"]]))
    with pytest.raises(ManifestError, match=r"Diving48_vocab.json\[1\]: expected a list of 4"):
        read_diving48(tmp_path)
    write_diving_lists(tmp_path)
    (tmp_path / "Diving48_V2_train.json").write_text('[\n{"vid_name": "a",\n]')
    with pytest.raises(ManifestError, match=r"Diving48_V2_train.json:3: invalid JSON"):
        read_diving48(tmp_path)


# --- Kinetics -------------------------------------------------------------------------------------------------

# YouTube ids are 11 characters and may contain '-' and '_', so file names are parsed from the right.
KIN = {
    "-0B2EGKpsLw": ("train", "abseiling"),
    "a_b-c_d-e_f": ("train", "abseiling"),
    "0wR5jVB-WPk": ("train", "playing guitar"),
    "__underline": ("train", "playing guitar"),
    "Q1w2E3r4T5y": ("val", "abseiling"),
    "zz_Top_1234": ("val", "playing guitar"),
}


def clip_name(ytid: str, start: int = 34) -> str:
    return f"{ytid}_{start:06d}_{start + 10:06d}.mp4"


@pytest.fixture
def kinetics_folders(tmp_path, clips) -> Path:
    for ytid, (split, label) in KIN.items():
        place(clips, tmp_path / split / label / clip_name(ytid))
    return tmp_path


def test_kinetics_class_folders(kinetics_folders):
    manifest, report, disk = adapt_and_reconcile("kinetics", kinetics_folders)
    assert disk["missing"] == 0 and disk["unlisted"] == 0 and len(manifest) == 6
    rows = manifest.set_index("video_id")
    guitar = rows.loc["__underline_000034_000044"]
    assert guitar[["path", "label", "label_name", "split1"]].tolist() == [
        "train/playing guitar/__underline_000034_000044.mp4",
        1,
        "playing guitar",
        "train",
    ]
    assert rows.loc["Q1w2E3r4T5y_000034_000044", ["label", "split1"]].tolist() == [0, "test"]  # val -> test
    assert report["n_classes"] == 2 and report["roles"] == {"split1": {"test": 2, "train": 4}}
    assert report["selection"]["missing"] == 0 and report["selection"]["selected_from"] == "folders"


def test_kinetics_subset_lists_report_missing_ids(kinetics_folders):
    lists = kinetics_folders / "mini"
    write(lists / "train_ytid_list.txt", ["-0B2EGKpsLw", "MISSINGtrn1", "0wR5jVB-WPk", "zz_Top_1234"])
    write(lists / "val_ytid_list.txt", ["Q1w2E3r4T5y", "MISSINGval1"], "\r\n")
    options = {"subset_lists": {"train": "mini/train_ytid_list.txt", "val": "mini/val_ytid_list.txt"}}
    manifest, report, disk = adapt_and_reconcile("kinetics", kinetics_folders, options)
    assert disk["missing"] == 0 and disk["unlisted"] == 2  # the two clips outside the subset
    roles = dict(zip(manifest["video_id"].str[:11], manifest["split1"], strict=True))
    # The role comes from the subset list, not from the folder the clip was downloaded into.
    assert roles == {"-0B2EGKpsLw": "train", "0wR5jVB-WPk": "train", "zz_Top_1234": "train", "Q1w2E3r4T5y": "test"}
    selection = report["selection"]
    assert selection["selected"] == 6 and selection["used"] == 4 and selection["missing"] == 2
    assert selection["missing_by_role"] == {"test": 1, "train": 1}
    assert selection["missing_class_unknown"] == 2 and selection["missing_by_class"] == {}
    assert selection["missing_examples"] == ["MISSINGtrn1", "MISSINGval1"]
    # A plain list of files works too: the role is read from the file name.
    listed = [str(lists / "train_ytid_list.txt"), str(lists / "val_ytid_list.txt")]
    table, _, _ = DATASET_KINDS["kinetics"].adapt(kinetics_folders, {"subset_lists": listed})
    assert dict(zip(table["video_id"].str[:11], table["split1"], strict=True)) == roles


KIN_CSV_HEADER = "label,youtube_id,time_start,time_end,split"


@pytest.fixture
def kinetics_flat(tmp_path, clips) -> Path:
    for ytid in ("-0B2EGKpsLw", "0wR5jVB-WPk", "Q1w2E3r4T5y", "notInCsv_01"):
        place(clips, tmp_path / "videos" / clip_name(ytid))
    write(
        tmp_path / "kinetics_train.csv",
        [
            KIN_CSV_HEADER,
            "abseiling,-0B2EGKpsLw,34,44,train",
            "playing guitar,0wR5jVB-WPk,34.0,44.0,train",
            "playing guitar,__underline,34,44,train",
            '"zumba, outdoors",zz_Top_1234,0,10,train',
        ],
    )
    write(
        tmp_path / "kinetics_val.csv",
        [KIN_CSV_HEADER, "abseiling,Q1w2E3r4T5y,34,44,val", "abseiling,a_b-c_d-e_f,1,11,val"],
    )
    return tmp_path


def test_kinetics_csv_layout_reports_missing_per_class(kinetics_flat):
    options = {"csv": ["kinetics_train.csv", "kinetics_val.csv"], "video_dir": "videos"}
    manifest, report, disk = adapt_and_reconcile("kinetics", kinetics_flat, options)
    assert disk["missing"] == 0 and disk["unlisted"] == 1  # notInCsv_01 has no label
    rows = manifest.set_index("video_id")
    assert rows.loc["0wR5jVB-WPk_000034_000044", ["path", "label", "label_name", "split1"]].tolist() == [
        "0wR5jVB-WPk_000034_000044.mp4",
        1,
        "playing guitar",
        "train",
    ]
    assert report["n_classes"] == 2 and report["roles"] == {"split1": {"test": 1, "train": 2}}
    selection = report["selection"]
    assert (selection["selected"], selection["used"], selection["missing"]) == (6, 3, 3)
    assert selection["missing_by_class"] == {"abseiling": 1, "playing guitar": 1, "zumba, outdoors": 1}


def test_kinetics_csv_layout_with_mini_kinetics_lists(kinetics_flat):
    write(
        kinetics_flat / "train_ytid_list.txt",
        ["-0B2EGKpsLw", "0wR5jVB-WPk", "__underline", "zz_Top_1234", "notInCsv_01"],
    )
    write(kinetics_flat / "val_ytid_list.txt", ["Q1w2E3r4T5y", "a_b-c_d-e_f", "unknownId_1"])
    options = {
        "csv": ["kinetics_train.csv", "kinetics_val.csv"],
        "video_dir": "videos",
        "subset_lists": {"train": "train_ytid_list.txt", "val": "val_ytid_list.txt"},
    }
    manifest, report, _ = adapt_and_reconcile("kinetics", kinetics_flat, options)
    assert sorted(manifest["label_name"]) == ["abseiling", "abseiling", "playing guitar"]
    selection = report["selection"]
    assert selection["selected_from"] == "subset lists" and selection["selected_by_role"] == {"test": 3, "train": 5}
    assert selection["used"] == 3 and selection["used_by_role"] == {"test": 1, "train": 2}
    assert selection["missing"] == 4 and selection["missing_by_role"] == {"test": 2, "train": 2}
    assert selection["missing_by_class"] == {"abseiling": 1, "playing guitar": 1, "zumba, outdoors": 1}
    assert selection["missing_class_unknown"] == 1
    assert selection["missing_examples"] == ["__underline", "zz_Top_1234", "a_b-c_d-e_f", "unknownId_1"]
    assert selection["unlabelled"] == 1 and selection["unlabelled_examples"] == ["notInCsv_01"]


@pytest.mark.parametrize(
    "row, message",
    [
        ("abseiling,-0B2EGKpsLw,abc,44,train", r"kinetics_train.csv:3: time_start 'abc' is not a number"),
        ("abseiling,short,34,44,train", r"kinetics_train.csv:3: 'short' is not a YouTube id"),
        ("abseiling,-0B2EGKpsLw,34,44,dev", r"kinetics_train.csv:3: unknown split 'dev'"),
        ("abseiling,-0B2EGKpsLw,34,44", r"kinetics_train.csv:3: expected 5 fields"),
        ("abseiling,0wR5jVB-WPk,34,44,train", r"kinetics_train.csv:3: duplicate youtube_id '0wR5jVB-WPk' .*csv:2"),
    ],
)
def test_kinetics_bad_csv_rows_name_file_and_line(tmp_path, row, message):
    write(tmp_path / "videos" / "x.txt", [])
    write(tmp_path / "kinetics_train.csv", [KIN_CSV_HEADER, "abseiling,0wR5jVB-WPk,34,44,train", row])
    with pytest.raises(ManifestError, match=message):
        read_kinetics(tmp_path, csv_files="kinetics_train.csv", video_dir="videos")


def test_kinetics_bad_lists_and_trees(tmp_path, kinetics_folders):
    write(tmp_path / "bad.csv", ["label,youtube_id,time_start,split"])
    with pytest.raises(ManifestError, match=r"bad.csv:1: header lacks column\(s\) \['time_end'\]"):
        read_kinetics(tmp_path, csv_files="bad.csv")
    write(tmp_path / "train_ytid_list.txt", ["-0B2EGKpsLw", "-0B2EGKpsLw_000034_000044"])
    with pytest.raises(ManifestError, match=r"train_ytid_list.txt:2: expected one YouTube id"):
        read_kinetics(tmp_path, subset_lists={"train": "train_ytid_list.txt"})
    write(tmp_path / "train_ytid_list.txt", ["-0B2EGKpsLw"])
    write(tmp_path / "val_ytid_list.txt", ["Q1w2E3r4T5y", "-0B2EGKpsLw"])
    lists = {"train": "train_ytid_list.txt", "val": "val_ytid_list.txt"}
    with pytest.raises(ManifestError, match=r"val_ytid_list.txt:2: duplicate YouTube id .*train_ytid_list.txt:1"):
        read_kinetics(tmp_path, subset_lists=lists)
    with pytest.raises(ManifestError, match=r"split folder not found"):
        read_kinetics(kinetics_folders, split_dirs={"train": "train", "test": "test"})
    # A second download of one YouTube id (another segment, another class) is ambiguous.
    shutil.copyfile(
        kinetics_folders / "train" / "abseiling" / clip_name("-0B2EGKpsLw"),
        kinetics_folders / "val" / "abseiling" / clip_name("-0B2EGKpsLw", 50),
    )
    with pytest.raises(
        ManifestError, match=r"train/abseiling/-0B2EGKpsLw_000034_000044.mp4 and val/abseiling/-0B2EGKpsLw_000050"
    ):
        read_kinetics(kinetics_folders)


def test_kinetics_odd_file_names_are_reported_not_used(kinetics_folders):
    shutil.copyfile(
        kinetics_folders / "val" / "abseiling" / clip_name("Q1w2E3r4T5y"),
        kinetics_folders / "val" / "abseiling" / "notes.mp4",
    )
    table, report = read_kinetics(kinetics_folders)
    assert len(table) == 6 and report["unrecognised_files"] == 1
    assert report["unrecognised_examples"] == ["val/abseiling/notes.mp4"]


# --- Mimetics --------------------------------------------------------------------------------------------------

# The release's list (Mimetics_release_v1.0.zip: mimetics_v1.0.csv): a header and one row per clip; third-party
# loaders read it as label,youtube_id,time_start,time_end plus two more columns (Kinetics-400's split,is_cc), by
# name or as six comma-separated fields. Two clips may come from one YouTube video.
MIMETICS_HEADER = "label,youtube_id,time_start,time_end,split,is_cc"
MIMETICS = [
    ("archery", "0P4-B1vZzCI", 12, 22),
    ("archery", "0P4-B1vZzCI", 40, 50),  # a second clip of the same video
    ("playing guitar", "a_b-c_d-e_f", 3, 13),
    ("brushing teeth", "Zz9_-aB3cD4", 100, 110),
    ("sword fighting", "MISSINGclip", 0, 10),  # listed, not downloaded
]


def write_mimetics(root: Path, clips, flat: bool = False) -> Path:
    rows = [f"{label},{ytid},{start},{end},test,0" for label, ytid, start, end in MIMETICS]
    write(root / "mimetics_v1.0.csv", [MIMETICS_HEADER, *rows])
    for label, ytid, start, end in MIMETICS[:-1]:
        name = f"{ytid}_{start:06d}_{end:06d}.mp4"
        place(clips, root / "videos" / (name if flat else f"{label}/{name}"))
    return root


@pytest.mark.parametrize("flat", [False, True], ids=["class-folders", "flat"])
def test_mimetics_reads_the_release_list(tmp_path, clips, flat):
    root = write_mimetics(tmp_path, clips, flat)
    manifest, report, _ = adapt_and_reconcile("mimetics", root, {"video_dir": "videos"})
    assert sorted(manifest["video_id"]) == sorted(
        ["0P4-B1vZzCI_000012_000022", "0P4-B1vZzCI_000040_000050", "a_b-c_d-e_f_000003_000013",
         "Zz9_-aB3cD4_000100_000110"])  # fmt: skip
    assert set(manifest["split1"]) == {"test"}
    labels = dict(zip(manifest["label_name"], manifest["label"], strict=False))
    assert labels == {"archery": 0, "brushing teeth": 1, "playing guitar": 2}
    assert (
        report["listed"] == 5
        and report["missing_clips"] == 1
        and report["missing_examples"] == ["MISSINGclip_000000_000010"]
    )
    assert report["classes_not_in_the_class_map"] == []


def test_mimetics_class_map_names_the_kinetics_classes():
    from scenebias.datasets.mimetics import class_map, kinetics_names

    table = class_map()
    assert len(table) == 50 and table["mimetics"].is_unique and set(table["kinetics"]) == set(table["mimetics"])
    assert int(table["in_mini_kinetics_200"].sum()) == 27
    assert kinetics_names()["playing guitar"] == "playing guitar"
    assert DATASET_KINDS["mimetics"].class_map() == kinetics_names()


@pytest.mark.parametrize(
    "row, message",
    [
        ("archery,short,1,2,test,0", "is not a YouTube id"),
        ("archery,0P4-B1vZzCI,one,2,test,0", "must be numbers"),
        ("archery,0P4-B1vZzCI,12,22,test,0", "duplicate clip '0P4-B1vZzCI_000012_000022'"),
        (",0P4-B1vZzCI,1,2,test,0", "empty label"),
    ],
)
def test_mimetics_bad_rows_name_file_and_line(tmp_path, clips, row, message):
    root = write_mimetics(tmp_path, clips)
    with (root / "mimetics_v1.0.csv").open("a") as handle:
        handle.write(row + "\n")
    with pytest.raises(ManifestError, match=rf"mimetics_v1.0.csv:7: .*{re.escape(message)}"):
        DATASET_KINDS["mimetics"].adapt(root, {"video_dir": "videos"})


def test_mimetics_without_its_list_or_clips(tmp_path, clips):
    with pytest.raises(ManifestError, match="mimetics_v1.0.csv: file not found"):
        DATASET_KINDS["mimetics"].adapt(tmp_path, {})
    write(tmp_path / "mimetics_v1.0.csv", ["label,youtube_id,time_start", "archery,0P4-B1vZzCI,1"])
    with pytest.raises(ManifestError, match=r"header lacks column\(s\) \['time_end'\]"):
        DATASET_KINDS["mimetics"].adapt(tmp_path, {})
    write(tmp_path / "mimetics_v1.0.csv", [MIMETICS_HEADER, "archery,0P4-B1vZzCI,1,2,test,0"])
    with pytest.raises(ManifestError, match="none of the 1 clips"):
        DATASET_KINDS["mimetics"].adapt(tmp_path, {})


# --- the registry ---------------------------------------------------------------------------------------------


def test_registry_covers_every_kind_and_rejects_unknown_options(tmp_path):
    assert set(DATASET_KINDS) == {"synthetic", "ucf101", "hmdb51", "diving48", "kinetics", "mimetics", "videos"}
    for kind in DATASET_KINDS:
        with pytest.raises(ManifestError, match=rf"dataset kind '{kind}': unknown option\(s\) \['vidoe_dir'\]"):
            DATASET_KINDS[kind].adapt(tmp_path, {"vidoe_dir": "x"})
    with pytest.raises(ManifestError, match="non-empty subset of"):
        DATASET_KINDS["ucf101"].adapt(tmp_path, {"splits": [4]})


def test_synthetic_adapter_reads_a_rendered_dataset_folder(tmp_path, clips):
    write(tmp_path / "lists" / "classInd.txt", ["1 jump", "2 run"])
    write(tmp_path / "lists" / "trainlist01.txt", ["jump/a.mp4 1"])
    write(tmp_path / "lists" / "testlist01.txt", ["run/b.mp4"])
    for rel in ("jump/a.mp4", "run/b.mp4"):
        place(clips, tmp_path / "videos" / rel)
    manifest, report, disk = adapt_and_reconcile("synthetic", tmp_path)
    assert disk["missing"] == 0 and manifest.set_index("video_id")["split1"].to_dict() == {"a": "train", "b": "test"}
    assert report == {"kind": "synthetic", "n_classes": 2, "roles": {"split1": {"test": 1, "train": 1}}}


# --- your own videos (kind videos) ------------------------------------------------------------------------------


@pytest.fixture
def own_videos(tmp_path, clips) -> Path:
    """<root>/videos/<class>/<any name>: odd names, a class folder linked in from elsewhere, a linked file, a hidden
    macOS copy, a file without a class folder, and a name that cannot be an id."""
    root = tmp_path / "mine"
    for rel in ("jump/Clip 01.MP4", "jump/2024-05-01 garden.avi", "jump/sub/deep.mp4", "run/a.mp4", "run/b.mp4"):
        (root / "videos" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips[Path(rel).suffix.lower()], root / "videos" / rel)
    place(clips, tmp_path / "elsewhere" / "swim" / "s1.mp4")
    place(clips, tmp_path / "elsewhere" / "swim" / "s2.mp4")
    (root / "videos" / "swim").symlink_to(tmp_path / "elsewhere" / "swim", target_is_directory=True)
    (root / "videos" / "run" / "linked.mp4").symlink_to(clips[".mp4"])
    place(clips, root / "videos" / "run" / "._a.mp4")
    place(clips, root / "videos" / "loose.mp4")
    place(clips, root / "videos" / "run" / "x..y.mp4")
    return root


def test_own_videos_from_class_folders(own_videos):
    manifest, report, disk = adapt_and_reconcile("videos", own_videos)
    table = manifest.set_index("video_id")
    assert sorted(table.index) == [
        "jump__2024-05-01 garden", "jump__Clip 01", "jump__sub__deep", "run__a", "run__b", "run__linked",
        "swim__s1", "swim__s2",
    ]  # fmt: skip
    assert table.loc["jump__Clip 01", "path"] == "jump/Clip 01.MP4"
    assert table.loc["swim__s1", "path"] == "swim/s1.mp4"  # the listed path, not where the link points
    assert table.groupby("label_name")["label"].first().to_dict() == {"jump": 0, "run": 1, "swim": 2}
    # test_fraction 0.3 per class: 3 -> 1 test, 3 -> 1, 2 -> 1; the same on every call
    assert report["roles"] == {"split1": {"test": 3, "train": 5}}
    again, _, _ = adapt_and_reconcile("videos", own_videos)
    assert again["split1"].tolist() == manifest["split1"].tolist()
    selection = report["selection"]
    assert selection["no_class_folder_examples"] == ["loose.mp4"]
    assert selection["unusable_name_examples"] == ["run/x..y.mp4"]
    assert disk["missing"] == 0


def test_own_videos_with_a_csv_list_of_splits(own_videos):
    lines = ["path,label,split1,split2", "jump/Clip 01.MP4,jump,train,test", '"run/a.mp4",run,val,train']
    write(own_videos / "list.csv", [*lines, "swim/s1.mp4,,test,", "run/gone.mp4,run,train,"])
    manifest, report, disk = adapt_and_reconcile("videos", own_videos, {"list": "list.csv"})
    table = manifest.set_index("video_id")
    assert table[["split1", "split2"]].to_dict("index") == {
        "jump__Clip 01": {"split1": "train", "split2": "test"},
        "run__a": {"split1": "test", "split2": "train"},  # val counts as test
        "swim__s1": {"split1": "test", "split2": ""},
    }
    assert table.loc["swim__s1", "label_name"] == "swim"  # no label: the class folder
    assert disk["missing_examples"] == ["run/gone.mp4"] and disk["unlisted"] == 8
    assert report["selection"]["roles_from"] == "list"


def test_own_videos_with_mmaction2_lists(own_videos):
    """MMAction2's list files: "<path> <integer label>" per line, no header; one file per role."""
    write(own_videos / "train_list.txt", ["run/a.mp4 1", "jump/sub/deep.mp4 0", "swim/s1.mp4 10"])
    write(own_videos / "val_list.txt", ["run/b.mp4 1"])
    manifest, _, _ = adapt_and_reconcile(
        "videos", own_videos, {"list": {"train": "train_list.txt", "val": "val_list.txt"}}
    )
    table = manifest.set_index("video_id")
    assert table["split1"].to_dict() == {
        "jump__sub__deep": "train",
        "run__a": "train",
        "run__b": "test",
        "swim__s1": "train",
    }
    assert table.groupby("label_name")["label"].first().to_dict() == {"0": 0, "1": 1, "10": 2}  # numeric order


@pytest.mark.parametrize(
    "lines, message",
    [
        (["run/a.mp4 1"], r"list.csv:1: expected a header line"),
        (["path,label", "../run/a.mp4,run"], r"list.csv:2: path '../run/a.mp4' escapes"),
        (["path,label", "run/a.mp4"], r"list.csv:2: expected 2 fields"),
        (["path,label,split", "run/a.mp4,run,dev set"], r"list.csv:2: role 'dev set'"),
        (["path,label,kind", "run/a.mp4,run,x"], r"list.csv:1: unknown column\(s\) \['kind'\]"),
        (["path", "a.mp4"], r"list.csv:2: 'a.mp4' is in no class folder"),
        (["path", "run/notes.txt"], r"list.csv:2: 'run/notes.txt' is not a video file"),
        (["path", "run/a.mp4", "run/a.avi"], r"list.csv:3: .* has the id 'run__a' of an entry at .*list.csv:2"),
    ],
)
def test_own_videos_bad_lists_name_file_and_line(own_videos, lines, message):
    write(own_videos / "list.csv", lines)
    with pytest.raises(ManifestError, match=message):
        DATASET_KINDS["videos"].adapt(own_videos, {"list": "list.csv"})


def test_own_videos_tab_separated_list_and_split_numbers(own_videos):
    from scenebias.datasets import dataset_splits

    write(own_videos / "list.tsv", ["path\tlabel\tsplit1\tsplit3", "jump/Clip 01.MP4\tjump\ttrain\ttest"])
    assert dataset_splits("videos", own_videos, {"list": "list.tsv"}) == [1, 3]
    manifest, _, _ = adapt_and_reconcile("videos", own_videos, {"list": "list.tsv"})
    assert manifest[["split1", "split3"]].values.tolist() == [["train", "test"]]
    assert dataset_splits("videos", own_videos, {}) == [1]


def test_manifest_report_counts_agree_with_the_kinetics_selection(kinetics_folders, tmp_path):
    """scripts/manifest.py (the manifest job) on a subset list naming two ids that were never downloaded: the top of
    manifest_report.json counts them as listed and missing, as adapter.selection does, and so does the summary."""
    import subprocess
    import sys

    from scenebias.summary import dataset_summary

    lists = kinetics_folders / "mini"
    write(lists / "train_ytid_list.txt", ["-0B2EGKpsLw", "MISSINGtrn1", "0wR5jVB-WPk", "zz_Top_1234"])
    write(lists / "val_ytid_list.txt", ["Q1w2E3r4T5y", "MISSINGval1"])
    options = {"subset_lists": {"train": "mini/train_ytid_list.txt", "val": "mini/val_ytid_list.txt"}}
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).parent.parent / "scripts" / "manifest.py"), "--kind", "kinetics",
         "--root", str(kinetics_folders), "--options", json.dumps(options), "--shard-size", "3",
         "--out", str(results / "kin" / "manifest.csv"), "--report", str(results / "kin" / "manifest_report.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((results / "kin" / "manifest_report.json").read_text())
    selection = report["adapter"]["selection"]
    assert (selection["selected"], selection["used"], selection["missing"]) == (6, 4, 2)
    assert (report["listed"], report["used"], report["missing"]) == (6, 4, 2)
    assert set(report["missing_examples"]) == {"MISSINGtrn1", "MISSINGval1"}
    summary = dataset_summary(results, "kin")
    assert (summary.listed, summary.missing) == (6, 2)
