"""Runs the real Snakemake workflow on the smoke config, from the root of a fresh clone, as the README says:
`snakemake --cores 2 --configfile configs/smoke.yaml`. Setting changes are overlays given after it
(`--configfile configs/smoke.yaml overlay.yaml`), the mechanism the README documents."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, fresh_clone, tool
from scenebias.config import load_schema
from scenebias.manifest import shard_names

pytestmark = pytest.mark.workflow

SMOKE = "configs/smoke.yaml"


def snakemake(checkout: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    """`snakemake --cores 2 ARGS` in the checkout's root; ARGS name the config (--configfile ...)."""
    proc = subprocess.run([tool("snakemake"), "--cores", "2", *args], cwd=checkout, capture_output=True, text=True,
                          env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}; empty when nothing would run."""
    if "Nothing to be done" in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:", 1)[1]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M))
    counts.pop("total", None)
    return {rule: int(n) for rule, n in counts.items()}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    import os
    import sys

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    checkout = fresh_clone(tmp_path_factory.mktemp("smoke") / "scenebias")
    # A committed checkout, as a user's clone is: every job records its commit (test_every_job_records_...).
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "t"]):
        subprocess.run(["git", *command], cwd=checkout, check=True, capture_output=True)
    proc = snakemake(checkout, "--configfile", SMOKE, env=env)
    (checkout.parent / "smoke_run.log").write_text(proc.stdout + proc.stderr)  # what the user saw
    config = yaml.safe_load((REPO / SMOKE).read_text())
    return checkout, config, ["--configfile", SMOKE], env


def test_smoke_outputs(smoke_run):
    checkout, config, _, _ = smoke_run
    results = checkout / "results"
    world = config["world"]
    expected = {
        "source": sum(world["source"].values()),
        "fine": sum(world["targets"]["fine"][k] for k in ("train", "test")),
    }
    for ds in expected:  # on the static-camera world no motion box covers (almost) the whole frame
        boxes = json.loads((results / ds / "humans" / "quality.json").read_text())
        assert boxes["large_boxes_dropped"]["boxes"] == 0, ds
    for ds, n_videos in expected.items():
        manifest = pd.read_csv(results / ds / "manifest.csv", dtype={"shard": str})
        assert len(manifest) == n_videos
        assert manifest["shard"].value_counts().max() <= config["manifest"]["shard_size"]
        index = pd.read_csv(results / ds / "frames" / "index.csv", dtype={"shard": str}, keep_default_na=False)
        assert (index["status"] == "ok").all() and len(index) == n_videos
        assert (index["n_frames"] == world["n_frames"]).all()
        assert (index[["w", "h"]] == config["frames"]["short_side"]).all().all()
        for row in index.itertuples():
            assert (results / ds / "frames" / row.shard / "packs" / row.pack).is_file()
        assert (results / "logs" / "frames" / ds / "merge.log").is_file()
    scene = json.loads((results / "source" / "scene" / "quality.json").read_text())
    assert scene["purity"] >= 0.8 and scene["videos"] == expected["source"]
    boxes = json.loads((results / "source" / "humans" / "quality.json").read_text())
    assert boxes["actor_pixel_recall"] >= 0.6
    assert boxes["no_actor_videos_valid"] == 0.0  # backgrounds alone give no valid "person"
    labels = np.load(results / "fine" / "scene" / "labels.npz")
    assert labels["soft"].shape == (expected["fine"], config["scene"]["kmeans"]["k"] if "scene" in config else 8)
    assert np.allclose(labels["soft"].sum(1), 1, atol=1e-5)
    source = pd.read_csv(results / "source" / "manifest.csv")
    assert set(source["split1"]) == {"train", "test", "test_conflict", "test_masked", "test_noactor"}


def test_every_file_the_run_wrote_is_declared(smoke_run):
    """Every file a job wrote is a declared output (or lies in a declared output folder), apart from the job logs
    and benchmarks; and every rule of the run has a benchmark file."""
    checkout, _, args, env = smoke_run
    summary = snakemake(checkout, *args, "--summary", env=env).stdout
    rows = [line.split("\t") for line in summary.splitlines()[1:] if "\t" in line]
    declared = {Path(row[0]) for row in rows}
    rules = {row[2] for row in rows}
    assert len(declared) > 50 and "pretrain" in rules, summary[:2000]
    results = checkout / "results"
    undeclared = []
    for path in results.rglob("*"):
        relative = path.relative_to(results)
        if path.is_dir() or relative.parts[0] in ("logs", "benchmarks", "README.md"):
            continue
        here = Path("results", relative)
        if here not in declared and not any(parent in declared for parent in here.parents):
            undeclared.append(str(relative))
    assert not undeclared, undeclared
    benchmarked = {p.relative_to(results / "benchmarks").parts[0] for p in (results / "benchmarks").rglob("*.tsv")}
    stems = {"synthesize", "manifest", "frames", "humans", "scene", "pretrain", "finetune", "bias", "sheets",
             "recompose"}  # fmt: skip
    assert stems <= benchmarked, stems - benchmarked
    assert (results / "benchmarks" / "report.tsv").is_file()


def job_log_pattern(rule: str) -> re.Pattern:
    """The log files of a rule's jobs (scenebias.paths.JOBS), as a regex over paths under logs/."""
    from scenebias.paths import JOBS

    regex, fields = "", {"shard": r"[0-9a-f]+", "seed": r"\d+", "split": r"\d+"}
    for part in re.split(r"(\{\w+\})", JOBS[rule]):
        regex += fields.get(part[1:-1], "[^/]+") if part.startswith("{") else re.escape(part)
    return re.compile(regex + r"\.log")


def test_every_job_records_what_it_was_made_with(smoke_run):
    """Every job of the smoke run wrote a declared hparams.json with its environment: the checkout's commit (and
    that it had no uncommitted change), Python, torch / torchvision with CUDA and cuDNN, the GPUs, the ffmpeg binary
    and its version, Snakemake's version; training jobs the sha256 of the model they started from. The report
    shows the environment once, in its footer."""
    from scenebias.paths import JOBS
    from scenebias.provenance import file_sha256

    checkout, _, args, env = smoke_run
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    version = subprocess.run([tool("snakemake"), "--version"], capture_output=True, text=True).stdout.strip()
    rows = [line.split("\t") for line in snakemake(checkout, *args, "--summary", env=env).stdout.splitlines()[1:]]
    hparams: dict[str, list[Path]] = {}
    for row in rows:
        if len(row) > 2 and row[0].endswith("hparams.json"):
            hparams.setdefault(row[2], []).append(checkout / row[0])
    logs = [str(p.relative_to(checkout / "results" / "logs")) for p in (checkout / "results" / "logs").rglob("*.log")]
    ran = {rule: n for rule in JOBS if (n := sum(bool(job_log_pattern(rule).fullmatch(log)) for log in logs))}
    assert len(ran) >= 14 and "pretrain" in ran, ran
    assert {rule: len(hparams.get(rule, [])) for rule in ran} == ran  # one declared record per job
    for path in (p for paths in hparams.values() for p in paths):
        record = json.loads(path.read_text())
        environment = record["environment"]
        assert environment["git"]["commit"] == head and environment["git"]["dirty"] is False, path
        assert environment["python"] and environment["snakemake"] == version, path
        assert environment["packages"]["torch"] and environment["packages"]["torchvision"], path
        assert {"cuda", "cudnn", "gpus"} <= set(environment["accelerator"]), path
        assert environment["ffmpeg"]["path"] and environment["ffmpeg"]["version"].startswith("ffmpeg version"), path
    for path in hparams["finetune"]:
        record = json.loads(path.read_text())
        if record["params"]["args"]["init"]:
            init = record["files"]["init"]
            assert init["sha256"] == file_sha256(checkout / init["path"]), path
    md = (checkout / "results" / "report" / "results.md").read_text()
    footer = md.split("## What these results were made with", 1)[1]
    assert footer.count(head[:12]) == 1 and version in footer and "pretrain/baseline/seed0/model.pt" in footer


def test_a_box_backend_added_by_the_recipe_runs_through_the_workflow(tmp_path):
    """docs/design.md "Adding a human-box backend", followed on a fresh clone: a module with the finder, one entry in
    BOX_BACKENDS, the name and its settings in the schema. The workflow then plans it (its weights file an input
    of the job, so a changed file reruns the boxes), the script runs it and the boxes stage writes its boxes."""
    import os
    import sys

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    checkout = fresh_clone(tmp_path / "scenebias")
    (checkout / "scenebias" / "humans" / "tiny.py").write_text(
        "import numpy as np\n\n\n"
        "def build(settings, files):\n"
        "    fraction = float(open(files['weights']).read())\n\n"
        "    def find(row, idx, frames):\n"
        "        box = [0, 0, int(row.w) * fraction, int(row.h) * fraction, settings['score']]\n"
        "        return [np.array([box], np.float32) for _ in idx], None\n\n"
        "    return find\n"
    )
    stage = checkout / "scenebias" / "humans" / "stage.py"
    registry = "BOX_BACKENDS: dict[str, BoxBackend] = {\n"
    text = stage.read_text()
    assert text.count(registry) == 1
    text = text.replace(
        registry,
        registry + '    "tiny": BoxBackend(build=tiny.build, files={"weights": Weights(None, "a fraction")}),\n',
    )
    stage.write_text(
        text.replace("from scenebias.framepack", "from scenebias.humans import tiny\nfrom scenebias.framepack", 1)
    )
    schema = checkout / "schemas" / "config.schema.yaml"
    text = schema.read_text()
    enum = "backend: {enum: [motion, torchvision, detectron2, oracle, released],"
    section = "      motion:\n        type: object\n"
    assert text.count(enum) == 1 and text.count(section) == 1
    tiny = (
        "      tiny:\n        type: object\n        additionalProperties: false\n        default: {}\n"
        "        properties:\n          weights: {type: [string, 'null'], default: null}\n"
        "          score: {type: number, default: 0.8}\n"
    )
    text = text.replace(enum, enum.replace("released]", "released, tiny]")).replace(section, tiny + section)
    schema.write_text(text)
    (checkout / "tiny.txt").write_text("0.5\n")
    (checkout / "tiny.yaml").write_text("humans: {backend: tiny, tiny: {weights: tiny.txt, score: 0.9}}\n")

    target = "results/source/humans/boxes.npz"
    run = snakemake(checkout, target, "--configfile", SMOKE, "tiny.yaml", env=env)
    assert re.search(r"human_boxes.py .*--backend tiny .*--weights tiny\.txt", run.stdout + run.stderr)
    with np.load(checkout / target) as data:
        boxes = data["boxes"]
    assert len(boxes) and np.allclose(boxes, [0, 0, 16, 16, 0.9])  # half of the 32-px frames, the set score
    shard = shard_names(checkout / "results" / "source" / "manifest.csv")[0]
    hparams = json.loads((checkout / "results" / "source" / "humans" / f"{shard}.hparams.json").read_text())
    assert hparams["params"]["backend"] == "tiny" and hparams["params"]["files"] == {"weights": "tiny.txt"}
    (checkout / "tiny.txt").write_text("0.25\n")
    counts = job_counts(snakemake(checkout, target, "-n", "--configfile", SMOKE, "tiny.yaml", env=env).stdout)
    assert counts.get("human_boxes") == shard_count(checkout, ["source"]) and "extract_frames" not in counts, counts


def test_job_logs_read_as_text_and_no_empty_checkpoint_folders_stay(smoke_run):
    """Job logs have no progress-bar carriage returns (the frames, boxes and scene stages report progress in plain
    lines when not on a terminal, scenebias.progress), each per-video stage ends with a line of what it did, and a
    finished run leaves no empty folders under results/checkpoints/."""
    checkout, _, _, _ = smoke_run
    logs = sorted((checkout / "results" / "logs").rglob("*.log"))
    assert len(logs) > 20
    with_cr = [str(p.relative_to(checkout)) for p in logs if "\r" in p.read_text(errors="replace")]
    assert not with_cr, with_cr
    shard = shard_names(checkout / "results" / "source" / "manifest.csv")[0]
    boxes_log = (checkout / "results" / "logs" / "humans" / "source" / f"{shard}.log").read_text()
    assert re.search(r"boxes motion: \d+ video\(s\) in \d+:\d\d:\d\d", boxes_log), boxes_log[-2000:]
    checkpoints = checkout / "results" / "checkpoints"
    assert not checkpoints.exists() or not [p for p in checkpoints.rglob("*") if p.is_dir()], list(
        checkpoints.rglob("*")
    )


def test_run_summary_names_only_the_datasets_of_the_run(smoke_run):
    """The p_bias sweep's datasets are made only by their own target: a run without it does not list them as "not
    processed yet"; the run's own datasets are there."""
    checkout, _, _, _ = smoke_run
    summary = (checkout.parent / "smoke_run.log").read_text().split("Videos per dataset", 1)[1]
    assert "source: 96 listed, 96 with frames, none left out" in summary and "fine: 24 listed" in summary
    assert "not processed yet" not in summary and "source_pb" not in summary


def test_every_job_started_with_the_allocator_setting(smoke_run):
    """The Snakefile sets scenebias.launch's allocator variables once; every job inherits them (each job's
    hparams.json records what it saw), training jobs included."""
    from scenebias.launch import ALLOCATOR_ENVIRONMENT

    checkout, _, _, _ = smoke_run
    records = sorted((checkout / "results").rglob("*hparams.json"))
    assert any("pretrain" in str(p) for p in records) and len(records) > 10
    for path in records:
        assert json.loads(path.read_text())["environment"]["allocator"] == ALLOCATOR_ENVIRONMENT, path


def test_rerun_does_nothing(smoke_run):
    checkout, _, smoke, env = smoke_run
    assert job_counts(snakemake(checkout, *smoke, "-n", env=env).stdout) == {}


def test_finished_run_moved_to_another_folder_is_up_to_date(smoke_run, tmp_path):
    """Results are not tied to the folder they were made in: no absolute path of the checkout decides a rerun."""
    checkout, _, smoke, env = smoke_run
    moved = tmp_path / "elsewhere" / "scenebias"
    shutil.copytree(checkout, moved, symlinks=True)
    out = snakemake(moved, *smoke, "-n", env=env)
    assert job_counts(out.stdout) == {}, out.stdout[-2000:]


def shard_count(checkout: Path, datasets=("source", "fine")) -> int:
    return sum(
        pd.read_csv(checkout / "results" / ds / "manifest.csv", dtype={"shard": str})["shard"].nunique()
        for ds in datasets
    )


def overlay(checkout: Path, name: str, section: str, **values) -> list[str]:
    """Config arguments for the smoke config plus an overlay file that sets some keys of one section (nested
    one level: 'humans.motion'); the overlay lies outside the checkout's configs/."""
    changes: dict = {}
    target = changes
    for key in section.split("."):
        target = target.setdefault(key, {})
    target.update(values)
    path = checkout.parent / name
    path.write_text(yaml.safe_dump(changes))
    return ["--configfile", SMOKE, str(path)]


UPSTREAM_OF_TRAINING = {"synthesize_dataset", "manifest", "extract_frames", "merge_frame_index"}


def test_changing_a_box_setting_reruns_only_boxes_and_dependants(smoke_run):
    checkout, config, _, env = smoke_run
    configfile = overlay(checkout, "boxes.yaml", "humans.motion", diff_threshold=0.09)
    shards = shard_count(checkout)
    counts = job_counts(snakemake(checkout, *configfile, "-n", env=env).stdout)
    assert not UPSTREAM_OF_TRAINING & set(counts)
    assert counts["human_boxes"] == shards and counts["merge_human_boxes"] == 2
    # k-means features are computed on human-masked frames, so the labels follow the boxes.
    assert counts["scene_features"] == shards and counts["fit_scene_model"] == 1
    # Only the variant that uses boxes or scene labels retrains (sdn); the baseline and scratch do not.
    assert counts["pretrain"] == 1
    assert counts["finetune"] == 1  # which also evaluates the model
    assert counts["bias_measures"] == 2  # every pretrained model's bias measures read the boxes
    assert counts["report"] == 1
    assert counts["boxes_sheet"] == 2 and counts["scenes_sheet"] == 2  # the sheets follow boxes and labels


def test_changing_a_sheet_setting_reruns_only_that_sheet_and_the_report(smoke_run):
    checkout, config, _, env = smoke_run
    counts = job_counts(
        snakemake(checkout, *overlay(checkout, "sheets.yaml", "sheets", frames=2), "-n", env=env).stdout
    )
    assert counts == {"boxes_sheet": 2, "recomposed_sheets": 2, "report": 1, "all": 1}  # both show frames
    counts = job_counts(
        snakemake(checkout, *overlay(checkout, "scenes.yaml", "sheets", scenes=3), "-n", env=env).stdout
    )
    assert counts == {"scenes_sheet": 2, "report": 1, "all": 1}


def test_contact_sheets(smoke_run):
    """Per dataset, the boxes sheet (sampled videos, each frame beside its masked copy) and the scenes sheet (one
    row per frequent cluster) at the grid their settings ask for, linked from results.md and the HTML report."""
    import cv2

    checkout, config, _, _ = smoke_run
    results = checkout / "results"
    settings = load_schema()["properties"]["sheets"]["properties"]
    videos, frames, scenes, per_scene = (settings[k]["default"] for k in ("videos", "frames", "scenes", "scene_videos"))
    md = (results / "report" / "results.md").read_text()
    for ds in ("source", "fine"):
        truth = pd.read_csv(results / "world" / ds / "ground_truth.csv").set_index("video_id")
        boxes = json.loads((results / "report" / ds / "boxes_sheet.json").read_text())
        image = cv2.imread(str(results / "report" / ds / "boxes_sheet.png"))
        assert boxes["grid"]["rows"] == min(videos, len(truth)) and boxes["grid"]["cols"] == 2 * frames
        assert image.shape[0] > boxes["grid"]["rows"] * boxes["grid"]["tile"][0]
        assert image.shape[1] > boxes["grid"]["cols"] * boxes["grid"]["tile"][1]
        classes = {row["label_name"] for row in boxes["rows"]}
        assert len(classes) == min(videos, truth["label_name"].nunique())  # stratified: no class twice before all once
        # the smoke run's boxes come from motion: the sheet says so, with the backend record's caution
        assert boxes["boxes"]["are"] == "motion regions (not person detections)"
        header = " ".join(boxes["header"])
        assert "human boxes (motion regions (not person detections))" in header and "verdicts from motion" in header
        assert "caution: a box is wherever something moves" in header and "detector backend" in header
        scenes_record = json.loads((results / "report" / ds / "scenes_sheet.json").read_text())
        counts = [row["videos"] for row in scenes_record["rows"]]
        assert counts == sorted(counts, reverse=True) and len(counts) <= scenes
        assert scenes_record["grid"]["cols"] == per_scene and sum(counts) <= len(truth)
        image = cv2.imread(str(results / "report" / ds / "scenes_sheet.png"))
        assert image.shape[0] > scenes_record["grid"]["rows"] * scenes_record["grid"]["tile"][0]
        for row in scenes_record["rows"]:  # one scene per cluster row (k-means purity is high on this world)
            shown = truth.loc[row["shown"], "scene"]
            assert shown.value_counts().iloc[0] > len(shown) / 2, (ds, row)
        assert f"[boxes]({ds}/boxes_sheet.png)" in md and f"[scenes]({ds}/scenes_sheet.png)" in md
    assert "**Human boxes are motion regions (not person detections).** Caution:" in md


def test_changing_a_finetune_setting_reruns_only_finetune_and_report(smoke_run):
    checkout, config, _, env = smoke_run
    configfile = overlay(checkout, "finetune.yaml", "finetune.defaults", epochs=3)
    counts = job_counts(snakemake(checkout, *configfile, "-n", env=env).stdout)
    n_runs = 3  # baseline, sdn and scratch on one target, one split, one seed
    # each finetune job evaluates its own model; the target's recomposed sets are measured with the new models
    assert counts == {"finetune": n_runs, "recomposed_measures": 1, "report": 1, "all": 1}


def test_training_rules_launch_torchrun_for_several_gpus(smoke_run):
    checkout, config, _, env = smoke_run
    configfile = overlay(checkout, "gpus.yaml", "compute", gpus=2)
    out = snakemake(checkout, *configfile, "-n", "-p", "--forcerun", "pretrain", "finetune", env=env).stdout
    commands = [line for line in out.splitlines() if "scripts/train.py" in line]
    assert commands and all("torchrun --standalone --nproc_per_node 2 " in c for c in commands), commands[:2]


def test_recomposed_sets_and_their_table(smoke_run):
    """The source and the target are recomposed from the motion backend's masks (the source's action swap also from
    the world's true masks), every model is measured on its dataset's sets, and the report shows the tables, the
    agreement with the ground truth and a contact sheet per set."""
    checkout, config, _, _ = smoke_run
    results = checkout / "results"
    quality = json.loads((results / "source" / "humans" / "quality.json").read_text())
    assert 0.1 < quality["mean_mask_iou"] < 1
    models = {"source": {"baseline", "sdn"}, "fine": {"baseline", "sdn", "scratch"}}
    tests = {"source": config["world"]["source"]["test"], "fine": config["world"]["targets"]["fine"]["test"]}
    for ds, expected in models.items():
        record = json.loads((results / ds / "recomposed" / "record.json").read_text())
        assert record["masks"] == "person masks" and record["counts"]["test_videos"] == tests[ds]
        assert set(record["sets"]) == {"original", "actor_only", "background_only", "action_swap", "scuba",
                                       "action_swap_true"}  # fmt: skip
        measures = pd.read_csv(results / ds / "recomposed" / "measures.csv")
        assert set(measures["model"]) == expected and len(measures) == len(expected)
        assert measures["action_swap_acc"].between(0, 1).all() and measures["contrasted_acc"].between(0, 1).all()
        assert (measures["original_n"] == record["counts"]["chosen"]).all()
        sheets = sorted(p.name for p in (results / "report" / ds / "recomposed").glob("*.png"))
        assert sheets == ["action_swap_sheet.png", "action_swap_true_sheet.png", "actor_only_sheet.png",
                          "background_only_sheet.png", "scuba_sheet.png"]  # fmt: skip
    md = (results / "report" / "results.md").read_text()
    assert "## Recomposed test sets" in md and "### source (pretrained models)" in md and "### fine (fine-tuned" in md
    assert "### Agreement with the ground truth" in md and "(source/recomposed/action_swap_sheet.png)" in md
    agreement = pd.read_csv(results / "report" / "recomposed_agreement.csv")
    assert len(agreement) == 2 and {"conflict_acc", "action_swap_acc", "action_swap_true_acc"} <= set(agreement)
    summary = pd.read_csv(results / "report" / "recomposed.csv")
    assert set(summary["dataset"]) == {"source", "fine"}


def test_report_and_html(smoke_run):
    checkout, _, smoke, env = smoke_run
    report = checkout / "results" / "report"
    md = (report / "results.md").read_text()
    for row in ("| baseline |", "| sdn |", "| scratch |"):
        assert row in md
    assert "Scene-bias measures" in md and "Dataset scene bias" in md
    assert "## Videos per dataset" in md
    assert "| fine | 24 | 24 | 0 | 0 | – | 0 | 0 | motion regions (not person detections): " in md
    runs = pd.read_csv(report / "runs.csv")
    assert len(runs) == 3 and runs["video_top1"].between(0, 1).all()
    assert (report / "bias_measures.png").stat().st_size > 1000
    assert (report / "results.tex").read_text().startswith("\\begin{tabular}")
    snakemake(checkout, *smoke, "--report", str(checkout / "report.html"), env=env)
    html = (checkout / "report.html").read_text(errors="replace")
    assert "results.md" in html and "boxes_sheet.png" in html and "scenes_sheet.png" in html


# The next two tests read the smoke run's own outputs and logs: they stay above the first test that reruns a stage
# of this checkout for real (frames at 24 px below), which would make the smoke run's bias measures stale.


def test_demo_time_counts_every_training_job_with_its_benchmarked_seconds(smoke_run):
    """bench/demo_time.py (the job-seconds table of docs/benchmarks.md) pairs each job's start and finish in the
    Snakemake log: its pretrain/finetune counts match the benchmark files, and no job is shorter than its benchmark."""
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    from demo_time import job_seconds

    checkout, _, _, _ = smoke_run
    logs = [
        p
        for p in sorted((checkout / ".snakemake" / "log").glob("*.snakemake.log"))
        if "Finished jobid" in p.read_text()
    ]
    per_rule, wall = job_seconds(logs[0].read_text().splitlines())
    benchmarks = checkout / "results" / "benchmarks"
    # (pretrain/source only: the p_bias sweep test may since have pretrained its own datasets in this checkout)
    for rule, folder in (("pretrain", "pretrain/source"), ("finetune", "finetune")):
        measured = sorted(pd.read_csv(f, sep="\t")["s"].iloc[0] for f in (benchmarks / folder).rglob("*.tsv"))
        assert len(per_rule[rule]) == len(measured) > 0, rule
        assert all(log_s >= bench_s - 1 for log_s, bench_s in zip(sorted(per_rule[rule]), measured, strict=True)), rule
    assert wall >= max(max(v) for v in per_rule.values())


def test_retrain_bench_reproduces_the_workflow_pretraining_and_measures_a_change(smoke_run):
    """bench/retrain.py retrains on a finished run's data with the rules' scripts and arguments: with no change it
    gives the workflow's own bias measures (training is seeded); with a change it reports that run."""
    import sys

    checkout, _, _, env = smoke_run
    cmd = [sys.executable, "bench/retrain.py", "--config", SMOKE, "--variants", "sdn", "--jobs", "1"]
    same = subprocess.run([*cmd, "--tag", "same"], cwd=checkout, env=env, capture_output=True, text=True)
    assert same.returncode == 0, same.stderr[-3000:]
    ours = json.loads((checkout / "bench/out/retrain/same/sdn/seed0/bias.json").read_text())
    workflow = json.loads((checkout / "results/source/bias/sdn/seed0.json").read_text())
    assert ours["in_dist_acc"] == workflow["in_dist_acc"] and ours["conflict_acc"] == workflow["conflict_acc"]
    assert "| sdn |" in same.stdout
    changed = subprocess.run([*cmd, "--tag", "e1", "--set", "epochs=1"], cwd=checkout, env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert changed.returncode == 0, changed.stderr[-3000:]
    log = pd.read_csv(checkout / "bench/out/retrain/e1/sdn/seed0/log.csv")
    assert len(log) == 1  # one epoch, as asked
    bad = subprocess.run([*cmd, "--tag", "bad", "--set", "epoch=1"], cwd=checkout, env=env, capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode != 0 and "KEY a training setting" in bad.stderr


def test_changing_a_frame_setting_reruns_only_frames_and_dependants(smoke_run):
    checkout, config, _, env = smoke_run
    configfile = overlay(checkout, "smoke_24.yaml", "frames", short_side=24)
    shards = shard_count(checkout)
    counts = job_counts(snakemake(checkout, *configfile, "-n", env=env).stdout)
    assert "synthesize_dataset" not in counts and "manifest" not in counts
    assert counts["extract_frames"] == shards and counts["merge_frame_index"] == 2
    assert counts["pretrain"] == 2 and counts["finetune"] == 3 and counts["report"] == 1
    video = next((checkout / "results" / "world" / "fine" / "videos").rglob("*.mp4"))
    before = video.stat().st_mtime_ns
    snakemake(checkout, *configfile, "--until", "merge_frame_index", env=env)
    assert video.stat().st_mtime_ns == before  # the world was not re-rendered
    index = pd.read_csv(checkout / "results" / "fine" / "frames" / "index.csv")
    assert (index[["w", "h"]] == 24).all().all()


def test_p_bias_sweep_target(smoke_run):
    """`snakemake p_bias_sweep`: each p_bias is a re-rendered source set through every stage, baseline trained on
    it, and the bias-conflicting accuracy tabled and plotted; the default target is untouched."""
    checkout, config, smoke, env = smoke_run
    configfile = overlay(checkout, "sweep.yaml", "sweep", p_bias=[0.5, 1.0], variants=["baseline"])
    default_jobs = job_counts(snakemake(checkout, *smoke, "-n", env=env).stdout)
    assert job_counts(snakemake(checkout, *configfile, "-n", env=env).stdout) == default_jobs  # not part of `all`
    snakemake(checkout, "p_bias_sweep", *configfile, env=env)  # a target goes before --configfile's list
    results = checkout / "results"
    truth = pd.read_csv(results / "world" / "source_pb100" / "ground_truth.csv")
    train = truth[truth["set"] == "train"]
    assert (train["scene"] == train["home_scene"]).all()  # p_bias 1: every training clip in its home scene
    truth = pd.read_csv(results / "world" / "source_pb050" / "ground_truth.csv")
    train = truth[truth["set"] == "train"]
    assert 0.3 < (train["scene"] == train["home_scene"]).mean() < 0.8
    summary = pd.read_csv(results / "report" / "p_bias_sweep.csv")
    assert sorted(summary["p_bias"]) == [0.5, 1.0] and set(summary["variant"]) == {"baseline"}
    assert summary["conflict_acc_mean"].between(0, 1).all()
    assert (results / "report" / "p_bias_sweep.png").stat().st_size > 1000
    assert "p_bias 0.5" in (results / "report" / "p_bias_sweep.md").read_text()
    assert not (results / "source_pb050" / "pretrain" / "sdn").exists()  # only the listed variants


def test_renaming_a_results_folder_is_one_line(tmp_path):
    """The results layout is defined once (scenebias/paths.py): renaming the fine-tuning and pretraining folders
    there, and nowhere else, gives a complete smoke run, report included, under the new names."""
    import os
    import sys

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    checkout = fresh_clone(tmp_path / "scenebias")
    paths = checkout / "scenebias" / "paths.py"
    text = paths.read_text()
    renamed = text.replace('"{tgt}/finetune/{init}', '"{tgt}/tuned/{init}').replace(
        '"{src}/pretrain/{variant}', '"{src}/source_models/{variant}'
    )
    assert renamed.count("tuned") == 1 and renamed.count("source_models") == 1
    paths.write_text(renamed)
    snakemake(checkout, "--configfile", SMOKE, env=env)
    results = checkout / "results"
    assert not (results / "fine" / "finetune").exists() and not (results / "source" / "pretrain").exists()
    assert list(results.glob("fine/tuned/*/split1/seed*/eval.json"))
    assert list(results.glob("source/source_models/*/seed*/model.pt"))
    runs = pd.read_csv(results / "report" / "runs.csv")
    assert len(runs) == 3 and set(runs["init"]) == {"baseline", "sdn", "scratch"}
    assert all("/tuned/" in p for p in runs["path"])
