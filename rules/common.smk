# Helpers shared by the rules: config validation, paths, target lists and wildcard constraints.

import json
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from scenebias.config import ConfigError, load_schema, validate_config
from scenebias.manifest import shard_names

try:
    validate_config(
        config, load_schema(Path(workflow.basedir) / "schemas" / "config.schema.yaml")
    )
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

RESULTS = config["results"]
DATASETS = list(config["datasets"])
SYNTHETIC = [d for d, spec in config["datasets"].items() if spec["kind"] == "synthetic"]


wildcard_constraints:
    ds="|".join(DATASETS),
    shard=r"\d{4}",


def script(name):
    """Absolute path of a stage's entry point, so the workflow runs from any --directory."""
    return str(Path(workflow.basedir) / "scripts" / f"{name}.py")


def world_params(ds):
    """The world settings one synthetic dataset depends on (other datasets' sizes are left out)."""
    world = {k: v for k, v in config["world"].items() if k not in ("source", "targets")}
    if ds == "source":
        world["source"] = config["world"]["source"]
        world["targets"] = {}
    else:
        world["targets"] = {ds: config["world"]["targets"][ds]}
    return json.dumps(world, sort_keys=True)


def manifest_inputs(wildcards):
    kind = config["datasets"][wildcards.ds]["kind"]
    if kind == "synthetic":
        return {
            "classes": f"{RESULTS}/world/{wildcards.ds}/lists/classInd.txt",
            "videos": f"{RESULTS}/world/{wildcards.ds}/videos",
        }
    raise WorkflowError(f"dataset {wildcards.ds}: unsupported kind {kind!r}")


def video_root(ds):
    return f"{RESULTS}/world/{ds}/videos"


def shards_of(ds):
    """Shards of a dataset, known once its manifest (a checkpoint) exists."""
    manifest = checkpoints.manifest.get(ds=ds).output.csv
    return shard_names(Path(manifest))


def frame_indexes(wildcards):
    return [
        f"{RESULTS}/{wildcards.ds}/frames/{s}/index.csv"
        for s in shards_of(wildcards.ds)
    ]


def all_targets():
    targets = []
    for ds in DATASETS:
        targets.append(f"{RESULTS}/{ds}/frames/index.csv")
    return targets
