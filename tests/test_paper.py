"""configs/paper.yaml on tiny trees in the official layouts: the manifests build and the dry run lists the whole
paper DAG (4 variants x 3 seeds, 3 + 3 + 1 splits, the report)."""

import re
import subprocess

import pytest
import yaml
from test_datasets import (  # noqa: F401  (clips is a fixture)
    DIVES,
    HMDB,
    KIN,
    UCF_CLASSES,
    clip_name,
    clips,
    place,
    ucf_entry,
    write,
    write_diving_lists,
    write_hmdb_splits,
    write_ucf_lists,
)

from conftest import REPO, tool

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def paper_trees(tmp_path_factory, clips):  # noqa: F811
    root = tmp_path_factory.mktemp("paper")
    for cls in UCF_CLASSES:
        for group in (1, 8):
            place(clips, root / "ucf101" / "UCF-101" / ucf_entry(cls, group))
    write_ucf_lists(root / "ucf101")
    for cls, videos in HMDB.items():
        for name in videos:
            place(clips, root / "hmdb51" / "videos" / cls / name)
    write_hmdb_splits(root / "hmdb51")
    for name in DIVES:
        place(clips, root / "diving48" / "rgb" / f"{name}.mp4")
    write_diving_lists(root / "diving48")
    (root / "diving48" / "Diving48_train.json").write_text((root / "diving48" / "Diving48_V2_train.json").read_text())
    (root / "diving48" / "Diving48_test.json").write_text((root / "diving48" / "Diving48_V2_test.json").read_text())
    for ytid, (split, label) in KIN.items():
        place(clips, root / "kinetics" / split / label / clip_name(ytid))
    train = [y for y, (s, _) in KIN.items() if s == "train"] + ["MISSINGtrn1"]
    val = [y for y, (s, _) in KIN.items() if s == "val"]
    write(root / "mini" / "train_ytid_list.txt", train)
    write(root / "mini" / "val_ytid_list.txt", val)
    for weights in ("places365/resnet50_places365.pth.tar", "torchvision/maskrcnn_resnet50_fpn_coco.pth"):
        (root / "resources" / weights).parent.mkdir(parents=True, exist_ok=True)
        (root / "resources" / weights).write_bytes(b"only its existence matters in a dry run")
    write(root / "resources" / "places365" / "categories_places365.txt", ["/a/airfield 0"])
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config["resources"] = str(root / "resources")
    for name in ("ucf101", "hmdb51", "diving48", "minikinetics"):
        config["datasets"][name]["root"] = str(root / ("kinetics" if name == "minikinetics" else name))
    config["datasets"]["minikinetics"]["options"]["subset_lists"] = {
        "train": str(root / "mini" / "train_ytid_list.txt"),
        "val": str(root / "mini" / "val_ytid_list.txt"),
    }
    config["scene"]["places365"]["weights"] = str(root / "resources/places365/resnet50_places365.pth.tar")
    config["scene"]["places365"]["categories"] = str(root / "resources/places365/categories_places365.txt")
    config["humans"]["torchvision"]["weights"] = str(root / "resources/torchvision/maskrcnn_resnet50_fpn_coco.pth")
    configfile = root / "paper.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return root, configfile


def run(root, configfile, *args, env):
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root), "--configfile",
           str(configfile), "--cores", "2", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_paper_dry_run_lists_the_whole_dag(paper_trees, venv_env):
    root, configfile = paper_trees
    run(root, configfile, "--until", "manifest", env=venv_env)  # the checkpoints: shards become known
    report = (root / "results-paper" / "minikinetics" / "manifest_report.json").read_text()
    assert '"MISSINGtrn1"' in report  # the Mini-Kinetics id missing on disk is reported
    out = run(root, configfile, "-n", env=venv_env)
    counts = {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:", 1)[1], re.M)}
    runs = 4 * 3  # variants x seeds
    finetunes = 4 * (3 + 3 + 1) * 3  # inits x (ucf101, hmdb51, diving48 splits) x seeds
    assert counts["pretrain"] == runs and counts["bias_measures"] == runs
    assert counts["finetune"] == finetunes and counts["evaluate"] == finetunes
    assert counts["extract_frames"] == 4 and counts["human_boxes"] == 4 and counts["scene_labels"] == 4
    assert counts["b_scene"] == 4 and counts["report"] == 1
    assert "scene_features" not in counts and "fit_scene_kmeans" not in counts  # places365, not k-means
