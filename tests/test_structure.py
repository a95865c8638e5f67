"""The package's shape: no import cycles between scenebias modules, and one list of training keys."""

import ast
import dataclasses
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
