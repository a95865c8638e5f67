# What the rules share, in the order the pipeline runs: the config check, the results layout, the datasets, then
# one section per stage with the input functions and option builders of its rules, and finally the targets.

import json
import os
import shlex
from pathlib import Path

from scenebias.config import (
    DOWNLOAD_SCHEME,
    ConfigError,
    check_on_disk,
    load_schema,
    subset_list_entries,
    validate_config,
)
from scenebias.backends import (
    Prepared,
    SettingFile,
    SettingFiles,
    ShardFrames,
    StageOutput,
    WorldFile,
    setting_files,
)
from scenebias.config_backends import records_in_use
from scenebias.launch import pretrain_priorities
from scenebias.manifest import file_version, folder_state, shard_names, shard_versions
from scenebias.paths import RESOURCE_LAYOUT, WORLD_FILES, WORLD_FOLDERS, Layout, sidecar
from scenebias.registry import (
    BACKENDS,
    agreement_backend,
    agreement_datasets,
    backend_settings as settings_of,
    chosen_backend,
    dataset_kind,
    delegate_backend,
)
from scenebias.sheets import SHEET_KEYS
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
        config, load_schema(SCENEBIAS_DIR / "schemas" / "config.schema.yaml")
    )
    check_on_disk(config)  # dataset roots, and the splits a list file gives
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

RESULTS = config["results"]
RESOURCES = config["resources"]
SCENE = config["scene"]
GPUS = config["compute"]["gpus"]  # GPUs one training job holds (0: none)

# ---------------------------------------------------------------------------------------------------------
# The results layout (scenebias/paths.py names every file and folder; rules build paths from these names only):
# P(name) a file or folder of the results, P.run / P.world / P.report a file inside one, P.log / P.benchmark a
# job's log and benchmark by rule; R the resources folder (downloads).

P = Layout(RESULTS)
R = Layout(RESOURCES, RESOURCE_LAYOUT)

# ---------------------------------------------------------------------------------------------------------
# Datasets, runs and wildcards.

SOURCE = config["pretrain"]["dataset"]
VARIANTS = list(config["pretrain"]["variants"])
INITS = finetune_inits(config)
TARGETS = list(config["finetune"]["targets"])

# The optional p_bias sweep: each point is a rendered source dataset of its own (source_pbNNN) that goes
# through every stage like the source does, so the per-dataset rules serve it like any configured dataset.
SWEEP = sweep_datasets(config)
DATASETS = {
    **config["datasets"],
    **{name: config["datasets"][SOURCE] for name in SWEEP},
}


# Jobs that stay on the machine running Snakemake under a cluster executor carry `localrule: True` (a property of
# the rule, so it holds when another workflow uses this one as a module with renamed rules): downloads (compute
# nodes often have no internet), the merges of shard outputs, the contact sheets and the report (seconds each, not
# worth a queue slot).


wildcard_constraints:
    ds="|".join(DATASETS),
    src="|".join([SOURCE, *SWEEP]),
    shard=r"[0-9a-f]{8,16}",
    variant="|".join(VARIANTS),
    init="|".join(INITS),
    tgt="|".join(TARGETS) or "no-target",
    section="|".join(BACKENDS),
    backend="|".join(
        sorted({name for registry in BACKENDS.values() for name in registry})
    ),
    seed=r"\d+",
    split=r"\d+",


# ---------------------------------------------------------------------------------------------------------
# Helpers of every stage: scripts, files named in the config, downloads, optional flags, GPUs.


def script(name):
    """A stage's entry point, as a path from the working directory: the workflow runs from any --directory, and
    a finished run moved together with its checkout (or a fresh clone beside a copied results/) is up to date,
    because no absolute path of the checkout becomes a param (params decide reruns)."""
    return os.path.relpath(SCENEBIAS_DIR / "scripts" / f"{name}.py")


def file_setting(key, value, relative_to=None):
    """The file a setting names: `download:NAME` is fetched into resources/downloads/NAME (pinned sha256);
    anything else is a local file that must exist (relative paths under `relative_to` when given).
    """
    if value.startswith(DOWNLOAD_SCHEME):
        return R("download", name=value.removeprefix(DOWNLOAD_SCHEME))
    path = Path(relative_to, value) if relative_to else Path(value)
    if not path.is_file():
        raise WorkflowError(
            f"config key '{key}': {path} does not exist; put the file there, or set the key to "
            f"download:NAME with downloads.NAME: {{url: ..., sha256: ...}} on a machine with internet "
            f"(README: Reproducing the paper)"
        )
    return str(path)


def input_flags(**flags):
    """A params function giving `--flag <file>` for each optional named input (key=flag) the job has."""

    def options(wildcards, input):
        return " ".join(
            f"{flag} {input[key]}" for key, flag in flags.items() if key in input.keys()
        )

    return options


def gpus_of(uses_network=True):
    """The GPUs of a job: a job that runs one network on its inputs (evaluation, bias measures, a detector, the
    Places365 labeller) holds one GPU when the run has any, and a backend that runs no network (its registry record
    says) none. Training jobs hold compute.gpus (GPUS)."""
    return min(GPUS, 1) if uses_network else 0


def gpu_resources(gpus):
    """A job's resources for holding `gpus` GPUs: `gpu` is what it asks a cluster for (profiles/slurm: the plugin's
    --gpus), `gpu_jobs` (1 for any GPU job) what a local Snakemake counts: profiles/default runs one GPU job at a
    time on one machine. Its scope is local, so under a cluster executor it limits nothing, and no global limit
    ever caps `gpu` itself (a DDP job keeps its N GPUs)."""
    return {"gpu": gpus, "gpu_jobs": min(gpus, 1)}


# ---------------------------------------------------------------------------------------------------------
# Backends (scenebias.registry): the chosen one of each section, the one it hands the videos it does not cover to
# (its delegate setting), the one the agreement report compares it with, and their job inputs from their records.

BACKEND = {
    section: chosen_backend(config, section) for section in BACKENDS
}  # (name, record, settings)
DELEGATE = {
    section: delegate_backend(config, section) for section in BACKENDS
}  # or None
AGREEMENT = {
    section: agreement_backend(config, section) for section in BACKENDS
}  # or None


def backend_file(section, source, wildcards, name=None):
    """The file a backend's input source names for one job (scenebias.backends), or None when an optional one is
    not configured. `name`: a backend of the section (default: the chosen one)."""
    name = name or BACKEND[section][0]
    settings = settings_of(config, section, name)
    key = f"{section}.{name}"
    if isinstance(source, ShardFrames):
        return shard_frames(wildcards)[source.part]
    if isinstance(source, StageOutput):
        return P(source.layout, ds=wildcards.ds, shard=wildcards.shard)
    if isinstance(source, WorldFile):
        return P.world(source.file, ds=wildcards.ds)
    if isinstance(source, Prepared):
        return P("backend_prepared", section=section, backend=name)
    if isinstance(source, SettingFiles):
        return setting_files(settings[source.key], source.patterns)
    if isinstance(source, SettingFile):
        value = settings[source.key]
        return file_setting(f"{key}.{source.key}", value) if value else None
    if settings[
        "weights"
    ]:  # Weights: a local file, else the fetch rule's download, else the backend's default
        if not Path(settings["weights"]).is_file():
            raise WorkflowError(
                f"config key '{key}.weights': {settings['weights']} does not exist; fix the path, "
                f"or give url + sha256 to download the file"
            )
        return settings["weights"]
    return (
        R("download", name=source.download_name(settings)) if source.required else None
    )


def job_backends(section, name=None):
    """The backends one job of a section runs: `name` alone (an agreement job), or the chosen one and its
    delegate."""
    if name is not None:
        return [name]
    return [BACKEND[section][0], *([DELEGATE[section]] if DELEGATE[section] else [])]


def backend_inputs(section, name=None, **fixed):
    """Input function of a backend's job: `fixed` (name -> input function of the job's own inputs) plus every file
    the records of the job's backends name that is configured (the chosen backend's file on a shared name).
    """

    def inputs(wildcards):
        files = {name: function(wildcards) for name, function in fixed.items()}
        for backend in job_backends(section, name):
            for input_name, source in BACKENDS[section][backend].files.items():
                path = backend_file(section, source, wildcards, backend)
                if path is not None and input_name not in files:
                    files[input_name] = path
        return files

    return inputs


def backend_flags(section, name=None):
    """A params function: `--<name> <file>` for each of the job's backends' file inputs the job has."""
    names = {n for b in job_backends(section, name) for n in BACKENDS[section][b].files}
    return input_flags(**{n: f"--{n}" for n in sorted(names)})


def backend_settings(section, name=None, **extra):
    """A backend's config section (plus `extra`) as JSON: the settings its job passes on (default: the chosen)."""
    name = name or BACKEND[section][0]
    return json.dumps({**settings_of(config, section, name), **extra}, sort_keys=True)


def delegate_option(section, **extra):
    """`--delegate NAME --delegate-settings JSON` when the chosen backend hands uncovered videos to another."""
    name = DELEGATE[section]
    if name is None:
        return ""
    return f"--delegate {name} --delegate-settings {shlex.quote(backend_settings(section, name, **extra))}"


def backend_env(section, name=None):
    """The conda env of a job: the delegate's when there is one (it runs the heavier code), else the backend's."""
    names = job_backends(section, name)
    return f"../envs/{BACKENDS[section][names[-1]].env}.yaml"


def backend_gpu(section, name=None):
    return gpus_of(
        any(BACKENDS[section][b].uses_network for b in job_backends(section, name))
    )


# A backend's preparation (rules/prepare.smk): its files and their flags.


def prepare_files(wildcards):
    """The files a backend's preparation reads (name -> file, or list for a setting naming several)."""
    record = BACKENDS[wildcards.section][wildcards.backend]
    return {
        name: backend_file(wildcards.section, source, wildcards, wildcards.backend)
        for name, source in record.prepare.files.items()
    }


def prepare_flags(wildcards, input):
    return " ".join(
        f"--file {name} {shlex.quote(str(path))}"
        for name in input.keys()
        for path in (input[name] if isinstance(input[name], list) else [input[name]])
    )


# Downloads: name -> (url, sha256): the `downloads` entries, and the weights of a chosen backend whose config gives
# a url instead of a local file.
DOWNLOADS = {name: (e["url"], e["sha256"]) for name, e in config["downloads"].items()}
for _, _, _record, _settings in records_in_use(config):
    if _record.weights and _record.weights.required and _settings["url"]:
        DOWNLOADS[_record.weights.download_name(_settings)] = (
            _settings["url"],
            _settings["sha256"],
        )


# ---------------------------------------------------------------------------------------------------------
# The rendered world (rules/synth.smk) and its ground truth, read by the quality measures.


def is_rendered(ds):
    """Whether the workflow renders the dataset from the `world` settings (its kind's record says)."""
    return dataset_kind(DATASETS[ds]).rendered


def world_params(ds):
    """The world settings one rendered dataset depends on (other datasets' sizes are left out)."""
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
    """A params function: `flag <world folder>[/file]` (file: a name of WORLD_FILES) for a rendered dataset
    (ground truth), else nothing."""

    def option(wildcards):
        ds = wildcards[wildcard]
        if not is_rendered(ds):
            return ""
        path = P.world(file, ds=ds) if file else P("world", ds=ds)
        return f"{flag} {path}"

    return option


# ---------------------------------------------------------------------------------------------------------
# Manifests (rules/manifest.smk): a checkpoint, since the shards are known once the lists are read.


def dataset_root(ds):
    """The folder a dataset's adapter reads: its rendered folder, or the config's root."""
    return P("world", ds=ds) if is_rendered(ds) else DATASETS[ds]["root"]


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
    """Rendered datasets depend on their rendering job; real datasets are read where they lie, with their
    subset lists (Mini-Kinetics-200) as inputs so that downloaded lists are fetched first, and the user's own list
    files (the kind's record names them) so that editing one rebuilds the manifest.
    """
    ds = wildcards.ds
    if is_rendered(ds):
        return {folder: P.world(folder, ds=ds) for folder in WORLD_FOLDERS}
    lists = list(subset_list_files(ds).values())
    own = dataset_kind(DATASETS[ds]).list_files(DATASETS[ds]["options"])
    lists += [str(Path(dataset_root(ds), file)) for _, file in own]
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


def watched_folder_state(wildcards):
    """The state of a real dataset's video folder (counts, sizes, newest change, a digest of every video's path and
    stamp; scenebias.manifest.folder_state), read while planning: a manifest param, so an added, removed or
    replaced video rebuilds the manifest. Rendered datasets depend on their rendering job instead.
    """
    ds = wildcards.ds
    dataset = DATASETS[ds]
    folder = dataset_kind(dataset).video_folder(
        dataset["kind"], dataset_root(ds), dataset["options"]
    )
    return "" if folder is None else folder_state(folder)


def manifest_csv(ds):
    """A dataset's manifest once its checkpoint has run (planning waits for it otherwise)."""
    return Path(checkpoints.manifest.get(ds=ds).output.csv)


def shards_of(ds):
    """Shards of a dataset, known once its manifest (a checkpoint) exists."""
    return shard_names(manifest_csv(ds))


def manifest_now(ds):
    """The manifest a params function digests: the file as it is, when there is one. Snakemake plans a job that
    reads a manifest again once that manifest's checkpoint has run, so a rebuilt manifest is read then; asking the
    checkpoint here instead would leave the jobs after them planned to rerun (their first reason is not revised).
    """
    path = Path(P("manifest", ds=ds))
    return path if path.is_file() else manifest_csv(ds)


def shard_version(wildcards):
    """A digest of one shard's manifest rows (ids, paths, file stamps): the frame job's param, so that of a rebuilt
    manifest only the shards whose videos changed are extracted again (its manifest input is `ancient`).
    """
    return shard_versions(manifest_now(wildcards.ds)).get(wildcards.shard, "")


def manifest_file(ds="{ds}"):
    """A dataset's manifest as the input of a job that reads all of it: `ancient`, because the checkpoint rewrites
    it whenever the video folder changes; the job's `manifest_version` param reruns it when its content changes.
    """
    return ancient(P("manifest", ds=ds))


def manifest_version(wildcard="ds", ds=None):
    """A params function: a digest of the manifest's content (of `ds`, or of the dataset the wildcard names)."""

    def version(wildcards):
        return file_version(manifest_now(ds or wildcards[wildcard]))

    return version


def finetune_manifest_version(wildcards):
    """A fine-tuning job's manifests: its target's, and the source's when it starts from a source model."""
    versions = [manifest_version("tgt")(wildcards)]
    if wildcards.init != "scratch":
        versions.append(manifest_version(ds=SOURCE)(wildcards))
    return " ".join(versions)


def per_shard(name, ds=None):
    """Input function: the layout path `name` for every shard of a dataset (the wildcard's, or `ds`)."""

    def inputs(wildcards):
        dataset = ds or wildcards.ds
        return [P(name, ds=dataset, shard=s) for s in shards_of(dataset)]

    return inputs


# ---------------------------------------------------------------------------------------------------------
# Frames (rules/frames.smk) and what the per-shard stages read of them.


def shard_frames(wildcards):
    """The frame index and packs of one shard, the input of every per-shard stage."""
    where = {"ds": wildcards.ds, "shard": wildcards.shard}
    return {
        "index": P("shard_frame_index", **where),
        "packs": P("shard_packs", **where),
    }


def dataset_files(ds):
    """What every training and measuring job of a dataset reads: its manifest (`manifest_file`, with a
    `manifest_version` param in the rule) and merged frame index."""
    return {"manifest": manifest_file(ds), "frames": P("frame_index", ds=ds)}


# ---------------------------------------------------------------------------------------------------------
# Human boxes (rules/humans.smk).


def human_box_inputs(wildcards):
    """The shard's frames and the files the chosen box backend's record names."""
    return backend_inputs("humans")(wildcards) | shard_frames(wildcards)


def agreement_box_inputs(wildcards):
    """The same for the backend of the agreement report (humans.agreement)."""
    return backend_inputs("humans", AGREEMENT["humans"])(wildcards) | shard_frames(
        wildcards
    )


# Whether the chosen box backend, with its settings, also writes person masks (its registry record says).
HUMAN_MASKS = BACKEND["humans"][1].masks(BACKEND["humans"][2])


def box_mask_outputs():
    """The human-box job's person masks file, when its backend gives masks."""
    return {"masks": P("shard_masks")} if HUMAN_MASKS else {}


def box_mask_options(wildcards, output):
    """`--masks FILE --mask-threshold X` for a backend that gives masks: a frame's mask is the union of the
    persons scoring at least humans.score_threshold."""
    if not HUMAN_MASKS:
        return ""
    return (
        f"--masks {output.masks} --mask-threshold {config['humans']['score_threshold']}"
    )


def shard_mask_files():
    """Input function: every shard's person masks of a dataset (none when the backend gives no masks)."""
    return per_shard("shard_masks") if HUMAN_MASKS else []


# ---------------------------------------------------------------------------------------------------------
# Scene labels (rules/scene.smk): k-means features and clusters, or the Places365 classifier.


def scene_feature_inputs(wildcards):
    """The shard's frames, and its human boxes when the labeller's settings mask humans before computing
    features."""
    inputs = shard_frames(wildcards)
    if BACKEND["scene"][2].get("mask_humans"):
        inputs["boxes"] = P("shard_boxes", ds=wildcards.ds, shard=wildcards.shard)
    return inputs


def scene_model_inputs(wildcards):
    """What a labeller that learns from the data fits on: the features of the dataset its settings name."""
    fit_on = BACKEND["scene"][2]["fit_on"]
    return {
        "features": per_shard("shard_scene_features", fit_on)(wildcards),
        "manifest": manifest_file(fit_on),
    }


# ---------------------------------------------------------------------------------------------------------
# Training (rules/train.smk): pretraining on the source (or a sweep point), fine-tuning on each target.


# Pretraining runs start first, the longest chains first (scenebias/launch.py): variant -> priority.
PRETRAIN_PRIORITIES = pretrain_priorities(
    {variant: pretrain_settings(config, variant, 0) for variant in VARIANTS},
    {
        variant: config["pretrain"]["variants"][variant].get("init_from")
        for variant in VARIANTS
    },
)


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
        inputs["init"] = P.run(
            "pretrain_run", "model", src=src, variant=init, seed=wildcards.seed
        )
    elif settings["init_checkpoint"]:  # e.g. published Kinetics weights
        inputs["init_checkpoint"] = settings["init_checkpoint"]
    return inputs


def finetune_inputs(wildcards):
    """A fine-tuning run reads its target dataset and, unless from scratch, the source model of its seed."""
    inputs = dataset_files(wildcards.tgt)
    if wildcards.init != "scratch":
        # read by nobody, but it makes the job plan again with the source's manifest (see manifest_now)
        inputs["source_manifest"] = manifest_file(SOURCE)
        inputs["init"] = P.run(
            "pretrain_run",
            "model",
            src=SOURCE,
            variant=wildcards.init,
            seed=wildcards.seed,
        )
    else:
        settings = finetune_settings(config, wildcards.tgt, int(wildcards.seed))
        if settings["init_checkpoint"]:
            inputs["init_checkpoint"] = settings["init_checkpoint"]
    return inputs


def run_outputs(run, *files):
    """The declared outputs of a training job: the named files of its run folder (scenebias.paths.RUN_FILES), and
    its TensorBoard folder when compute.tensorboard is on."""
    outputs = {file: P.run(run, file) for file in files}
    if config["compute"]["tensorboard"]:
        outputs["tensorboard"] = directory(P.run(run, "tensorboard"))
    return outputs


def checkpoint_dir(run, **wildcards):
    """Resumable checkpoints of a training run: its run path mirrored under checkpoints/ (outside outputs)."""
    relative = os.path.relpath(P(run, **wildcards), RESULTS)
    return f"{P('checkpoints')}/{relative}"


# ---------------------------------------------------------------------------------------------------------
# Measures (rules/bias.smk).


def b_scene_features(wildcards):
    """The per-video scene features B_scene probes, as the labeller's record says: per-shard appearance features,
    or the merged labels. A named input function (not unpack): while the manifest checkpoint is pending, planning
    still knows the name.
    """
    layout = BACKEND["scene"][1].b_scene[0]
    if "{shard}" in P(layout):
        return per_shard(layout)(wildcards)
    return [P(layout, ds=wildcards.ds)]


# ---------------------------------------------------------------------------------------------------------
# Recomposed test sets (rules/recompose.smk): the source and every target, each measured with its own models.

RECOMPOSED = [SOURCE, *TARGETS] if config["recompose"]["max_videos"] > 0 else []


def recompose_splits(ds):
    """The splits whose test videos are recomposed: the source's pretraining split, a target's fine-tuning
    splits."""
    if ds == SOURCE:
        return [config["pretrain"]["split"]]
    return config["finetune"]["targets"][ds]["splits"]


def truth_files(*files):
    """Input function: the named files of a rendered dataset's world (its ground truth); none for others."""

    def inputs(wildcards):
        ds = wildcards.ds
        return [P.world(file, ds=ds) for file in files] if is_rendered(ds) else []

    return inputs


def files_option(flag, key):
    """A params function: `flag <files>` for a named input holding a list of files, nothing when it is empty."""

    def option(wildcards, input):
        files = input.get(key, [])
        files = [files] if isinstance(files, str) else list(files)
        return f"{flag} {' '.join(files)}" if files else ""

    return option


def recompose_source(wildcards, input):
    """Where the actor comes from: `--masks <shards>`, or `--boxes <file> --score-threshold X` from a backend
    without masks."""
    if HUMAN_MASKS:
        return files_option("--masks", "masks")(wildcards, input)
    return f"--boxes {input.get('boxes')} --score-threshold {config['humans']['score_threshold']}"


def recomposed_runs(ds):
    """(model file, run) of every model measured on a dataset's recomposed sets: the pretrained models on the
    source, the fine-tuned ones (scratch included) on a target. run = {model, split, seed}.
    """
    if ds == SOURCE:
        split = config["pretrain"]["split"]
        return [
            (
                P.run("pretrain_run", "model", **key),
                {"model": key["variant"], "split": split, "seed": key["seed"]},
            )
            for key in pretrain_run_keys()
        ]
    return [
        (
            P.run("finetune_run", "model", **key),
            {"model": key["init"], "split": key["split"], "seed": key["seed"]},
        )
        for key in finetune_run_keys()
        if key["tgt"] == ds
    ]


def recomposed_models(wildcards):
    return [path for path, _ in recomposed_runs(wildcards.ds)]


def recomposed_measure_files():
    return [P("recomposed_measures", ds=ds) for ds in RECOMPOSED]


def recomposed_report_runs():
    return [
        {"ds": ds, "role": "source" if ds == SOURCE else "target"} for ds in RECOMPOSED
    ]


def recomposed_sheet_dirs():
    return [P("recomposed_sheets", ds=ds) for ds in RECOMPOSED]


def recomposed_report_outputs():
    """The report's recomposed-set tables: recomposed.csv, and the agreement with the ground truth when the
    source is rendered."""
    outputs = {"test_only": P.report("test_only")} if EVALUATED else {}
    if not RECOMPOSED:
        return outputs
    outputs["recomposed"] = P.report("recomposed")
    if is_rendered(SOURCE):
        outputs["swap_agreement"] = P.report("swap_agreement")
    return outputs


def source_model_options(wildcards, input):
    """The report's arguments for the pretrained models on test-only datasets, with their runs, aligned."""
    if not EVALUATED:
        return ""
    runs = json.dumps(source_model_eval_keys())
    return (
        f"--source-models {' '.join(input.source_models)} --source-model-runs '{runs}'"
    )


def recomposed_report_options(wildcards, input):
    """The report's recomposed-set arguments: the measures and sheet folders with their datasets, aligned."""
    if not RECOMPOSED:
        return ""
    runs = json.dumps(recomposed_report_runs())
    return (
        f"--recomposed {' '.join(input.recomposed)} --recomposed-runs '{runs}'"
        f" --recomposed-sheets {' '.join(input.recomposed_sheets)}"
    )


# ---------------------------------------------------------------------------------------------------------
# The report (rules/report.smk): every file with the run it belongs to, aligned, so nothing parses paths.


def finetune_evals():
    return [P.run("finetune_run", "eval", **run) for run in finetune_run_keys()]


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
    return [P.run("pretrain_run", "log", **key) for key in pretrain_run_keys()]


def sweep_run_keys():
    return [
        {"src": ds, "variant": variant, "seed": seed}
        for ds, variant, seed in sweep_pretrain_runs(config)
        if variant in sweep_variants(config)
    ]


# Test-only datasets every pretrained model is evaluated on.
EVALUATED = config["evaluate"]["datasets"]


def source_model_eval_keys():
    """(ds, variant, seed) of every pretrained model on every test-only dataset."""
    return [{"ds": ds, **key} for ds in EVALUATED for key in pretrain_run_keys()]


def source_model_eval_files():
    return [
        P("source_model_eval", ds=k["ds"], variant=k["variant"], seed=k["seed"])
        for k in source_model_eval_keys()
    ]


def b_scene_datasets():
    return [SOURCE, *TARGETS]


def b_scene_files():
    return [P("b_scene", ds=ds) for ds in b_scene_datasets()]


# ---------------------------------------------------------------------------------------------------------
# Contact sheets (rules/sheets.smk): human boxes and scene labels to check by eye.


def sheet_settings(sheet):
    """The sheets: settings one sheet uses (the other sheet's keys left out, so they do not rerun it)."""
    return json.dumps(
        {k: config["sheets"][k] for k in SHEET_KEYS[sheet]}, sort_keys=True
    )


def sheet_run_keys():
    """The contact sheets of every dataset of the run (the p_bias sweep's sources are left out)."""
    return [
        {"ds": ds, "sheet": sheet} for ds in config["datasets"] for sheet in SHEET_KEYS
    ]


def sheet_files():
    return [f"{P('sheet', **key)}.png" for key in sheet_run_keys()]


# ---------------------------------------------------------------------------------------------------------
# Agreement reports (rules/humans.smk, rules/scene.smk): per section, the layout of its JSON and its sheet's name.

AGREEMENT_FILES = {
    "humans": ("boxes_agreement", "boxes_agreement"),
    "scene": ("scene_agreement", "scenes_agreement"),
}


def agreement_run_keys():
    """{section, ds, chosen, other} of every agreement report of the run."""
    return [
        {
            "section": section,
            "ds": ds,
            "chosen": BACKEND[section][0],
            "other": AGREEMENT[section],
        }
        for section in BACKENDS
        for ds in agreement_datasets(config, section)
    ]


def agreement_files():
    return [
        P(AGREEMENT_FILES[key["section"]][0], ds=key["ds"])
        for key in agreement_run_keys()
    ]


def agreement_sheets():
    return [
        f"{P('sheet', ds=key['ds'], sheet=AGREEMENT_FILES[key['section']][1])}.png"
        for key in agreement_run_keys()
    ]


# ---------------------------------------------------------------------------------------------------------
# The default target.


def all_targets():
    targets = sheet_files() + agreement_files()
    for ds in config["datasets"]:
        targets += [
            P("frame_index", ds=ds),
            P("boxes_quality", ds=ds),
            P("scene_quality", ds=ds),
        ]
    if TARGETS:
        targets.append(P.report("md"))
    else:
        targets += bias_files() + recomposed_measure_files() + recomposed_sheet_dirs()
        targets += source_model_eval_files()
    return targets


# ---------------------------------------------------------------------------------------------------------
# Local files named in the config must exist before any job runs (downloads are fetched by the fetch rule).

for _section, _name, _record, _settings in records_in_use(config):
    for _source in _record.files.values():
        if isinstance(_source, SettingFile) and _settings[_source.key]:
            file_setting(f"{_section}.{_name}.{_source.key}", _settings[_source.key])
for _ds in config["datasets"]:
    subset_list_files(_ds)
