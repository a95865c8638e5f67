"""configs/paper.yaml on tiny trees in the official layouts: the manifests build and the dry run lists the whole
paper DAG (4 variants x 3 seeds, 3 + 3 + 1 splits, the report)."""

import hashlib
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

from conftest import REPO, serve_folder, tool

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


def deep_update(base: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


# configs/paper.yaml with every size shrunk so that the whole DAG runs on a CPU in a few minutes; the backends,
# the backbone family, the staged variants, the splits and the published-rows report stay the paper's.
TINY = {
    "frames": {"short_side": 32, "workers": 1},
    "scene": {"frames_per_video": 2, "places365": {"batch_size": 8, "device": "cpu"}},
    "humans": {"torchvision": {"short_side": 64, "batch_size": 4, "half": False, "device": "cpu"}},
    "model": {"kwargs": {"depth": 18, "shortcut": "A", "width": 4}},
    "clip": {"frames": 4, "crop": 32},
    "loader": {"workers": 0, "pin_memory": False, "persistent_workers": False},
    "compute": {"device": "cpu", "amp": False, "channels_last": False, "threads": 1},
    "pretrain": {"defaults": {"batch_size": 4, "epochs": 2}},
    "finetune": {"defaults": {"batch_size": 4, "epochs": 1}},
}


def random_weight_files(root):
    """The two weight files in their official formats, randomly initialised (nothing can be downloaded here):
    Places365 ResNet-50 as CSAILVision saves it (`state_dict` with `module.` keys, 365 classes), and torchvision's
    COCO Mask R-CNN state dict."""
    import torch
    from torchvision.models import resnet50
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    places = root / "weights" / "resnet50_places365.pth.tar"
    places.parent.mkdir(parents=True, exist_ok=True)
    state = {f"module.{k}": v for k, v in resnet50(num_classes=365).state_dict().items()}
    torch.save({"epoch": 0, "arch": "resnet50", "state_dict": state}, places)
    detector = root / "weights" / "maskrcnn_resnet50_fpn_coco.pth"
    state = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
    # Random weights would call every box one arbitrary class; favour "person" (COCO id 1) so that boxes pass the
    # paper's 0.3 / 70 % rule and the masked branch has videos (mask_batch: separate needs some).
    state["roi_heads.box_predictor.cls_score.bias"][1] = 20.0
    torch.save(state, detector)
    categories = write(root / "weights" / "categories_places365.txt", [f"/c/class{i} {i}" for i in range(365)])
    return places, detector, categories


def test_tiny_paper_run_through_the_report(paper_trees, venv_env):
    root, configfile = paper_trees
    config = yaml.safe_load(configfile.read_text())
    places, detector, categories = random_weight_files(root)
    deep_update(config, TINY)
    config["results"] = "results-tiny"
    config["scene"]["places365"].update({"weights": str(places), "categories": str(categories)})
    config["humans"]["torchvision"]["weights"] = str(detector)
    for variant in config["pretrain"]["variants"].values():
        variant.update(seeds=[0], epochs=2)
        if variant.get("warmup_epochs"):
            variant["warmup_epochs"] = 1
    config["finetune"]["targets"]["ucf101"]["splits"] = [1, 2]  # two official splits: the per-split table
    config["finetune"]["targets"]["hmdb51"]["splits"] = [1]
    # The Mini-Kinetics-200 lists come through the fetch rule, from a loopback server standing in for GitHub.
    lists = {name: root / "mini" / name for name in ("train_ytid_list.txt", "val_ytid_list.txt")}
    config["datasets"]["minikinetics"]["options"]["subset_lists"] = {
        "train": "download:train_ytid_list.txt",
        "val": "download:val_ytid_list.txt",
    }
    tiny = root / "paper-tiny.yaml"
    with serve_folder(root / "mini") as url:
        config["downloads"] = {
            name: {"url": f"{url}/{name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            for name, path in lists.items()
        }
        tiny.write_text(yaml.safe_dump(config))
        run(root, tiny, env=venv_env)

    out = root / "results-tiny" / "report"
    md = (out / "results.md").read_text()
    for published in ("83.5", "53.6", "18.0", "84.5", "56.7", "20.5"):
        assert published in md  # the poster's rows beside ours
    assert "Per official split" in md and "Published HMDB51 ablation" in md
    summary = __import__("pandas").read_csv(out / "results.csv")
    assert set(summary["init"]) == {"baseline", "scene_adv", "mask_conf", "sdn"}
    assert set(summary["target"]) == {"ucf101", "hmdb51", "diving48"}
    ucf = summary[(summary["init"] == "baseline") & (summary["target"] == "ucf101")]
    assert int(ucf["n"].iloc[0]) == 2  # one seed x two splits
    fetched = root / "resources" / "downloads" / "train_ytid_list.txt"
    assert fetched.read_bytes() == lists["train_ytid_list.txt"].read_bytes()
    assert '"MISSINGtrn1"' in (root / "results-tiny" / "minikinetics" / "manifest_report.json").read_text()
    staged = yaml.safe_load((root / "results-tiny" / "minikinetics" / "pretrain" / "sdn" / "seed0" / "hparams.json")
                            .read_text())  # fmt: skip
    assert staged["params"]["args"]["init"].endswith("scene_adv/seed0/model.pt")  # the paper's staging
    for name in ("bias_measures.png", "training_curves.png", "results.tex", "bias.csv"):
        assert (out / name).stat().st_size > 0
