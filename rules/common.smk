# What the rules share, in the order the pipeline runs: the config check, the results layout, the datasets, then
# one section per stage with the input functions and option builders of its rules, and finally the targets.

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from scenebias.config import (
    DOWNLOAD_SCHEME,
    ConfigError,
    check_on_disk,
    load_schema,
    subset_list_entries,
    validate_config,
)
from scenebias.manifest import shard_names
from scenebias.paths import Layout
from scenebias.humans.stage import BOX_BACKENDS
from scenebias.scene import LABELLERS
from scenebias.runs import (
    finetune_inits,
    finetune_runs,
    finetune_settings,
    pretrain_runs,
    pretrain_settings,
    sweep_datasets,
    sweep_pretrain_runs,
    sweep_variants,
)

# ---------------------------------------------------------------------------------------------------------
# The config: checked (and completed with the schema's defaults) before anything else is read from it.

try:
    validate_config(
        config, load_schema(Path(workflow.basedir) / "schemas" / "config.schema.yaml")
    )
    check_on_disk(config)  # dataset roots, and the splits a list file gives
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

RESULTS = config["results"]
RESOURCES = config["resources"]
SCENE = config["scene"]
GPUS = config["compute"]["gpus"]  # GPUs one training job holds (0: none)

# ---------------------------------------------------------------------------------------------------------
# The results layout (scenebias/paths.py names every file and folder; rules build paths from these names only).

P = Layout(RESULTS)
LOGS = P("logs")
BENCHMARKS = P("benchmarks")

# ---------------------------------------------------------------------------------------------------------
# Datasets, runs and wildcards.

SOURCE = config["pretrain"]["dataset"]
VARIANTS = list(config["pretrain"]["variants"])
INITS = finetune_inits(config)
TARGETS = list(config["finetune"]["targets"])

# The optional p_bias sweep: each point is a synthetic source dataset of its own (source_pbNNN) that goes
# through every stage like the source does, so the per-dataset rules serve it like any configured dataset.
SWEEP = sweep_datasets(config)
DATASETS = {
    **config["datasets"],
    **{name: config["datasets"][SOURCE] for name in SWEEP},
}


# Jobs that stay on the machine running Snakemake under a cluster executor: downloads (compute nodes often have
# no internet), the merges of shard outputs and the report (seconds each, not worth a queue slot).
localrules:
    all,
    fetch,
    merge_frame_index,
    merge_human_boxes,
    merge_scene_labels,
    boxes_sheet,
    scenes_sheet,
    report,
    p_bias_sweep,


wildcard_constraints:
    ds="|".join(DATASETS),
    src="|".join([SOURCE, *SWEEP]),
    shard=r"\d{4}",
    variant="|".join(VARIANTS),
    init="|".join(INITS),
    tgt="|".join(TARGETS) or "no-target",
    seed=r"\d+",
    split=r"\d+",


# ---------------------------------------------------------------------------------------------------------
# Helpers of every stage: scripts, files named in the config, downloads, optional flags, GPUs.


def script(name):
    """A stage's entry point, as a path from the working directory: the workflow runs from any --directory, and
    a finished run moved together with its checkout (or a fresh clone beside a copied results/) is up to date,
    because no absolute path of the checkout becomes a param (params decide reruns)."""
    return os.path.relpath(Path(workflow.basedir) / "scripts" / f"{name}.py")


def file_setting(key, value, relative_to=None):
    """The file a setting names: `download:NAME` is fetched into resources/downloads/NAME (pinned sha256);
    anything else is a local file that must exist (relative paths under `relative_to` when given).
    """
    if value.startswith(DOWNLOAD_SCHEME):
        return f"{RESOURCES}/downloads/{value.removeprefix(DOWNLOAD_SCHEME)}"
    path = Path(relative_to, value) if relative_to else Path(value)
    if not path.is_file():
        raise WorkflowError(
            f"config key '{key}': {path} does not exist; put the file there, or set the key to "
            f"download:NAME with downloads.NAME: {{url: ..., sha256: ...}} on a machine with internet "
            f"(README: Reproducing the paper)"
        )
    return str(path)


def weights_file(section, key, download_name):
    """The local weights file of a backend: the configured path, or where the fetch rule puts the download."""
    entry = config[section][key]
    if entry["weights"]:
        if not Path(entry["weights"]).is_file():
            raise WorkflowError(
                f"config key '{section}.{key}.weights': {entry['weights']} does not exist; fix the path, "
                f"or give url + sha256 to download the file"
            )
        return entry["weights"]
    return f"{RESOURCES}/downloads/{download_name}"


# Downloads: name -> (url, sha256), for every backend whose config gives a url instead of a local file.
DOWNLOADS = {name: (e["url"], e["sha256"]) for name, e in config["downloads"].items()}
if SCENE["places365"]["url"]:
    DOWNLOADS["places365_resnet50.pth.tar"] = (
        SCENE["places365"]["url"],
        SCENE["places365"]["sha256"],
    )
if config["humans"]["torchvision"]["url"]:
    DOWNLOADS[f"torchvision_{config['humans']['torchvision']['model']}.pth"] = (
        config["humans"]["torchvision"]["url"],
        config["humans"]["torchvision"]["sha256"],
    )


def input_flags(**flags):
    """A params function giving `--flag <file>` for each optional named input (key=flag) the job has."""

    def options(wildcards, input):
        return " ".join(
            f"{flag} {input[key]}" for key, flag in flags.items() if key in input.keys()
        )

    return options


def gpus_of(uses_network=True):
    """The `gpu` resource of a job: training holds compute.gpus; a job that runs one network on its inputs
    (evaluation, bias measures, a detector, the Places365 labeller) holds one GPU when the run has any, and an
    offline backend (motion boxes, k-means labels) none. Local runs cap it with --resources gpu=N (the default
    profile sets 1), the SLURM profile turns it into a GPU request."""
    return min(GPUS, 1) if uses_network else 0


# ---------------------------------------------------------------------------------------------------------
# The synthetic world (rules/synth.smk) and its ground truth, read by the quality measures.


def is_synthetic(ds):
    return DATASETS[ds]["kind"] == "synthetic"


def world_params(ds):
    """The world settings one synthetic dataset depends on (other datasets' sizes are left out)."""
    world = {k: v for k, v in config["world"].items() if k not in ("source", "targets")}
    if ds == "source" or ds in SWEEP:
        world["source"] = config["world"]["source"]
        world["targets"] = {}
        if ds in SWEEP:
            world["p_bias"] = SWEEP[ds]
    else:
        world["targets"] = {ds: config["world"]["targets"][ds]}
    return json.dumps(world, sort_keys=True)


def truth_option(flag, file=None, wildcard="ds"):
    """A params function: `flag <world folder>[/file]` for a synthetic dataset (ground truth), else nothing."""

    def option(wildcards):
        ds = wildcards[wildcard]
        if not is_synthetic(ds):
            return ""
        folder = P("world", ds=ds)
        return f"{flag} {folder}/{file}" if file else f"{flag} {folder}"

    return option


# ---------------------------------------------------------------------------------------------------------
# Manifests (rules/manifest.smk): a checkpoint, since the shards are known once the lists are read.


def dataset_root(ds):
    """The folder a dataset's adapter reads: the rendered world for synthetic datasets, else config's root."""
    return P("world", ds=ds) if is_synthetic(ds) else DATASETS[ds]["root"]


def subset_list_files(ds):
    """key -> the file a subset_lists entry names (relative paths are under the dataset root, as the adapter
    reads them); download:NAME entries are the fetch rule's output."""
    dataset = DATASETS[ds]
    key = f"datasets.{ds}.options.subset_lists"
    return {
        k: file_setting(f"{key}.{k}", v, relative_to=dataset["root"])
        for k, v in subset_list_entries(dataset)
    }


def manifest_inputs(wildcards):
    """Synthetic datasets depend on their rendering job; real datasets are read where they lie, with their
    subset lists (Mini-Kinetics-200) as inputs so that downloaded lists are fetched first, and a `videos`
    dataset's own list so that editing it rebuilds the manifest.
    """
    if is_synthetic(wildcards.ds):
        world = P("world", ds=wildcards.ds)
        return {"classes": f"{world}/lists/classInd.txt", "videos": f"{world}/videos"}
    lists = list(subset_list_files(wildcards.ds).values())
    own = DATASETS[wildcards.ds]["options"].get(
        "list"
    )  # kind videos: the user's own list file(s)
    if own:
        names = own.values() if isinstance(own, dict) else [own]
        lists += [str(Path(dataset_root(wildcards.ds), n)) for n in names]
    return {"lists": lists}


def manifest_options(wildcards):
    """The adapter options; subset lists travel separately (manifest_subset_lists)."""
    options = dict(DATASETS[wildcards.ds]["options"])
    options.pop("subset_lists", None)
    return json.dumps(options, sort_keys=True)


def manifest_subset_lists(wildcards):
    """The subset list files the manifest job reads, as paths from the working directory (the script resolves
    them, so no absolute path of the checkout becomes a param), in the form the config gives them.
    """
    lists = subset_list_files(wildcards.ds)
    if not lists:
        return "null"
    given = DATASETS[wildcards.ds]["options"]["subset_lists"]
    return json.dumps(lists if isinstance(given, dict) else list(lists.values()))


def shards_of(ds):
    """Shards of a dataset, known once its manifest (a checkpoint) exists."""
    return shard_names(Path(checkpoints.manifest.get(ds=ds).output.csv))


def per_shard(name, ds=None, file=None):
    """Input function: the layout path `name` (or `file` inside it) for every shard of a dataset (the
    wildcard's, or `ds`)."""

    def inputs(wildcards):
        dataset = ds or wildcards.ds
        paths = [P(name, ds=dataset, shard=s) for s in shards_of(dataset)]
        return [f"{path}/{file}" for path in paths] if file else paths

    return inputs


# ---------------------------------------------------------------------------------------------------------
# Frames (rules/frames.smk) and what the per-shard stages read of them.


def shard_frames(wildcards):
    """The frame index and packs of one shard, the input of every per-shard stage."""
    folder = P("shard_frames", ds=wildcards.ds, shard=wildcards.shard)
    return {"index": f"{folder}/index.csv", "packs": f"{folder}/packs"}


def dataset_files(ds):
    """What every training and measuring job of a dataset reads: its manifest and merged frame index."""
    return {"manifest": P("manifest", ds=ds), "frames": P("frame_index", ds=ds)}


# ---------------------------------------------------------------------------------------------------------
# Human boxes (rules/humans.smk).


BOX_BACKEND = BOX_BACKENDS[config["humans"]["backend"]]


def human_box_inputs(wildcards):
    inputs = shard_frames(wildcards)
    backend = config["humans"]["backend"]
    if backend == "torchvision":
        name = f"torchvision_{config['humans']['torchvision']['model']}.pth"
        inputs["weights"] = weights_file("humans", "torchvision", name)
    elif backend == "detectron2" and config["humans"]["detectron2"]["weights"]:
        inputs["weights"] = config["humans"]["detectron2"]["weights"]
    elif backend == "oracle":
        inputs["oracle"] = f"{P('world', ds=wildcards.ds)}/actor_boxes.csv"
    return inputs


# ---------------------------------------------------------------------------------------------------------
# Scene labels (rules/scene.smk): k-means features and clusters, or the Places365 classifier.


def scene_feature_inputs(wildcards):
    inputs = shard_frames(wildcards)
    if SCENE["kmeans"]["mask_humans"]:
        inputs["boxes"] = P("shard_boxes", ds=wildcards.ds, shard=wildcards.shard)
    return inputs


def scene_label_inputs(wildcards):
    if SCENE["backend"] == "kmeans":
        return {
            "features": P(
                "shard_scene_features", ds=wildcards.ds, shard=wildcards.shard
            ),
            "model": P("scene_kmeans"),
        }
    inputs = shard_frames(wildcards)
    inputs["weights"] = weights_file("scene", "places365", "places365_resnet50.pth.tar")
    if SCENE["places365"]["categories"]:
        inputs["categories"] = file_setting(
            "scene.places365.categories", SCENE["places365"]["categories"]
        )
    return inputs


def scene_label_settings():
    """What the labeller of the configured backend reads: its config section and the frames per video."""
    return json.dumps(
        {**SCENE[SCENE["backend"]], "frames_per_video": SCENE["frames_per_video"]},
        sort_keys=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Training (rules/train.smk): pretraining on the source (or a sweep point), fine-tuning on each target.


def launcher():
    """python, or torchrun with one process per GPU when a training job asks for several (DDP)."""
    if GPUS > 1:
        return f"torchrun --standalone --nproc_per_node {GPUS}"
    return "python"


def pretrain_inputs(wildcards):
    """A pretraining run reads its source dataset, and the scene labels, boxes and model its settings need."""
    src = wildcards.src
    settings = pretrain_settings(config, wildcards.variant, int(wildcards.seed))
    inputs = dataset_files(src)
    if settings["scene_weight"] > 0:
        inputs["scene"] = P("scene_labels", ds=src)
    if settings["mask_weight"] > 0:
        inputs["boxes"] = P("boxes", ds=src)
    init = config["pretrain"]["variants"][wildcards.variant].get("init_from")
    if init:
        run = P("pretrain_run", src=src, variant=init, seed=wildcards.seed)
        inputs["init"] = f"{run}/model.pt"
    elif settings["init_checkpoint"]:  # e.g. published Kinetics weights
        inputs["init_checkpoint"] = settings["init_checkpoint"]
    return inputs


def finetune_inputs(wildcards):
    """A fine-tuning run reads its target dataset and, unless from scratch, the source model of its seed."""
    inputs = dataset_files(wildcards.tgt)
    if wildcards.init != "scratch":
        run = P("pretrain_run", src=SOURCE, variant=wildcards.init, seed=wildcards.seed)
        inputs["init"] = f"{run}/model.pt"
    else:
        settings = finetune_settings(config, wildcards.tgt, int(wildcards.seed))
        if settings["init_checkpoint"]:
            inputs["init_checkpoint"] = settings["init_checkpoint"]
    return inputs


def checkpoint_dir(run, **wildcards):
    """Resumable checkpoints of a training run: its run path mirrored under checkpoints/ (outside outputs)."""
    relative = os.path.relpath(P(run, **wildcards), RESULTS)
    return f"{P('checkpoints')}/{relative}"


# ---------------------------------------------------------------------------------------------------------
# Measures (rules/evaluate.smk).


def b_scene_features(wildcards):
    """The per-video scene features B_scene probes: k-means features per shard, or the merged Places365 labels.
    A named input function (not unpack): while the manifest checkpoint is pending, planning still knows the name.
    """
    if SCENE["backend"] == "kmeans":
        return per_shard("shard_scene_features")(wildcards)
    return [P("scene_labels", ds=wildcards.ds)]


# ---------------------------------------------------------------------------------------------------------
# The report (rules/report.smk): every file with the run it belongs to, aligned, so nothing parses paths.


def finetune_evals():
    return [f"{P('finetune_run', **run)}/eval.json" for run in finetune_run_keys()]


def finetune_run_keys():
    return [
        {"tgt": r.target, "init": r.init, "split": r.split, "seed": r.seed}
        for r in finetune_runs(config)
    ]


def pretrain_run_keys(runs=None, src=SOURCE):
    """(src, variant, seed) of the source's pretraining runs, as dicts of the layout's fields."""
    return [
        {"src": src, "variant": variant, "seed": seed}
        for variant, seed in (runs if runs is not None else pretrain_runs(config))
    ]


def bias_files(keys=None):
    return [P("bias", **key) for key in (keys or pretrain_run_keys())]


def pretrain_logs():
    return [f"{P('pretrain_run', **key)}/log.csv" for key in pretrain_run_keys()]


def sweep_run_keys():
    return [
        {"src": ds, "variant": variant, "seed": seed}
        for ds, variant, seed in sweep_pretrain_runs(config)
        if variant in sweep_variants(config)
    ]


def b_scene_datasets():
    return [SOURCE, *TARGETS]


def b_scene_files():
    return [P("b_scene", ds=ds) for ds in b_scene_datasets()]


# ---------------------------------------------------------------------------------------------------------
# Contact sheets (rules/sheets.smk): human boxes and scene labels to check by eye.

SHEETS = ("boxes", "scenes")


def sheet_settings(*keys):
    """The sheets: settings one sheet uses (the other sheet's keys left out, so they do not rerun it)."""
    return json.dumps({k: config["sheets"][k] for k in keys}, sort_keys=True)


def sheet_run_keys():
    """The contact sheets of every dataset of the run (the p_bias sweep's sources are left out)."""
    return [{"ds": ds, "sheet": sheet} for ds in config["datasets"] for sheet in SHEETS]


def sheet_files():
    return [f"{P('sheet', **key)}.png" for key in sheet_run_keys()]


# ---------------------------------------------------------------------------------------------------------
# The default target.


def all_targets():
    targets = sheet_files()
    for ds in config["datasets"]:
        targets += [
            P("frame_index", ds=ds),
            P("boxes_quality", ds=ds),
            P("scene_quality", ds=ds),
        ]
    if TARGETS:
        targets.append(f"{P('report')}/results.md")
    else:
        targets += bias_files()
    return targets


# ---------------------------------------------------------------------------------------------------------
# Local files named in the config must exist before any job runs (downloads are fetched by the fetch rule).

if SCENE["backend"] == "places365" and SCENE["places365"]["categories"]:
    file_setting("scene.places365.categories", SCENE["places365"]["categories"])
for _ds in config["datasets"]:
    subset_list_files(_ds)
