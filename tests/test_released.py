"""The authors' released files as backends (scenebias.released): files made in the official formats (dicts saved
with np.save, as vt-vl-lab/SDN's datasets/kinetics.py reads them), the restricted unpickler against a hostile
file, the import into the prepared store, the frame and coordinate mapping onto our frames, videos the release
lacks, and the agreement measures. The tiny paper run with these backends is in tests/test_paper.py."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import make_video
from scenebias.agreement import box_agreement, label_agreement, matches, worst_frames
from scenebias.backends import Uncovered
from scenebias.coverage import Coverage
from scenebias.frames import extract_shard
from scenebias.humans.boxes import VideoBoxes, load_boxes, load_coverage, save_boxes
from scenebias.humans.stage import BOX_BACKENDS, box_quality, shard_boxes
from scenebias.provenance import file_sha256
from scenebias.released.detections import import_detections, release_frame_index
from scenebias.released.places import import_labels
from scenebias.released.store import ReleaseFormatError
from scenebias.released.unpickle import UnsafeReleaseFile, load_pickled_npy
from scenebias.scene import label_quality, label_shard, load_labels, save_labels

# ---------------------------------------------------------------------------------------------------------
# Writers of the official formats (also used by tests/test_paper.py)


def write_detections(path, videos: dict) -> None:
    """detection_<subset>_merged_rearranged.npy: {class: {ytid: {frame (1-based): {'human_boxes': (N, 5)}}}},
    videos: (class, ytid) -> list of per-frame box lists, in the release's 240-high pixels."""
    dets: dict = {}
    for (cls, ytid), frames in videos.items():
        dets.setdefault(cls, {})[ytid] = {
            i + 1: {"human_boxes": np.asarray(b, np.float32).reshape(-1, 5)} for i, b in enumerate(frames)
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, dets)  # a dict: numpy pickles it into a 0-d object array, as the authors' files are


def write_places(path, videos: dict) -> None:
    """A places_data file: {class: {ytid: {'pred_cls': ..., 'probs': ...}}}; videos: (class, ytid) -> probs, one
    row (per-video entry: pred_cls an int) or one row per frame (pred_cls an array of per-frame classes)."""
    preds: dict = {}
    for (cls, ytid), probs in videos.items():
        probs = np.asarray(probs, np.float32)
        pred = probs.argmax(-1)
        preds.setdefault(cls, {})[ytid] = {"pred_cls": int(pred) if probs.ndim == 1 else pred, "probs": probs}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, preds)


def one_hot_probs(k: int, classes: int = 365, mass: float = 0.9) -> np.ndarray:
    p = np.full(classes, (1 - mass) / (classes - 1), np.float32)
    p[k] = mass
    return p


# ---------------------------------------------------------------------------------------------------------
# The restricted unpickler


class Hostile:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_official_format_files_load_as_plain_data(tmp_path):
    write_detections(tmp_path / "d.npy", {("abseiling", "-0B2EGKpsLw"): [[[1, 2, 3, 4, 0.9]], []]})
    content = load_pickled_npy(tmp_path / "d.npy")
    frames = content["abseiling"]["-0B2EGKpsLw"]
    assert sorted(frames) == [1, 2] and frames[1]["human_boxes"].tolist() == [[1, 2, 3, 4, pytest.approx(0.9)]]
    assert frames[2]["human_boxes"].shape == (0, 5)
    np.save(tmp_path / "plain.npy", np.arange(4))
    assert load_pickled_npy(tmp_path / "plain.npy").tolist() == [0, 1, 2, 3]


def test_a_file_pickled_by_numpy_1_loads(tmp_path):
    """The authors wrote their files with numpy 1.x (Python 3.6), whose pickles name numpy.core.multiarray."""
    content = {"c": {"ytid_000001": {"pred_cls": np.int64(3), "probs": np.arange(4, dtype=np.float32)}}}
    payload = pickle.dumps(np.array(content, dtype=object), protocol=3)
    old = payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert old != payload and b"numpy._core" not in old
    header = np.lib.format.header_data_from_array_1_0(np.array(content, dtype=object))
    with open(tmp_path / "old.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(old)
    loaded = load_pickled_npy(tmp_path / "old.npy")
    assert loaded["c"]["ytid_000001"]["pred_cls"] == 3 and loaded["c"]["ytid_000001"]["probs"].tolist() == [0, 1, 2, 3]


def hostile_file(path, marker):
    np.save(path, {"abseiling": {"-0B2EGKpsLw": {1: {"human_boxes": Hostile(marker)}}}}, allow_pickle=True)
    return path


def test_a_hostile_pickle_is_refused_and_never_runs(tmp_path):
    # The payload is live: np.load(..., allow_pickle=True) on the same kind of file runs it (in a child process).
    twin = hostile_file(tmp_path / "twin.npy", tmp_path / "twin_ran")
    subprocess.run([sys.executable, "-c", f"import numpy; numpy.load({str(twin)!r}, allow_pickle=True)"],
                   capture_output=True, check=False)  # fmt: skip
    assert (tmp_path / "twin_ran").exists(), "the payload does not run; the refusal below would prove nothing"
    marker = tmp_path / "ran"
    path = hostile_file(tmp_path / "detection_train_merged_rearranged.npy", marker)
    with pytest.raises(UnsafeReleaseFile) as refused:
        load_pickled_npy(path)
    assert str(path) in str(refused.value) and "system" in str(refused.value)
    assert not marker.exists()
    with pytest.raises(UnsafeReleaseFile):  # through the prepare step too, which names the file
        import_detections({"detections": [path]}, {}, tmp_path / "store")
    assert not marker.exists()


def test_a_damaged_file_is_named(tmp_path):
    write_detections(tmp_path / "d.npy", {("a", "-0B2EGKpsLw"): [[[1, 2, 3, 4, 0.9]]]})
    data = (tmp_path / "d.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npy"):
        load_pickled_npy(tmp_path / "cut.npy")


# ---------------------------------------------------------------------------------------------------------
# Detections: import, frames, coordinates, videos the release lacks

YTID, OTHER, ABSENT = "-0B2EGKpsLw", "0wR5jVB-WPk", "Q1w2E3r4T5y"
RECT = (120, 90, 240, 270)  # x1, y1, x2, y2 of the white rectangle in the 480x360 source video


@pytest.fixture(scope="module")
def kinetics_shard(tmp_path_factory):
    """Three real 480x360 clips of 5 frames with a white rectangle at RECT, extracted at short side 32 as the
    frames stage does: a Kinetics tree, its manifest and its shard index."""
    root = tmp_path_factory.mktemp("kin")
    x1, y1, x2, y2 = RECT
    draw = f"drawbox=x={x1}:y={y1}:w={x2 - x1}:h={y2 - y1}:color=white:t=fill"
    rows = []
    for ytid in (YTID, OTHER, ABSENT):
        rel = f"train/abseiling/{ytid}_000010_000020.mp4"
        make_video(root / rel, "-f", "lavfi", "-i", "color=c=black:s=480x360:r=10", "-t", "0.5", "-vf", draw,
                   "-pix_fmt", "yuv444p", "-c:v", "libx264", "-crf", "0")  # fmt: skip
        rows.append({"video_id": f"{ytid}_000010_000020", "path": rel, "label_name": "abseiling", "label": 0})
    manifest = pd.DataFrame(rows)
    manifest.to_csv(root / "manifest.csv", index=False)
    index = extract_shard(manifest, root, root / "packs", short_side=32, jpeg_qscale=2, jpeg_chroma=444)
    assert (index["status"] == "ok").all() and (index["n_frames"] == 5).all(), index
    index.to_csv(root / "index.csv", index=False)
    return root, index


def release_box(x1, y1, x2, y2, score=0.95):
    """A box of the source video's pixels in the release's (240-high) pixels."""
    s = 240 / 360
    return [x1 * s, y1 * s, x2 * s, y2 * s, score]


@pytest.fixture(scope="module")
def detections_store(kinetics_shard, tmp_path_factory):
    """The official files: YTID with one box per frame on the rectangle (5 frames, as ours), OTHER with 8 frames
    (another frame count: each frame's box shifted by its frame number, to see which one lands), ABSENT left out;
    split over a train and a val file as released. Imported by the prepare step."""
    folder = tmp_path_factory.mktemp("detections")
    write_detections(folder / "detection_train_merged_rearranged.npy",
                     {("abseiling", YTID): [[release_box(*RECT)]] * 5})  # fmt: skip
    shifted = [[release_box(RECT[0] + 3 * f, RECT[1], RECT[2] + 3 * f, RECT[3], 0.5 + f / 100)] for f in range(8)]
    write_detections(folder / "detection_val_merged_rearranged.npy", {("abseiling", OTHER): shifted})
    store = tmp_path_factory.mktemp("store") / "prepared"
    files = sorted(folder.glob("*.npy"))
    report = import_detections({"detections": files}, {"sha256": {}}, store)
    return store, report, files


def released_finder(kinetics_shard, store):
    root, _ = kinetics_shard
    return BOX_BACKENDS["released"].build({"frame_height": 240}, {"release": store, "manifest": root / "manifest.csv"})


def test_import_records_the_files_and_their_hashes(detections_store):
    store, report, files = detections_store
    assert report["videos"] == 2 and report["frames"] == 5 + 8 and report["boxes"] == 13
    assert [f["sha256"] for f in report["files"]] == [file_sha256(f) for f in files]
    assert json.loads((store / "report.json").read_text())["videos"] == 2


def test_a_pinned_sha256_is_checked(detections_store, tmp_path):
    _, _, files = detections_store
    with pytest.raises(ReleaseFormatError, match="differs from the pinned"):
        import_detections({"detections": files}, {"sha256": {files[0].name: "0" * 64}}, tmp_path / "s")
    pins = {f.name: file_sha256(f) for f in files}
    assert all(f["pinned"] for f in import_detections({"detections": files}, {"sha256": pins}, tmp_path / "t")["files"])


def test_released_boxes_land_on_the_rectangle_in_our_frames(kinetics_shard, detections_store):
    """The box given in 240-high pixels covers, in our 32-high frames, exactly where the white rectangle is."""
    root, index = kinetics_shard
    left_out = []
    videos = shard_boxes(index, root / "packs", released_finder(kinetics_shard, detections_store[0]), 1,
                         "released", left_out=left_out)  # fmt: skip
    by_id = {v.video_id: v for v in videos}
    from scenebias.framepack import read_frames

    row = index.set_index("video_id").loc[f"{YTID}_000010_000020"]
    frame = read_frames(root / "packs" / row["pack"], [2])[0]
    ys, xs = np.nonzero(frame.mean(-1) > 128)
    white = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    (box,) = by_id[f"{YTID}_000010_000020"].frames[2]
    assert np.allclose(box[:4], white, atol=1.0), (box, white, row[["w", "h"]].tolist())
    assert by_id[f"{YTID}_000010_000020"].note["frame_mapping"] == "frame"
    assert left_out == [(f"{ABSENT}_000010_000020", "not in the release")]


def test_a_release_with_another_frame_count_is_mapped_by_time(kinetics_shard, detections_store):
    root, index = kinetics_shard
    assert release_frame_index(5, 8).tolist() == [0, 2, 4, 5, 7]  # the release frame at the same relative time
    assert release_frame_index(5, 5).tolist() == [0, 1, 2, 3, 4]
    find = released_finder(kinetics_shard, detections_store[0])
    videos = {v.video_id: v for v in shard_boxes(index, root / "packs", find, 1, "released")}
    other = videos[f"{OTHER}_000010_000020"]
    scores = [round(float(b[0, 4]) * 100) - 50 for b in other.frames]
    assert scores == [0, 2, 4, 5, 7]
    assert other.note == {"frames": 5, "release_frames": 8, "frame_mapping": "time"}


def test_videos_the_release_lacks_are_recorded_or_delegated(kinetics_shard, detections_store, tmp_path):
    root, index = kinetics_shard
    find = released_finder(kinetics_shard, detections_store[0])
    motion = ("motion", BOX_BACKENDS["motion"].build({}, {}))
    left_out = []
    videos = shard_boxes(index, root / "packs", find, 1, "released", delegate=motion, left_out=left_out)
    assert not left_out
    sources = {v.video_id: (v.source, v.note.get("delegated")) for v in videos}
    assert sources[f"{ABSENT}_000010_000020"] == ("motion", "not in the release")
    assert sources[f"{YTID}_000010_000020"] == ("released", None)
    # skip: the video is left out, and the boxes file, its merge and quality.json say so
    skipped = []
    kept = shard_boxes(index, root / "packs", find, 1, "released", left_out=skipped)
    save_boxes(tmp_path / "0000.npz", kept, skipped)
    assert f"{ABSENT}_000010_000020" not in load_boxes(tmp_path / "0000.npz")
    assert load_coverage(tmp_path / "0000.npz")[1].left_out == skipped
    quality = box_quality(tmp_path / "0000.npz", 0.3, 0.7)
    coverage = quality["coverage"]
    assert coverage["left_out_videos"] == [{"video_id": f"{ABSENT}_000010_000020", "reason": "not in the release"}]
    assert coverage["time_mapped_videos"] == [{"video_id": f"{OTHER}_000010_000020", "frames": 5, "release_frames": 8}]
    assert coverage["videos_by_source"] == {"released": 2}


def test_a_clip_name_that_is_not_kinetics_is_not_covered(detections_store):
    from scenebias.released.store import Store

    assert isinstance(Store(detections_store[0]).find("v_ApplyEyeMakeup_g01_c01", None), Uncovered)


def test_wrong_structures_name_the_file_and_the_key(tmp_path):
    np.save(tmp_path / "detection_x.npy", {"abseiling": {YTID: {1: {"boxes": np.zeros((1, 5))}}}})
    with pytest.raises(ReleaseFormatError, match=r"detection_x.npy.*\['abseiling'\].*human_boxes"):
        import_detections({"detections": [tmp_path / "detection_x.npy"]}, {}, tmp_path / "s")
    np.save(tmp_path / "detection_y.npy", {"abseiling": {YTID: {1: {"human_boxes": np.zeros((1, 3))}}}})
    with pytest.raises(ReleaseFormatError, match=r"expected \(N, 5\)"):
        import_detections({"detections": [tmp_path / "detection_y.npy"]}, {}, tmp_path / "t")


# ---------------------------------------------------------------------------------------------------------
# Places365 labels


@pytest.fixture(scope="module")
def places_store(kinetics_shard, tmp_path_factory):
    """YTID with per-frame probabilities (3 frames voting 7, 7, 9), OTHER with one per-video row (class 4),
    ABSENT left out; in a train and a val file."""
    folder = tmp_path_factory.mktemp("places")
    per_frame = np.stack([one_hot_probs(7), one_hot_probs(7), one_hot_probs(9)])
    write_places(folder / "kinetics_train_places.npy", {("abseiling", YTID): per_frame})
    write_places(folder / "kinetics_val_places.npy", {("abseiling", OTHER): one_hot_probs(4)})
    store = tmp_path_factory.mktemp("pstore") / "prepared"
    report = import_labels({"labels": sorted(folder.glob("*.npy"))}, {}, store)
    return store, report


def test_released_labels_follow_the_official_code(kinetics_shard, places_store):
    root, _ = kinetics_shard
    store, report = places_store
    assert report["videos"] == 2 and report["classes"] == 365 and report["per_frame_videos"] == 1
    files = {"release": store, "manifest": root / "manifest.csv", "index": root / "index.csv"}
    labels, coverage = label_shard("released", files, {})
    by_id = dict(zip(labels.ids, range(len(labels.ids)), strict=True))
    ytid = by_id[f"{YTID}_000010_000020"]
    expected = np.mean([one_hot_probs(7), one_hot_probs(7), one_hot_probs(9)], axis=0)  # np.mean(probs, axis=0)
    assert np.allclose(labels.soft[ytid], expected) and labels.top1[ytid] == 7  # the majority vote
    assert np.allclose(labels.soft[by_id[f"{OTHER}_000010_000020"]], one_hot_probs(4))
    assert coverage.left_out == [(f"{ABSENT}_000010_000020", "not in the release")]


def test_released_labels_file_and_quality_record_what_was_left_out(kinetics_shard, places_store, tmp_path):
    root, _ = kinetics_shard
    files = {"release": places_store[0], "manifest": root / "manifest.csv", "index": root / "index.csv"}
    labels, coverage = label_shard("released", files, {})
    save_labels(tmp_path / "0000.npz", labels.ids, labels.soft, None, labels.top1, coverage)
    saved = load_labels(tmp_path / "0000.npz")
    assert saved["top1"].tolist() == labels.top1.tolist() and saved["sources"].tolist() == ["released"] * 2
    quality = label_quality(tmp_path / "0000.npz", None)
    assert quality["coverage"]["left_out"] == 1 and quality["videos"] == 2


def test_probs_of_the_wrong_shape_are_refused(tmp_path):
    np.save(tmp_path / "x_train.npy", {"a": {YTID: {"pred_cls": 1.5, "probs": np.ones(3)}}})
    with pytest.raises(ReleaseFormatError, match="pred_cls"):
        import_labels({"labels": [tmp_path / "x_train.npy"]}, {}, tmp_path / "s")


# ---------------------------------------------------------------------------------------------------------
# Agreement


def test_box_agreement_counts_matches_at_iou_half():
    b = lambda *r: np.array(r, np.float32).reshape(-1, 5)  # noqa: E731
    assert matches(b([0, 0, 10, 10, 1]), b([0, 0, 10, 10, 1], [0, 0, 10, 10, 1])) == 1  # one to one
    assert matches(b([0, 0, 10, 10, 1]), b([0, 0, 10, 4, 1])) == 0  # IoU 0.4
    reference = {
        "a": VideoBoxes("a", [b([0, 0, 10, 10, 0.9]), b([0, 0, 10, 10, 0.9]), b()], (32, 32), source="released"),
        "b": VideoBoxes("b", [b([0, 0, 8, 8, 0.9])] * 3, (32, 32), source="released"),
        "c": VideoBoxes("c", [b()], (32, 32), source="motion"),  # delegated: not compared
    }
    other = {
        "a": VideoBoxes("a", [b([1, 1, 10, 10, 0.8]), b([20, 20, 30, 30, 0.8]), b([0, 0, 5, 5, 0.1])], (32, 32)),
        "b": VideoBoxes("b", [b([0, 0, 8, 8, 0.9])] * 3, (32, 32)),
        "c": VideoBoxes("c", [b([0, 0, 8, 8, 0.9])], (32, 32)),
    }
    report, frames = box_agreement(reference, other, ("released", "torchvision"), 0.3, 0.7)
    assert report["videos"] == 2 and report["frames"] == 6
    assert report["reference_boxes"] == 5 and report["other_boxes"] == 5 and report["matched"] == 4
    assert report["recall"] == pytest.approx(0.8) and report["precision"] == pytest.approx(0.8)
    # a: reference valid (2 of 3 frames < 70 %: not valid), other valid in 2 of 3 (> 0.3 scores): both invalid
    assert report["verdicts"] == {"both_valid": 1, "reference_only": 0, "other_only": 0, "neither": 1}
    assert report["verdicts_agree"] == 1.0
    worst = worst_frames(frames, 5)
    assert [(f["video_id"], f["frame"]) for f in worst] == [("a", 1)]


def test_label_agreement_top1_and_kl():
    soft_a = np.stack([one_hot_probs(1, 4), one_hot_probs(2, 4), one_hot_probs(3, 4)])
    soft_b = np.stack([one_hot_probs(1, 4), one_hot_probs(0, 4), one_hot_probs(3, 4, 0.5)])
    chosen = {"video_ids": np.array(["x", "y", "z"]), "soft": soft_a, "top1": np.array([1, 0, 3]),
              "sources": np.array(["released"] * 3)}  # fmt: skip
    other = {"video_ids": np.array(["z", "y", "x"]), "soft": soft_b[::-1], "top1": soft_b[::-1].argmax(1)}
    report, videos = label_agreement(chosen, other, ("released", "places365"))
    assert report["videos"] == 3 and report["top1_agreement"] == pytest.approx(2 / 3)
    assert report["hard_agreement"] == pytest.approx(1.0)  # y's vote (0) is the other's top-1
    kl = [float((p * np.log(p / q)).sum()) for p, q in zip(soft_a.astype(float), soft_b.astype(float), strict=True)]
    assert report["mean_kl"] == pytest.approx(np.mean(kl), rel=1e-5)
    assert max(videos, key=lambda v: v["kl"])["video_id"] == "y"


def test_coverage_arrays_round_trip():
    coverage = Coverage(["released", "motion"], [{"frames": 5}, {"delegated": "not in the release"}], [("z", "why")])
    with np.load(_savez(coverage.arrays())) as data:
        back = Coverage.from_npz(data, 2)
    assert back == coverage


def _savez(arrays):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, video_ids=np.array(["a", "b"]), **arrays)
    buffer.seek(0)
    return buffer
