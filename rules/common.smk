# Helpers shared by the rules: config validation, paths, target lists and wildcard constraints.

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

try:
    validate_config(
        config, load_schema(Path(workflow.basedir) / "schemas" / "config.schema.yaml")
    )
    check_on_disk(config)  # dataset roots, and the splits a list file gives
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

RESULTS = config["results"]
RESOURCES = config["resources"]
DATASETS = list(config["datasets"])
SYNTHETIC = [d for d, spec in config["datasets"].items() if spec["kind"] == "synthetic"]


SOURCE = config["pretrain"]["dataset"]
VARIANTS = list(config["pretrain"]["variants"])
INITS = finetune_inits(config)
TARGETS = list(config["finetune"]["targets"])
GPUS = config["compute"]["gpus"]  # GPUs one training job holds (0: none)

# The optional p_bias sweep: each point is a synthetic source dataset of its own (source_pbNNN) that goes
# through every stage like the source does; registered as a dataset so the per-dataset rules serve it.
SWEEP = sweep_datasets(config)
for _name in SWEEP:
    config["datasets"][_name] = dict(config["datasets"][SOURCE])


# Jobs that stay on the machine running Snakemake under a cluster executor: downloads (compute nodes often have
# no internet), the merges of shard outputs and the report (seconds each, not worth a queue slot).
localrules:
    all,
    fetch,
    merge_frame_index,
    merge_human_boxes,
    merge_scene_labels,
    report,
    p_bias_sweep,


wildcard_constraints:
    ds="|".join([*DATASETS, *SWEEP]),
    src="|".join([SOURCE, *SWEEP]),
    shard=r"\d{4}",
    variant="|".join(VARIANTS),
    init="|".join(INITS),
    tgt="|".join(TARGETS) or "no-target",
    seed=r"\d+",
    split=r"\d+",


def script(name):
    """A stage's entry point, as a path from the working directory: the workflow runs from any --directory, and
    a finished run moved together with its checkout (or a fresh clone beside a copied results/) is up to date,
    because no absolute path of the checkout becomes a param (params decide reruns)."""
    return os.path.relpath(Path(workflow.basedir) / "scripts" / f"{name}.py")


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


def dataset_root(ds):
    """The folder a dataset's adapter reads: the rendered world for synthetic datasets, else config's root."""
    spec = config["datasets"][ds]
    if spec["kind"] == "synthetic":
        return f"{RESULTS}/world/{ds}"
    return spec["root"]


def manifest_inputs(wildcards):
    """Synthetic datasets depend on their rendering job; real datasets are read where they lie, with their
    subset lists (Mini-Kinetics-200) as inputs so that downloaded lists are fetched first, and a `videos`
    dataset's own list so that editing it rebuilds the manifest.
    """
    if config["datasets"][wildcards.ds]["kind"] == "synthetic":
        return {
            "classes": f"{RESULTS}/world/{wildcards.ds}/lists/classInd.txt",
            "videos": f"{RESULTS}/world/{wildcards.ds}/videos",
        }
    lists = list(subset_list_files(wildcards.ds).values())
    own = config["datasets"][wildcards.ds]["options"].get("list")  # kind videos
    if own:
        names = own.values() if isinstance(own, dict) else [own]
        lists += [str(Path(dataset_root(wildcards.ds), n)) for n in names]
    return {"lists": lists}


def subset_list_files(ds):
    """key -> the file a subset_lists entry names (relative paths are under the dataset root, as the adapter
    reads them); download:NAME entries are the fetch rule's output."""
    dataset = config["datasets"][ds]
    key = f"datasets.{ds}.options.subset_lists"
    return {
        k: file_setting(f"{key}.{k}", v, relative_to=dataset["root"])
        for k, v in subset_list_entries(dataset)
    }


def manifest_options(wildcards):
    """The adapter options; subset lists travel separately (manifest_subset_lists)."""
    options = dict(config["datasets"][wildcards.ds]["options"])
    options.pop("subset_lists", None)
    return json.dumps(options, sort_keys=True)


def manifest_subset_lists(wildcards):
    """The subset list files the manifest job reads, as paths from the working directory (the script resolves
    them, so no absolute path of the checkout becomes a param), in the form the config gives them.
    """
    lists = subset_list_files(wildcards.ds)
    if not lists:
        return "null"
    given = config["datasets"][wildcards.ds]["options"]["subset_lists"]
    return json.dumps(lists if isinstance(given, dict) else list(lists.values()))


def shards_of(ds):
    """Shards of a dataset, known once its manifest (a checkpoint) exists."""
    manifest = checkpoints.manifest.get(ds=ds).output.csv
    return shard_names(Path(manifest))


def frame_indexes(wildcards):
    return [
        f"{RESULTS}/{wildcards.ds}/frames/{s}/index.csv"
        for s in shards_of(wildcards.ds)
    ]


def shard_files(pattern):
    """Input function: `pattern` (with {ds} and {shard}) for every shard of the wildcard's dataset."""

    def inputs(wildcards):
        return [
            pattern.format(ds=wildcards.ds, shard=s) for s in shards_of(wildcards.ds)
        ]

    return inputs


def frames_of(shard_dir_pattern=f"{RESULTS}/{{ds}}/frames/{{shard}}"):
    return {
        "index": f"{shard_dir_pattern}/index.csv",
        "packs": f"{shard_dir_pattern}/packs",
    }


# Downloads: name -> (url, sha256), for every backend whose config gives a url instead of a local file.
DOWNLOADS = {}
if config["scene"]["places365"]["url"]:
    DOWNLOADS["places365_resnet50.pth.tar"] = (
        config["scene"]["places365"]["url"],
        config["scene"]["places365"]["sha256"],
    )
if config["humans"]["torchvision"]["url"]:
    DOWNLOADS[f"torchvision_{config['humans']['torchvision']['model']}.pth"] = (
        config["humans"]["torchvision"]["url"],
        config["humans"]["torchvision"]["sha256"],
    )


for _name, _entry in config["downloads"].items():
    DOWNLOADS[_name] = (_entry["url"], _entry["sha256"])


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


def truth_dir(ds):
    """The synthetic world folder of a dataset (ground truth for quality measures), or None."""
    if config["datasets"][ds]["kind"] == "synthetic":
        return f"{RESULTS}/world/{ds}"
    return None


def human_box_inputs(wildcards):
    inputs = frames_of()
    inputs = {
        k: v.format(ds=wildcards.ds, shard=wildcards.shard) for k, v in inputs.items()
    }
    backend = config["humans"]["backend"]
    if backend == "torchvision":
        name = f"torchvision_{config['humans']['torchvision']['model']}.pth"
        inputs["weights"] = weights_file("humans", "torchvision", name)
    elif backend == "detectron2" and config["humans"]["detectron2"]["weights"]:
        inputs["weights"] = config["humans"]["detectron2"]["weights"]
    elif backend == "oracle":
        inputs["oracle"] = f"{truth_dir(wildcards.ds)}/actor_boxes.csv"
    return inputs


def human_box_options(wildcards, input):
    if "weights" in input.keys():
        return f"--weights {input.weights}"
    if "oracle" in input.keys():
        return f"--oracle-boxes {input.oracle}"
    return ""


def box_truth_option(wildcards):
    folder = truth_dir(wildcards.ds)
    return f"--truth-dir {folder}" if folder else ""


SCENE = config["scene"]

KMEANS_MODEL = f"{RESULTS}/scene_kmeans/model.npz"


def scene_feature_inputs(wildcards):
    inputs = {k: v.format(**wildcards) for k, v in frames_of().items()}
    if SCENE["kmeans"]["mask_humans"]:
        inputs["boxes"] = f"{RESULTS}/{wildcards.ds}/humans/{wildcards.shard}.npz"
    return inputs


def boxes_option(wildcards, input):
    return f"--boxes {input.boxes}" if "boxes" in input.keys() else ""


def kmeans_fit_features(wildcards):
    ds = SCENE["kmeans"]["fit_on"]
    pattern = f"{RESULTS}/{ds}/scene/features/{{shard}}.npz"
    return [pattern.format(shard=s) for s in shards_of(ds)]


def scene_label_inputs(wildcards):
    if SCENE["backend"] == "kmeans":
        return {
            "features": f"{RESULTS}/{wildcards.ds}/scene/features/{wildcards.shard}.npz",
            "model": KMEANS_MODEL,
        }
    inputs = {k: v.format(**wildcards) for k, v in frames_of().items()}
    inputs["weights"] = weights_file("scene", "places365", "places365_resnet50.pth.tar")
    if SCENE["places365"]["categories"]:
        inputs["categories"] = file_setting(
            "scene.places365.categories", SCENE["places365"]["categories"]
        )
    return inputs


def scene_label_options(wildcards, input):
    if SCENE["backend"] == "kmeans":
        return (
            f"--features {input.features} --model {input.model}"
            f" --temperature {SCENE['kmeans']['temperature']}"
        )
    places = SCENE["places365"]
    options = (
        f"--index {input.index} --packs {input.packs} --weights {input.weights}"
        f" --frames-per-video {SCENE['frames_per_video']}"
        f" --batch-size {places['batch_size']} --device {places['device']}"
    )
    if "categories" in input.keys():
        options += f" --categories {input.categories}"
    return options


def label_truth_option(wildcards):
    folder = truth_dir(wildcards.ds)
    return f"--truth {folder}/ground_truth.csv" if folder else ""


def dataset_files(ds):
    return {
        "manifest": f"{RESULTS}/{ds}/manifest.csv",
        "frames": f"{RESULTS}/{ds}/frames/index.csv",
    }


def gpus_of(uses_network=True):
    """The `gpu` resource of a job: training holds compute.gpus; a job that runs one network on its inputs
    (evaluation, bias measures, a detector, the Places365 labeller) holds one GPU when the run has any, and an
    offline backend (motion boxes, k-means labels) none. Local runs cap it with --resources gpu=N (the default
    profile sets 1), the SLURM profile turns it into a GPU request."""
    return min(GPUS, 1) if uses_network else 0


def launcher():
    """python, or torchrun with one process per GPU when a training job asks for several (DDP)."""
    if GPUS > 1:
        return f"torchrun --standalone --nproc_per_node {GPUS}"
    return "python"


def pretrain_inputs(wildcards):
    """A pretraining run reads its source dataset (the source, or a p_bias sweep point)."""
    src = wildcards.src
    settings = pretrain_settings(config, wildcards.variant, int(wildcards.seed))
    inputs = dataset_files(src)
    if settings["scene_weight"] > 0:
        inputs["scene"] = f"{RESULTS}/{src}/scene/labels.npz"
    if settings["mask_weight"] > 0:
        inputs["boxes"] = f"{RESULTS}/{src}/humans/boxes.npz"
    init = config["pretrain"]["variants"][wildcards.variant].get("init_from")
    if init:
        inputs["init"] = (
            f"{RESULTS}/{src}/pretrain/{init}/seed{wildcards.seed}/model.pt"
        )
    return inputs


def truth_option(wildcards):
    folder = truth_dir(wildcards.src)
    return f"--truth {folder}/ground_truth.csv" if folder else ""


def train_options(wildcards, input):
    options = []
    for key, flag in (
        ("scene", "--scene-labels"),
        ("boxes", "--boxes"),
        ("init", "--init"),
    ):
        if key in input.keys():
            options.append(f"{flag} {input[key]}")
    return " ".join(options)


def finetune_inputs(wildcards):
    inputs = dataset_files(wildcards.tgt)
    if wildcards.init != "scratch":
        inputs["init"] = (
            f"{RESULTS}/{SOURCE}/pretrain/{wildcards.init}/seed{wildcards.seed}/model.pt"
        )
    return inputs


def b_scene_features(wildcards):
    """The per-video scene features B_scene probes: k-means features per shard, or the merged Places365 labels.
    A named input function (not unpack): while the manifest checkpoint is pending, planning still knows the name.
    """
    if config["scene"]["backend"] == "kmeans":
        pattern = f"{RESULTS}/{wildcards.ds}/scene/features/{{shard}}.npz"
        return [pattern.format(shard=s) for s in shards_of(wildcards.ds)]
    return [f"{RESULTS}/{wildcards.ds}/scene/labels.npz"]


def finetune_evals():
    return [
        f"{RESULTS}/{r.target}/finetune/{r.init}/split{r.split}/seed{r.seed}/eval.json"
        for r in finetune_runs(config)
    ]


def bias_files():
    return [
        f"{RESULTS}/{SOURCE}/bias/{variant}/seed{seed}.json"
        for variant, seed in pretrain_runs(config)
    ]


def sweep_bias_files():
    return [
        f"{RESULTS}/{ds}/bias/{variant}/seed{seed}.json"
        for ds, variant, seed in sweep_pretrain_runs(config)
        if variant in sweep_variants(config)
    ]


def pretrain_logs():
    return [
        f"{RESULTS}/{SOURCE}/pretrain/{variant}/seed{seed}/log.csv"
        for variant, seed in pretrain_runs(config)
    ]


def b_scene_files():
    return [f"{RESULTS}/{ds}/bias/b_scene.json" for ds in [SOURCE, *TARGETS]]


def all_targets():
    targets = []
    for ds in DATASETS:
        targets.append(f"{RESULTS}/{ds}/frames/index.csv")
        targets.append(f"{RESULTS}/{ds}/humans/quality.json")
        targets.append(f"{RESULTS}/{ds}/scene/quality.json")
    if TARGETS:
        targets.append(f"{RESULTS}/report/results.md")
    else:
        targets += bias_files()
    return targets


# Local files named in the config must exist before any job runs (downloads are fetched by the fetch rule).
if SCENE["backend"] == "places365" and SCENE["places365"]["categories"]:
    file_setting("scene.places365.categories", SCENE["places365"]["categories"])
for _ds in DATASETS:
    subset_list_files(_ds)
