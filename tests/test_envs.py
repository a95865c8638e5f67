"""The conda envs in envs/: they parse, each rule's env provides what its script imports, and pins agree with
pyproject.toml (so `--sdm conda` on a cluster runs the same versions as the local venv)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

# import name -> distribution name, where they differ
DISTRIBUTION = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "ffmpeg": "ffmpeg-python",
    "imageio_ffmpeg": "imageio-ffmpeg",
    "detectron2": "detectron2",
    "cv2": "opencv-python-headless",
}
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")
OPTIONAL = {"detectron2"}  # imported only when that backend is chosen; it has its own env


def parse_requirement(text: str) -> tuple[str, str]:
    if text.startswith("git+"):
        return text.rsplit("/", 1)[-1].removesuffix(".git").strip('"'), ""
    match = REQUIREMENT.match(text.strip('"'))
    name, spec = match.group(1).lower(), match.group(2).replace(" ", "")
    return CONDA_NAMES.get(name, name), spec


def env_packages(path: Path) -> dict[str, str]:
    """Name -> version spec of what an env file installs, including what its Snakemake post-deploy script
    (`<env>.post-deploy.sh`) installs from git (envs/detectron2.post-deploy.sh: detectron2)."""
    env = yaml.safe_load(path.read_text())
    packages = {}
    for dep in env["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            name, spec = parse_requirement(item)
            packages[name] = spec
    post_deploy = path.with_name(f"{path.stem}.post-deploy.sh")
    if post_deploy.is_file():
        for repo in re.findall(r"git\+https://\S+?/([\w.-]+?)\.git@", post_deploy.read_text()):
            packages[repo.lower()] = ""
    return packages


def third_party_imports(module_path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level third-party modules imported by a file and, transitively, by the scenebias modules it uses."""
    seen = set() if seen is None else seen
    if module_path in seen:
        return set()
    seen.add(module_path)
    found = set()
    for node in ast.walk(ast.parse(module_path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == "scenebias":
                target = REPO / Path(*name.split("."))
                for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                    if candidate.is_file():
                        found |= third_party_imports(candidate, seen)
            elif top not in sys.stdlib_module_names and top not in ("_bootstrap", "conftest"):
                found.add(top)
    return found


def rules_with_envs() -> list[tuple[str, str, list[str]]]:
    """(rule, script name, env files) for every rule in rules/*.smk (a backend's job: the envs of its registry)."""
    from scenebias.registry import BACKENDS

    out = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule |checkpoint )", smk.read_text())[1:]:
            rule = block.split(":", 1)[0].split()[1]
            script = re.search(r'script=script\("(\w+)"\)', block)
            envs = re.findall(r'"\.\./(envs/[\w.]+\.yaml)"', block)
            for section in re.findall(r'backend_env\("(\w+)"\)', block):  # any backend of the section may run
                envs += sorted({f"envs/{record.env}.yaml" for record in BACKENDS[section].values()})
            out.append((rule, script.group(1) if script else "", envs))
    return out


def test_every_env_parses_and_every_rule_names_one():
    for path in sorted((REPO / "envs").glob("*.yaml")):
        assert env_packages(path), path
    for rule, _, envs in rules_with_envs():
        assert envs, f"rule {rule} names no conda env"
        for env in envs:
            assert (REPO / env).is_file(), f"rule {rule}: {env} does not exist"


@pytest.mark.parametrize("rule, script, envs", [r for r in rules_with_envs() if r[1]])
def test_rule_env_provides_what_its_script_imports(rule, script, envs):
    needed = {DISTRIBUTION.get(m, m).lower() for m in third_party_imports(REPO / "scripts" / f"{script}.py")}
    for env in envs:
        provided = set(env_packages(REPO / env))
        missing = needed - provided - (OPTIONAL - ({"detectron2"} if "detectron2" in env else set()))
        assert not missing, f"rule {rule} ({script}.py) imports {sorted(missing)}, which {env} does not provide"


def test_pins_agree_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = dict(parse_requirement(r) for r in project["dependencies"])
    for path in sorted((REPO / "envs").glob("*.yaml")):
        for name, spec in env_packages(path).items():
            if name in pinned and spec and pinned[name]:
                assert spec == pinned[name], f"{path.name}: {name}{spec} but pyproject.toml says {name}{pinned[name]}"
