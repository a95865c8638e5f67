"""Config validation: JSON schema with defaults, then the checks a schema cannot express.

Called from `rules/common.smk` before any job is planned (`validate_config`, then `check_on_disk` for what only
the disk can tell: dataset roots, the splits a list file gives), and usable on its own:
`python -m scenebias.config config.yaml` prints the completed config or the error.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import jsonschema
import yaml

from scenebias.backends import SettingFile
from scenebias.config_backends import ConfigError, check_backend_files_on_disk, check_backends
from scenebias.registry import BACKENDS, dataset_kind
from scenebias.synth.naming import sweep_dataset_name

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _with_defaults(validator_class, definitions: dict):
    """A validator class that fills `default` values of properties while it validates (jsonschema FAQ recipe).

    An object schema with `x-overrides: <name>` is a layer over `$defs/<name>` (a pretraining variant over
    pretrain.defaults, a fine-tuning target over finetune.defaults): the keys it shares with that definition are
    left out when absent, so that the layer below supplies them; its own keys still get their defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            layer_of = schema.get("x-overrides")
            shared = set(definitions[layer_of]["properties"]) if layer_of else set()
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance and name not in shared:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def describe_error(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    reserved = error.schema.get("x-reserved") if isinstance(error.schema, dict) else None
    if error.validator == "not" and reserved:
        return f"config key '{where}': {error.instance!r} is a reserved name: {reserved}; choose another name"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        if allowed:
            return (
                f"config key '{where}': unknown key(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    return f"config key '{where}': {error.message}"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate in place, filling defaults; raise ConfigError naming the first bad key. Returns config."""
    schema = schema if schema is not None else load_schema()
    validator_class = _with_defaults(jsonschema.validators.validator_for(schema), schema.get("$defs", {}))
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        raise ConfigError(describe_error(errors[0]))
    _check_semantics(config)
    return config


def _check_range(value: list, key: str) -> None:
    if value[0] > value[1]:
        raise ConfigError(f"config key '{key}': range {value} has its lower bound above its upper bound")


def _check_semantics(config: dict) -> None:
    world = config["world"]
    for key in ("scale", "speed", "speed_slow", "speed_fast"):
        _check_range(world[key], f"world.{key}")
    _check_range(config["recompose"]["coverage"], "recompose.coverage")
    for name, target in world["targets"].items():
        if name == "source":
            raise ConfigError("config key 'world.targets.source': 'source' is reserved for the source dataset")
        if target["scene"] >= world["n_scenes"]:
            raise ConfigError(
                f"config key 'world.targets.{name}.scene': scene {target['scene']} does not exist "
                f"(world.n_scenes = {world['n_scenes']})"
            )
    source = config["pretrain"]["dataset"]
    if source not in config["datasets"]:  # checked first: every other dataset key assumes it (often: an overlay alone)
        raise ConfigError(
            f"config key 'pretrain.dataset': {source!r} is not in datasets ({', '.join(config['datasets']) or 'none'})."
            " A file that only adds to a run (an overlay, e.g. configs/mimetics.yaml) goes after the config it extends:"
            " --configfile configs/paper.yaml configs/mimetics.yaml"
        )
    check_backends(config)
    variants = config["pretrain"]["variants"]
    for name, variant in variants.items():
        init = variant.get("init_from")
        if init is not None and init not in variants:
            raise ConfigError(f"config key 'pretrain.variants.{name}.init_from': no variant named {init!r}")
        if init is not None and not set(variant["seeds"]) <= set(variants[init]["seeds"]):
            raise ConfigError(
                f"config key 'pretrain.variants.{name}.seeds': every seed needs a {init!r} model of the same seed"
            )
    _check_init_cycles(variants)
    _check_sweep(config)
    _check_downloads(config)
    for name in config["finetune"]["targets"]:
        if name not in config["datasets"]:
            raise ConfigError(f"config key 'finetune.targets.{name}': no dataset named {name!r}")
    for name in config["evaluate"]["datasets"]:
        if name not in config["datasets"]:
            raise ConfigError(f"config key 'evaluate.datasets': no dataset named {name!r}")
        if name == config["pretrain"]["dataset"] or name in config["finetune"]["targets"]:
            raise ConfigError(f"config key 'evaluate.datasets': {name!r} is the source or a target, not test-only")
    for name, dataset in config["datasets"].items():
        rendered = dataset_kind(dataset).rendered
        if not rendered and not dataset.get("root"):
            raise ConfigError(f"config key 'datasets.{name}.root': a {dataset['kind']} dataset needs its folder")
        if rendered and name != "source" and name not in world["targets"]:
            raise ConfigError(
                f"config key 'datasets.{name}': a {dataset['kind']} dataset is rendered from `world`, so it must be "
                f"'source' or one of world.targets ({', '.join(world['targets']) or 'none defined'})"
            )
    _check_dataset_options(config)
    _check_splits(config)


def _check_dataset_options(config: dict) -> None:
    from scenebias.datasets import dataset_splits
    from scenebias.manifest import ManifestError

    for name, dataset in config["datasets"].items():
        try:
            dataset_splits(dataset["kind"], None, dataset.get("options", {}))
        except ManifestError as exc:
            raise ConfigError(f"config key 'datasets.{name}.options': {exc}") from None


def splits_used(config: dict) -> list[tuple[str, str, int]]:
    """(config key, dataset, split) for every split a training run reads: pretraining and each fine-tuning target."""
    used = [("pretrain.split", config["pretrain"]["dataset"], config["pretrain"]["split"])]
    for name, target in config["finetune"]["targets"].items():
        used += [(f"finetune.targets.{name}.splits", name, int(k)) for k in target.get("splits", [1])]
    return used


def _check_splits(config: dict, base: Path | str | None = None) -> None:
    """Every split a run trains on must exist in its dataset (with the dataset's options). Without the disk (base
    None), a `videos` dataset with a list file is left to `check_on_disk`, which reads the list's header; with it,
    only those are checked."""
    from scenebias.datasets import dataset_splits
    from scenebias.manifest import ManifestError

    known: dict[str, list[int]] = {}
    for key, name, split in splits_used(config):
        dataset = config["datasets"][name]
        reads_disk = dataset_kind(dataset).splits_need_disk(dataset.get("options", {}))
        if reads_disk != (base is not None):
            continue
        if name not in known:
            root = Path(base, dataset["root"]) if reads_disk else None
            try:
                known[name] = dataset_splits(dataset["kind"], root, dataset.get("options", {}))
            except ManifestError as exc:
                raise ConfigError(f"config key 'datasets.{name}.options': {exc}") from None
        if split not in known[name]:
            raise ConfigError(
                f"config key '{key}': dataset {name!r} has no split {split} (its {dataset['kind']} lists give "
                f"split(s) {known[name]}); choose among those"
            )


def check_on_disk(config: dict, base: Path | str = ".") -> None:
    """What only the disk can tell, before any job: every real dataset's root and video folder exist, and the
    splits a `videos` dataset's list file gives include those the run trains on. Relative paths are from `base`
    (the working directory of the run)."""
    for name, dataset in config["datasets"].items():
        kind = dataset_kind(dataset)
        if kind.rendered:
            continue
        root = Path(base, dataset["root"])
        if not root.is_dir():
            raise ConfigError(
                f"config key 'datasets.{name}.root': {dataset['root']} is not a folder (looked for {root.absolute()}); "
                "put the dataset there or point the key at it (README: Reproducing the paper, Bring your own videos)"
            )
        videos = kind.video_folder(dataset["kind"], root, dataset.get("options", {}))
        if videos is not None and not videos.is_dir():
            raise ConfigError(
                f"config key 'datasets.{name}.options.{kind.video_dir}': the video folder {videos} does not exist "
                f"(root + options.{kind.video_dir}, default {kind.defaults[kind.video_dir]!r}); set the option to the "
                "folder under the root that holds the videos"
            )
        for key, value in kind.list_files(dataset.get("options", {})):
            if not Path(root, value).is_file():
                hint = kind.missing_hint(root, dataset.get("options", {}))
                raise ConfigError(
                    f"config key 'datasets.{name}.options.{key}': {Path(root, value)} does not exist" + hint
                )
    _check_splits(config, base)
    check_backend_files_on_disk(config, base)


DOWNLOAD_SCHEME = "download:"


def subset_list_entries(dataset: dict) -> list[tuple[str, str]]:
    """(key, file) of a dataset's options.subset_lists in any of its forms: a mapping role -> file, or one file
    or a list of files (keyed by file name, as the Kinetics adapter keys them)."""
    lists = dataset.get("options", {}).get("subset_lists")
    if not lists:
        return []
    if isinstance(lists, dict):
        return [(str(k), v) for k, v in lists.items()]
    return [(Path(v).name, v) for v in ([lists] if isinstance(lists, str) else lists)]


def file_settings(config: dict) -> list[tuple[str, str]]:
    """(config key, value) of every setting that names a file which may come from `downloads`."""
    found = []
    for section, registry in BACKENDS.items():  # every backend's section, also of those not chosen in this run
        for name, record in registry.items():
            settings = config[section].get(name, {})
            for source in record.files.values():
                if isinstance(source, SettingFile) and settings[source.key]:
                    found.append((f"{section}.{name}.{source.key}", settings[source.key]))
    for name, dataset in config["datasets"].items():
        found += [(f"datasets.{name}.options.subset_lists.{k}", v) for k, v in subset_list_entries(dataset)]
    return found


def _check_downloads(config: dict) -> None:
    for key, value in file_settings(config):
        if isinstance(value, str) and value.startswith(DOWNLOAD_SCHEME):
            name = value.removeprefix(DOWNLOAD_SCHEME)
            if name not in config["downloads"]:
                raise ConfigError(
                    f"config key '{key}': {value!r} names no entry of 'downloads'; add downloads.{name} with url "
                    "and sha256 (machines with internet), or give the file's local path instead"
                )


def _check_sweep(config: dict) -> None:
    sweep, variants = config["sweep"], config["pretrain"]["variants"]
    for name in sweep["variants"]:
        if name not in variants:
            raise ConfigError(f"config key 'sweep.variants': no pretraining variant named {name!r}")
    names = [sweep_dataset_name(p) for p in sweep["p_bias"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key 'sweep.p_bias': {sweep['p_bias']} has values equal at two decimals")
    clash = set(names) & set(config["datasets"])
    if clash:
        raise ConfigError(f"config key 'datasets': {sorted(clash)} are reserved for the p_bias sweep")


def _check_init_cycles(variants: dict) -> None:
    for start in variants:
        seen, current = [start], variants[start].get("init_from")
        while current is not None:
            if current in seen:
                chain = " -> ".join([*seen, current])
                raise ConfigError(f"config key 'pretrain.variants.{start}.init_from': a cycle ({chain})")
            seen.append(current)
            current = variants[current].get("init_from")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


class DuplicateKey(Exception):
    def __init__(self, key, first: int, again: int):
        super().__init__(key, first, again)
        self.key, self.first, self.again = key, first, again


def read_yaml(path: str | Path) -> dict:
    """A config file's content; a YAML syntax error names the file, line and column, and a key given twice in one
    mapping (which YAML would let the last one win) names the file, both lines and the key."""
    try:
        with open(path) as fh:
            content = yaml.load(fh, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except DuplicateKey as exc:
        raise ConfigError(
            f"{path}:{exc.again}: key {exc.key!r} is given twice in the same section (first on line {exc.first}); "
            "YAML would silently keep only the last one: remove or merge one of them"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys at the top level, got {type(content).__name__}")
    return content


def load_config(path: str | Path) -> dict:
    config = read_yaml(path)
    try:
        return validate_config(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def merged_config(paths: list[str], overrides: list[str] | None = None) -> dict:
    """The config Snakemake builds from `--configfile A B ...` and `--config KEY=VALUE ...`: the files deep-merged in
    the order given, then the overrides (Snakemake's own merge, snakemake.utils.update_config)."""
    from snakemake.utils import update_config

    config: dict = {}
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: no such config file")
        update_config(config, read_yaml(path))
    for entry in overrides or []:
        update_config(config, config_override(entry))
    return config


def config_override(entry: str) -> dict:
    """One `--config KEY=VALUE` as Snakemake reads it (snakemake.cli.parse_config, which imports all of Snakemake):
    the value as an int, a float, True or False, else YAML read with every scalar a string, else the text."""
    key, sep, text = entry.partition("=")
    if not sep or not re.fullmatch(r"[a-zA-Z_][\w-]*\w", key):
        raise ConfigError(f"--config {entry!r}: expected KEY=VALUE with KEY a name (as snakemake --config)")
    if text == "":
        return {key: None}
    for parse in (int, float, {"True": True, "False": False}.__getitem__):
        try:
            return {key: parse(text)}
        except (ValueError, KeyError):
            continue
    try:
        return {key: yaml.load(text, Loader=yaml.BaseLoader)}
    except yaml.YAMLError:
        return {key: text}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m scenebias.config",
        description="Check a run's config as the workflow does before its first job (schema, then the checks a "
        "schema cannot express, then what only the disk can tell: dataset roots, list files, released files) and "
        "print it with every default filled in. Several files are merged like `snakemake --configfile A B`.",
    )
    parser.add_argument("configs", nargs="*", default=["config.yaml"], help="config file(s), later ones overriding "
                        "earlier ones (default: config.yaml, the default run)")  # fmt: skip
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="overrides, as snakemake --config")
    parser.add_argument("--directory", default=".", help="the run's working directory (relative paths start there)")
    parser.add_argument("--quiet", action="store_true", help="print nothing when the config is fine")
    args = parser.parse_args(argv)
    try:
        config = merged_config(args.configs, args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        validate_config(config)
        check_on_disk(config, args.directory)
    except ConfigError as exc:
        print(f"error: {' + '.join(args.configs)}: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        yaml.safe_dump(config, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
