"""configs/paper.yaml run as the README says, from the root of a fresh clone, with tiny trees of the four datasets
in the official layouts where the config's roots point (data/...) and weight files in their official formats
where its settings point (resources/...): the dry run plans exactly the paper (nothing of the default run leaks
in), every pretraining job receives the config's settings, and a shrunken copy (an overlay given after the paper
config) runs through the report."""

import hashlib
import json
import os
import re
import shlex
import subprocess

import numpy as np
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

from conftest import REPO, fresh_clone, serve_folder, tool

pytestmark = pytest.mark.workflow

PAPER = "configs/paper.yaml"


def random_weight_files(places, detector, categories):
    """The weight files in their official formats, randomly initialised (nothing can be downloaded here):
    Places365 ResNet-50 as CSAILVision saves it (`state_dict` with `module.` keys, 365 classes), torchvision's
    COCO Mask R-CNN state dict, and the Places365 category list."""
    import torch
    from torchvision.models import resnet50
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    places.parent.mkdir(parents=True, exist_ok=True)
    state = {f"module.{k}": v for k, v in resnet50(num_classes=365).state_dict().items()}
    torch.save({"epoch": 0, "arch": "resnet50", "state_dict": state}, places)
    detector.parent.mkdir(parents=True, exist_ok=True)
    state = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
    # Random weights would call every box one arbitrary class; favour "person" (COCO id 1) so that boxes pass the
    # paper's 0.3 / 70 % rule and the masked branch has videos (mask_batch: separate needs some).
    state["roi_heads.box_predictor.cls_score.bias"][1] = 20.0
    torch.save(state, detector)
    write(categories, [f"/c/class{i} {i}" for i in range(365)])


@pytest.fixture(scope="module")
def paper_checkout(tmp_path_factory, clips):  # noqa: F811
    """A fresh clone with the paper's data and weights where configs/paper.yaml expects them."""
    checkout = fresh_clone(tmp_path_factory.mktemp("paper") / "scenebias")
    config = yaml.safe_load((REPO / PAPER).read_text())
    roots = {name: checkout / spec["root"] for name, spec in config["datasets"].items()}
    for cls in UCF_CLASSES:
        for group in (1, 8):
            place(clips, roots["ucf101"] / "UCF-101" / ucf_entry(cls, group))
    write_ucf_lists(roots["ucf101"])
    for cls, videos in HMDB.items():
        for name in videos:
            place(clips, roots["hmdb51"] / "videos" / cls / name)
    write_hmdb_splits(roots["hmdb51"])
    for name in DIVES:
        place(clips, roots["diving48"] / "rgb" / f"{name}.mp4")
    write_diving_lists(roots["diving48"])
    for version in ("train", "test"):  # V1 list names, as the paper config reads them
        v2 = roots["diving48"] / f"Diving48_V2_{version}.json"
        (roots["diving48"] / f"Diving48_{version}.json").write_text(v2.read_text())
    for ytid, (split, label) in KIN.items():
        place(clips, roots["minikinetics"] / split / label / clip_name(ytid))
    lists = config["datasets"]["minikinetics"]["options"]["subset_lists"]
    write(roots["minikinetics"] / lists["train"], [y for y, (s, _) in KIN.items() if s == "train"] + ["MISSINGtrn1"])
    write(roots["minikinetics"] / lists["val"], [y for y, (s, _) in KIN.items() if s == "val"])
    random_weight_files(
        checkout / config["scene"]["places365"]["weights"],
        checkout / config["humans"]["torchvision"]["weights"],
        checkout / config["scene"]["places365"]["categories"],
    )
    return checkout, roots


def run(checkout, *args, env):
    """`snakemake --cores 2 ARGS` from the checkout's root, as the README prints it."""
    proc = subprocess.run([tool("snakemake"), "--cores", "2", *args], cwd=checkout, capture_output=True, text=True,
                          env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def job_stats(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:", 1)[1], re.M)}


def pretrain_commands(out: str) -> dict[tuple[str, int], dict]:
    """(variant, seed) -> the --settings JSON of every pretraining command a `-p` dry run prints."""
    found = {}
    for line in out.splitlines():
        if "/train.py" not in line:
            continue
        args = shlex.split(line.split("Shell command: ", 1)[-1].split(" > ", 1)[0])
        run_dir = re.search(r"/pretrain/(\w+)/seed(\d+)$", args[args.index("--out-dir") + 1])
        if run_dir is None:  # a fine-tuning command (its --init names a pretrained model)
            continue
        variant, seed = run_dir.groups()
        found[(variant, int(seed))] = json.loads(args[args.index("--settings") + 1])
    return found


def test_paper_dry_run_plans_exactly_the_paper(paper_checkout, venv_env):
    """`snakemake -n -p --configfile configs/paper.yaml` on a fresh clone: no synthetic dataset, 84 fine-tunings,
    and each pretraining job's settings are the paper config's values, key by key, else the schema's defaults."""
    checkout, _ = paper_checkout
    out = run(checkout, "-n", "-p", "--configfile", PAPER, env=venv_env)
    assert "extended by additional config" not in out  # config.yaml is not merged in
    counts = job_stats(out)
    assert "synthesize_dataset" not in counts
    runs = 4 * 3  # variants x seeds
    assert counts["pretrain"] == runs
    assert counts["finetune"] == 4 * (3 + 3 + 1) * 3  # inits x (ucf101, hmdb51, diving48 splits) x seeds = 84

    from scenebias.config import load_schema

    paper = yaml.safe_load((REPO / PAPER).read_text())
    schema = load_schema()["properties"]

    def given_or_default(section, key):
        return paper.get(section, {}).get(key, schema[section]["properties"][key]["default"])

    commands = pretrain_commands(out)
    assert len(commands) == runs
    for (variant, seed), settings in commands.items():
        assert settings["model"] == paper["model"]["name"]
        assert settings["model_kwargs"] == paper["model"]["kwargs"]
        for key, section, name in [
            ("clip_frames", "clip", "frames"), ("crop", "clip", "crop"), ("scales", "clip", "scales"),
            ("flip", "clip", "flip"), ("mean", "clip", "mean"), ("std", "clip", "std"),
            ("workers", "loader", "workers"), ("pin_memory", "loader", "pin_memory"),
            ("persistent_workers", "loader", "persistent_workers"), ("cache_frames", "loader", "cache_frames"),
            ("device", "compute", "device"), ("amp", "compute", "amp"),
            ("channels_last", "compute", "channels_last"), ("threads", "compute", "threads"),
        ]:  # fmt: skip
            assert settings[key] == given_or_default(section, name), (variant, key)
        assert settings["flip"] is True and len(settings["scales"]) == 5  # the paper's augmentation
        written = {**paper["pretrain"]["defaults"], **paper["pretrain"]["variants"][variant]}
        for key, value in written.items():
            if key not in ("seeds", "init_from"):
                assert settings[key] == value, (variant, key)
        assert settings["seed"] == seed


def test_paper_dry_run_lists_the_whole_dag(paper_checkout, venv_env):
    checkout, _ = paper_checkout
    run(checkout, "--configfile", PAPER, "--until", "manifest", env=venv_env)  # the checkpoints: shards known
    report = (checkout / "results-paper" / "minikinetics" / "manifest_report.json").read_text()
    assert '"MISSINGtrn1"' in report  # the Mini-Kinetics id missing on disk is reported
    counts = job_stats(run(checkout, "--configfile", PAPER, "-n", env=venv_env))
    runs = 4 * 3  # variants x seeds
    finetunes = 4 * (3 + 3 + 1) * 3  # inits x (ucf101, hmdb51, diving48 splits) x seeds
    assert counts["pretrain"] == runs and counts["bias_measures"] == runs
    assert counts["finetune"] == finetunes and "evaluate" not in counts  # each fine-tuning job evaluates its model
    assert counts["extract_frames"] == 4 and counts["human_boxes"] == 4 and counts["scene_labels"] == 4
    assert counts["b_scene"] == 4 and counts["report"] == 1
    assert counts["boxes_sheet"] == 4 and counts["scenes_sheet"] == 4  # one of each per dataset
    assert "scene_features" not in counts and "fit_scene_model" not in counts  # places365, not k-means


def test_cluster_dry_run_plans_the_paper_without_a_cluster(paper_checkout, tmp_path):
    """The README's cluster command, `snakemake -n --profile profiles/slurm --configfile configs/paper.yaml`, on a
    PATH without any SLURM command, once the manifests exist (so every per-shard job is planned): every job asks for
    the shipped profile's memory and runtime, and the GPUs its rule and backend need -- the paper's detector and
    Places365 backends run a network (registry), so their per-shard jobs hold one GPU with 8 CPUs each."""
    from test_slurm import expected_gpus, local_rules, no_slurm_path, planned_jobs, profile, runtime

    checkout, _ = paper_checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    env["PATH"] = no_slurm_path(tmp_path)
    run(checkout, "--configfile", PAPER, "--until", "manifest", env=env)  # the checkpoints (kept when already there)
    proc = subprocess.run([tool("snakemake"), "-n", "--profile", "profiles/slurm", "--configfile", PAPER],
                          cwd=checkout, capture_output=True, text=True, env=env)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "This was a dry-run" in out, out[-3000:]
    paper = yaml.safe_load((REPO / PAPER).read_text())
    shipped = profile()["set-resources"]
    jobs = [job for job in planned_jobs(out) if job.rule not in local_rules()]
    assert {job.rule for job in jobs} >= {"human_boxes", "scene_labels", "pretrain", "finetune", "bias_measures"}
    for job in jobs:
        assert job.resources["mem_mb"] == str(shipped[job.rule]["mem_mb"]), job
        assert job.resources["runtime"] == str(runtime(job.rule, 1)), job
        gpus = expected_gpus(job.rule, paper)
        assert int(job.resources.get("gpu", 0)) == gpus, job
        if gpus:
            assert job.resources["cpus_per_gpu"] == str(shipped[job.rule]["cpus_per_gpu"]), job
    assert all(int(job.resources["gpu"]) == 1 for job in jobs if job.rule in ("human_boxes", "scene_labels"))


# configs/paper.yaml with every size shrunk so that the whole DAG runs on a CPU in a few minutes; the backends,
# the backbone family, the staged variants, the splits and the published-rows report stay the paper's.
# SCENEBIAS_TEST_DEVICE=cuda (bench/gpu_check.py) runs the same on a GPU, training with fp16 and its scaler.
DEVICE = os.environ.get("SCENEBIAS_TEST_DEVICE", "cpu")
TINY = {
    "frames": {"short_side": 32, "workers": 1},
    "scene": {"frames_per_video": 2, "places365": {"batch_size": 8, "device": DEVICE}},
    "humans": {"torchvision": {"short_side": 64, "batch_size": 4, "half": DEVICE != "cpu", "device": DEVICE}},
    "model": {"kwargs": {"depth": 18, "shortcut": "A", "width": 4}},
    "clip": {"frames": 4, "crop": 32},
    "loader": {"workers": 0, "pin_memory": False, "persistent_workers": False},
    "compute": {
        "device": DEVICE,
        "amp": "off" if DEVICE == "cpu" else "fp16",
        "channels_last": DEVICE != "cpu",
        "threads": 1,
        "gpus": 0 if DEVICE == "cpu" else 1,
    },
    "pretrain": {"defaults": {"batch_size": 4, "epochs": 2}},
    "finetune": {"defaults": {"batch_size": 4, "epochs": 1}},
}


def test_tiny_paper_run_through_the_report(paper_checkout, venv_env):
    """`snakemake --cores 2 --configfile configs/paper.yaml tiny.yaml`: the paper's config with an overlay that
    shrinks every size (and fetches the Mini-Kinetics lists from a loopback server standing in for GitHub)."""
    checkout, roots = paper_checkout
    tiny = dict(TINY, results="results-tiny")
    paper = yaml.safe_load((REPO / PAPER).read_text())
    tiny["pretrain"] = dict(TINY["pretrain"], variants={
        name: {"seeds": [0], "epochs": 2, **({"warmup_epochs": 1} if spec.get("warmup_epochs") else {})}
        for name, spec in paper["pretrain"]["variants"].items()
    })  # fmt: skip
    # ucf101: two official splits, for the per-split table
    tiny["finetune"] = dict(TINY["finetune"], targets={"ucf101": {"splits": [1, 2]}, "hmdb51": {"splits": [1]}})
    lists = {name: roots["minikinetics"] / "mini-kinetics-200" / name for name in ("train_ytid_list.txt",
                                                                                  "val_ytid_list.txt")}  # fmt: skip
    tiny["datasets"] = {"minikinetics": {"options": {"subset_lists": {
        "train": "download:train_ytid_list.txt", "val": "download:val_ytid_list.txt"}}}}  # fmt: skip
    overlay = checkout.parent / "tiny.yaml"
    with serve_folder(lists["train_ytid_list.txt"].parent) as url:
        tiny["downloads"] = {
            name: {"url": f"{url}/{name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            for name, path in lists.items()
        }
        overlay.write_text(yaml.safe_dump(tiny))
        run(checkout, "--configfile", PAPER, str(overlay), env=venv_env)

    root = checkout
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
    # Contact sheets for each official-layout dataset: boxes from the COCO detector, Places365 class names.
    categories = (checkout / paper["scene"]["places365"]["categories"]).read_text().split()[::2]
    for ds in ("minikinetics", "ucf101", "hmdb51", "diving48"):
        for sheet in ("boxes", "scenes"):
            record = json.loads((out / ds / f"{sheet}_sheet.json").read_text())
            assert record["grid"]["rows"] >= 1 and (out / ds / f"{sheet}_sheet.png").stat().st_size > 1000
            assert f"[{sheet}]({ds}/{sheet}_sheet.png)" in md
        assert record["labels"] == "Places365 classes" and record["n_labels"] == 365
        assert all(f"/c/{row['name']}" in categories for row in record["rows"])


def test_tiny_paper_run_with_detectron2(paper_checkout, venv_env):
    """The same tiny paper run through the report with `humans.backend: detectron2`: the human-box jobs run the
    real detectron2 (the test env's `python` first on PATH, as docs/detectron2.md says for a plain venv) on random
    weights in detectron2's own checkpoint format, the box classifier set to "person", so the masked branch gets
    the videos the paper's 0.3 / 70 % rule keeps. Few frames (detectron2 runs ~4 frames/s at 240 px on a CPU)."""
    from detectron2_env import D2_VENV, detectron2_python, write_biased_checkpoint

    detectron2_python()  # the env exists (a skip outside CI, a failure in CI)
    checkout, _ = paper_checkout
    weights = write_biased_checkpoint(checkout / "resources" / "detectron2" / "model_person.pth")
    tiny = dict(TINY, results="results-tiny-d2")
    tiny["humans"] = {"backend": "detectron2", "detectron2": {"weights": str(weights.relative_to(checkout)),
                      "short_side": 64, "batch_size": 4, "device": "cpu"}}  # fmt: skip
    paper = yaml.safe_load((REPO / PAPER).read_text())
    tiny["pretrain"] = dict(TINY["pretrain"], variants={
        name: {"seeds": [0], "epochs": 1, **({"warmup_epochs": 1} if spec.get("warmup_epochs") else {})}
        for name, spec in paper["pretrain"]["variants"].items()
    })  # fmt: skip
    tiny["finetune"] = dict(TINY["finetune"], targets={"ucf101": {"splits": [1]}, "hmdb51": {"splits": [1]}})
    overlay = checkout.parent / "tiny_detectron2.yaml"
    overlay.write_text(yaml.safe_dump(tiny))
    env = dict(venv_env, PATH=f"{D2_VENV / 'bin'}:{venv_env['PATH']}")
    run(checkout, "--configfile", PAPER, str(overlay), env=env)

    results = checkout / "results-tiny-d2"
    from scenebias.humans.boxes import load_boxes

    for ds in ("minikinetics", "ucf101", "hmdb51", "diving48"):
        logs = sorted((results / "logs" / "humans" / ds).glob("[0-9]*.log"))
        assert logs, ds
        for log in logs:  # every shard's job loaded the file
            assert f"[DetectionCheckpointer] Loading from {weights.relative_to(checkout)}" in log.read_text(), log
        videos = load_boxes(results / ds / "humans" / "boxes.npz")
        scores = np.concatenate([b[:, 4] for v in videos.values() for b in v.frames])
        # e^12 / (e^12 + 80): the "person" classifier of the checkpoint, as only detectron2 computes it
        assert len(scores) and np.allclose(scores, np.exp(12) / (np.exp(12) + 80), atol=1e-4), ds
        quality = json.loads((results / ds / "humans" / "quality.json").read_text())
        assert quality["videos"] > 0 and quality["valid_videos"] == quality["videos"], (ds, quality)
    summary = __import__("pandas").read_csv(results / "report" / "results.csv")
    assert set(summary["init"]) == {"baseline", "scene_adv", "mask_conf", "sdn"}
    assert set(summary["target"]) == {"ucf101", "hmdb51", "diving48"}
    assert "Published HMDB51 ablation" in (results / "report" / "results.md").read_text()


def write_releases(checkout, categories_rel: str) -> dict:
    """The authors' two releases for the tiny Mini-Kinetics tree, in their official formats, where the README says
    to unpack them: every clip but MISSING (computed by our backends instead), TIME_MAPPED with 3 frames where ours
    have 2 (mapped by time), VOTED with per-frame labels whose majority vote is not the mean's argmax."""
    from test_released import one_hot_probs, write_detections, write_places

    box = [40, 30, 280, 220, 0.9]  # in the release's 320x240 frames (our 32x24 clips at 240 high)
    train = {(label, ytid): [[box]] * (3 if ytid == TIME_MAPPED else 2)
             for ytid, (split, label) in KIN.items() if ytid != MISSING and split == "train"}  # fmt: skip
    val = {(label, ytid): [[box]] * 2 for ytid, (split, label) in KIN.items() if split == "val"}
    folder = checkout / "resources" / "sdn"
    write_detections(folder / "detections" / "detection_train_merged_rearranged.npy", train)
    write_detections(folder / "detections" / "detection_val_merged_rearranged.npy", val)
    labels = {key: np.stack([one_hot_probs(7, mass=0.4), one_hot_probs(7, mass=0.4), one_hot_probs(9, mass=0.99)])
              if key[1] == VOTED else np.stack([one_hot_probs(5)] * 2) for key in train}  # fmt: skip
    write_places(folder / "places_data" / "minikinetics_train_places365.npy", labels)
    write_places(folder / "places_data" / "minikinetics_val_places365.npy", {k: one_hot_probs(11) for k in val})
    return {
        "humans": {"backend": "released", "agreement": "torchvision",
                   "released": {"detections": "resources/sdn/detections", "missing": "torchvision"}},
        "scene": {"backend": "released", "agreement": "places365",
                  "released": {"labels": "resources/sdn/places_data", "missing": "places365",
                               "categories": categories_rel}},
    }  # fmt: skip


MISSING, TIME_MAPPED, VOTED = "a_b-c_d-e_f", "0wR5jVB-WPk", "-0B2EGKpsLw"


def test_tiny_paper_run_from_the_released_files_with_agreement(paper_checkout, venv_env):
    """The tiny paper run with `humans.backend: released` and `scene.backend: released` (files in the official
    formats where the README puts them), our backends computing what the releases lack and, through
    `agreement`, running beside them on Mini-Kinetics: the report tables the agreement and says which videos came
    from where; every file read is recorded with its sha256."""
    from scenebias.humans.boxes import load_boxes
    from scenebias.provenance import file_sha256
    from scenebias.released.detections import scale_boxes
    from scenebias.scene import load_labels

    checkout, _ = paper_checkout
    paper = yaml.safe_load((REPO / PAPER).read_text())
    releases = write_releases(checkout, paper["scene"]["places365"]["categories"])
    tiny = dict(TINY, results="results-tiny-released")
    tiny["humans"] = {**TINY["humans"], **releases["humans"]}
    tiny["scene"] = {**TINY["scene"], **releases["scene"]}
    tiny["pretrain"] = dict(TINY["pretrain"], variants={
        name: {"seeds": [0], "epochs": 1, **({"warmup_epochs": 1} if spec.get("warmup_epochs") else {})}
        for name, spec in paper["pretrain"]["variants"].items()
    })  # fmt: skip
    tiny["finetune"] = dict(TINY["finetune"], targets={"ucf101": {"splits": [1]}, "hmdb51": {"splits": [1]}})
    overlay = checkout.parent / "tiny_released.yaml"
    overlay.write_text(yaml.safe_dump(tiny))
    out = run(checkout, "--configfile", PAPER, str(overlay), env=venv_env)
    results = checkout / "results-tiny-released"
    kin = results / "minikinetics"

    # Boxes: the release's, scaled to our frames; the clip it lacks from the detector; the 3-frame one mapped by time
    boxes = load_boxes(kin / "humans" / "boxes.npz")
    clip = {ytid: next(v for v in boxes if v.startswith(ytid)) for ytid in KIN}
    index = __import__("pandas").read_csv(kin / "frames" / "index.csv").set_index("video_id")
    row = index.loc[clip[VOTED]]
    expected = scale_boxes(np.array([[40, 30, 280, 220, 0.9]], np.float32), (row.w, row.h), (row.src_w, row.src_h), 240)
    assert np.allclose(boxes[clip[VOTED]].frames[0], expected) and boxes[clip[VOTED]].source == "released"
    assert boxes[clip[MISSING]].source == "torchvision"
    assert boxes[clip[TIME_MAPPED]].note == {"frames": 2, "release_frames": 3, "frame_mapping": "time"}
    quality = json.loads((kin / "humans" / "quality.json").read_text())["coverage"]
    assert quality["videos_by_source"] == {"released": 5, "torchvision": 1}
    assert quality["delegated_videos"] == [{"video_id": clip[MISSING], "source": "torchvision",
                                            "reason": "not in the release"}]  # fmt: skip
    assert [v["video_id"] for v in quality["time_mapped_videos"]] == [clip[TIME_MAPPED]]
    ucf = json.loads((results / "ucf101" / "humans" / "quality.json").read_text())["coverage"]
    assert list(ucf["videos_by_source"]) == ["torchvision"]
    assert ucf["delegated"] == ucf["videos_by_source"]["torchvision"]
    # Scene labels: the release's mean and majority vote; the clip it lacks from Places365
    labels = load_labels(kin / "scene" / "labels.npz")
    at = {v: i for i, v in enumerate(labels["video_ids"].tolist())}
    assert labels["top1"][at[clip[VOTED]]] == 7 and labels["soft"][at[clip[VOTED]]].argmax() == 9
    assert labels["sources"][at[clip[MISSING]]] == "places365" and labels["soft"].shape[1] == 365
    # Every file read is recorded with its sha256, and the report's footer lists them
    prepared = json.loads((results / "prepared" / "humans" / "released" / "hparams.json").read_text())
    release_files = sorted((checkout / "resources" / "sdn" / "detections").glob("*.npy"))
    assert sorted(f["sha256"] for f in prepared["files"].values()) == sorted(map(file_sha256, release_files))
    md = (results / "report" / "results.md").read_text()
    for path in release_files:
        assert file_sha256(path) in md
    # The agreement tables, on the clips the release has, with their contact sheets
    assert "## Agreement between backends on the same videos" in md
    for section, name, sheet in (("humans", "agreement.json", "boxes_agreement"),
                                 ("scene", "agreement.json", "scenes_agreement")):  # fmt: skip
        report = json.loads((kin / section / name).read_text())
        assert report["videos"] == 5, (section, report)
        assert f"[{'frames' if section == 'humans' else 'videos'}](minikinetics/{sheet}_sheet.png)" in md
        assert (results / "report" / "minikinetics" / f"{sheet}_sheet.png").stat().st_size > 1000
    boxes_report = json.loads((kin / "humans" / "agreement.json").read_text())
    assert boxes_report["frames"] == 10 and boxes_report["reference"] == "released"
    assert 0 <= boxes_report["verdicts_agree"] <= 1
    assert "| minikinetics | released | torchvision | 5 | 10 |" in md
    assert "| minikinetics | released | places365 | 5 |" in md
    # The run's end and the report say what came from where
    assert "mapped by time" in out and "computed for: not in the release" in out
    assert "human boxes: released 5, torchvision 1" in md
    summary = __import__("pandas").read_csv(results / "report" / "results.csv")
    assert set(summary["init"]) == {"baseline", "scene_adv", "mask_conf", "sdn"}
