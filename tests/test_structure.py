"""The package's shape: no import cycles between scenebias modules, one list of training keys, one source for each
default, name and path."""

import ast
import dataclasses
import io
import re
import tokenize
from pathlib import Path

import yaml

from scenebias.config import load_schema, validate_config
from scenebias.runs import base_settings
from scenebias.settings import TrainSettings

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "scenebias"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """module -> the scenebias modules it imports anywhere in its text (top level or inside functions)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    graph = package_imports()
    assert "scenebias.settings" in graph and graph["scenebias.data"], "the import graph was not read"
    assert find_cycle(graph) is None


def test_schema_and_train_settings_agree():
    """Every TrainSettings field comes from exactly one place in the config: the schema's per-run training keys
    ($defs.train: pretrain/finetune defaults, variants, targets), the shared sections (base_settings), or the
    run's seed; and every key the schema allows there is a field (neither list can grow alone)."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    per_run = set(schema["$defs"]["train"]["properties"])
    config = {}
    validate_config(config, load_schema(REPO / "schemas" / "config.schema.yaml"))
    shared = set(base_settings(config))
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    assert not per_run & shared, f"set in two places: {sorted(per_run & shared)}"
    assert per_run | shared | {"seed"} == fields, (
        f"schema only: {sorted((per_run | shared | {'seed'}) - fields)}; "
        f"TrainSettings only: {sorted(fields - per_run - shared - {'seed'})}"
    )


# ---------------------------------------------------------------------------------------------------------
# One source for each fact: defaults in the schema, names in the registries, paths in the layout.


def schema_defaults() -> dict:
    """The config a run gets from the schema alone (every default filled in)."""
    return validate_config({}, load_schema(REPO / "schemas" / "config.schema.yaml"))


def test_dataclass_defaults_are_the_schemas():
    """Where a dataclass keeps defaults (for code outside the workflow), each equals the schema's, field for field:
    a run's training settings, the clip, the motion backend, the contact sheets and the recomposed sets."""
    from scenebias.humans.motion import MotionSettings
    from scenebias.recompose.build import RecomposeSettings
    from scenebias.runs import pretrain_settings
    from scenebias.settings import ClipSpec
    from scenebias.sheets import SheetSettings

    config = schema_defaults()
    variant = next(iter(config["pretrain"]["variants"]))
    assert pretrain_settings(config, variant, 0) == dataclasses.asdict(TrainSettings(seed=0))
    clip = config["clip"]
    assert dataclasses.asdict(ClipSpec()) == {
        "frames": clip["frames"], "crop": clip["crop"], "scales": tuple(clip["scales"]), "flip": clip["flip"]
    }  # fmt: skip
    assert dataclasses.asdict(MotionSettings()) == config["humans"]["motion"]
    assert dataclasses.asdict(SheetSettings()) == config["sheets"]
    recompose = dataclasses.asdict(RecomposeSettings())
    assert {**recompose, "coverage": list(recompose["coverage"])} == config["recompose"]


def test_training_defaults_fill_the_defaults_layer_but_not_variants_or_targets():
    """pretrain.defaults and finetune.defaults get every training default; a variant or target keeps only the
    keys it gives, so the defaults layer below it is not overridden by the schema's defaults."""
    schema = load_schema(REPO / "schemas" / "config.schema.yaml")
    config = validate_config(
        {
            "pretrain": {"defaults": {"lr": 0.5}, "variants": {"a": {"seeds": [0], "epochs": 3}}},
            "finetune": {"defaults": {"lr": 0.25}, "targets": {"fine": {"epochs": 2}}},
        },
        schema,
    )
    assert set(config["pretrain"]["defaults"]) == set(schema["$defs"]["train"]["properties"])
    assert config["pretrain"]["variants"]["a"] == {"seeds": [0], "epochs": 3}
    assert config["finetune"]["targets"]["fine"] == {"epochs": 2, "splits": [1]}
    from scenebias.runs import finetune_settings, pretrain_settings

    assert pretrain_settings(config, "a", 0)["lr"] == 0.5 and finetune_settings(config, "fine", 0)["lr"] == 0.25


def test_schema_enums_list_the_registries():
    from scenebias.models import MODEL_NAMES
    from scenebias.registry import BACKENDS, DATASET_KINDS

    props = load_schema(REPO / "schemas" / "config.schema.yaml")["properties"]
    for section, registry in BACKENDS.items():
        assert sorted(props[section]["properties"]["backend"]["enum"]) == sorted(registry), section
    kind = props["datasets"]["additionalProperties"]["properties"]["kind"]
    assert sorted(kind["enum"]) == sorted(DATASET_KINDS)
    assert sorted(props["model"]["properties"]["name"]["enum"]) == sorted(MODEL_NAMES)


def registry_names() -> set[str]:
    from scenebias.registry import BACKENDS, DATASET_KINDS

    return set(DATASET_KINDS) | {name for registry in BACKENDS.values() for name in registry}


def names_in_code(path: Path, names: set[str]) -> list[str]:
    """Where code (not comments) names a registry entry: a quoted name inside any string token, or an identifier
    containing one (except the common words `videos` and `motion`)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING:
            found += [
                f"{path.name}:{token.start[0]}: {n!r}" for n in names if re.search(rf"[\"']{n}[\"']", token.string)
            ]
        elif token.type == tokenize.NAME:
            words = names - {"videos", "motion"}
            found += [f"{path.name}:{token.start[0]}: {token.string}" for n in words if n in token.string.lower()]
    return found


def test_names_in_code_sees_a_backend_name(tmp_path):
    probe = tmp_path / "probe.smk"
    probe.write_text('# kmeans in a comment is fine\nif SCENE["backend"] == "kmeans":\n    is_synthetic = 1\n')
    assert names_in_code(probe, {"kmeans", "synthetic"}) == ["probe.smk:2: 'kmeans'", "probe.smk:3: is_synthetic"]


def test_no_backend_or_dataset_kind_name_in_the_rules_or_the_config_check():
    """The workflow and the config check loop over the registry records; naming an entry there would make adding
    one a change in several files again."""
    files = [*sorted((REPO / "rules").glob("*.smk")), REPO / "Snakefile", PACKAGE / "config.py"]
    found = [hit for path in files for hit in names_in_code(path, registry_names())]
    assert not found, found


def test_results_readme_is_generated_from_the_layout():
    from scenebias.paths import readme

    assert (REPO / "results" / "README.md").read_text() == readme(), (
        "results/README.md is stale: python -m scenebias.paths > results/README.md"
    )


def test_every_package_module_reads_in_one_sitting():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
