"""The README's commands, verbatim, from the root of a fresh clone; and every document the project cites exists.

Every command in the README's ```bash blocks is either run here (the cheap ones: dry runs of every shipped config,
--list-rules, --lint, --unlock, --help, the config check) or named below as too costly for a unit test (real runs,
which tests/test_workflow.py, test_paper.py and test_slurm.py run with the same command lines). A command that is
neither fails the test, so a new README command cannot slip past it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_datasets import clips  # noqa: F401  (a fixture paper_checkout uses)
from test_paper import paper_checkout  # noqa: F401  (a fresh clone with the paper's tiny trees and weights)

from conftest import REPO

README = REPO / "README.md"

# Commands run for real elsewhere or too costly here: `make` targets (they build .venv and run everything), real
# Snakemake runs (no -n), and the SLURM profile (needs a cluster; tests/test_slurm.py runs its CI twin).
COSTLY = [
    r"^make\b",
    r"^snakemake --profile profiles/slurm\b",
    r"^snakemake\b",
]
CHEAP = [
    r"^export PATH=",
    r"^snakemake\b.*\s(?:-n|--list-rules|--lint|--unlock)(?:\s|$)",
    r"^python -m scenebias\.config \S+$",
    r"^python scripts/\w+\.py --help$",
]


def readme_commands() -> list[str]:
    """The command lines of the README's bash blocks, comments stripped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), flags=re.M | re.S)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def classify(command: str) -> str:
    if any(re.search(p, command) for p in CHEAP):
        return "run"
    if any(re.search(p, command) for p in COSTLY):
        return "costly"
    return "unknown"


def test_every_readme_command_is_classified():
    commands = readme_commands()
    assert commands, "no ```bash blocks found in README.md"
    unknown = [c for c in commands if classify(c) == "unknown"]
    assert not unknown, f"README commands neither run by this test nor listed as costly: {unknown}"
    dry_runs = {c for c in commands if classify(c) == "run" and " -n" in c}
    assert "snakemake -n" in dry_runs  # the default run
    for config in sorted((REPO / "configs").glob("*.yaml")):
        assert f"snakemake -n --configfile configs/{config.name}" in dry_runs, f"README has no dry run of {config}"


def test_readme_commands_run_from_a_fresh_clone(paper_checkout):  # noqa: F811
    """The cheap README commands, verbatim and in order, in one shell at the clone's root (with .venv linked in,
    as `make venv` would have built it there, and the example overlays the README describes)."""
    checkout, _ = paper_checkout
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    (checkout / "my_paths.yaml").write_text(yaml.safe_dump({"datasets": {"ucf101": {"root": "data/ucf101"}}}))
    commands = [c for c in readme_commands() if classify(c) == "run"]
    script = "set -euo pipefail\n" + "".join(f"echo '>>> {c}'\n{c}\n" for c in commands)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(["bash", "-c", script], cwd=checkout, capture_output=True, text=True, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    for section in output.split(">>> ")[1:]:
        command, _, text = section.partition("\n")
        for bad in ("Traceback", "Exception"):
            assert bad not in text, f"{command}: {bad}\n{text[-2000:]}"
        if "--configfile" in command:  # a chosen config replaces config.yaml (--config alone extends it)
            assert "config.yaml is extended" not in text, command
    assert output.count(">>> ") == len(commands)
    assert "This was a dry-run" in output


# Documents named in the project that are not its own: the workflows' outputs and an external page.
OUTPUT_DOCUMENTS = {"results.md", "p_bias_sweep.md", "table.md"}  # table.md: tests/module_host's
EXTERNAL_DOCUMENTS = {"MODEL_ZOO.md"}  # detectron2's model zoo page


def project_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return [REPO / n for n in names if (REPO / n).is_file() and not n.startswith("results/")]


@pytest.mark.parametrize("pattern", [r"DESIGN\.md", r"paper_notes", r"\.\./shared", r"bias_and_performance_notes"])
def test_nothing_cites_documents_outside_the_repository(pattern):
    found = []
    for path in project_files():
        if path.suffix in {".py", ".smk", ".md", ".yaml", ".txt", ".toml", ""} and path != Path(__file__):
            text = path.read_text(errors="replace")
            found += [f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}"
                      for m in re.finditer(pattern, text)]  # fmt: skip
    assert not found, found


# A document name in prose or a path (not a Python attribute like `args.md`, nor a {placeholder}).
CITED = re.compile(r"(?<![\w./{}(-])((?:[\w-]+/)*[\w-]+\.md)(?![\w(]|\.\w)")


def test_every_cited_document_exists():
    missing = []
    for path in project_files():
        if path.suffix not in {".py", ".smk", ".md", ".yaml", ".toml", ""} or path == Path(__file__):
            continue
        for name in set(CITED.findall(path.read_text(errors="replace"))):
            if Path(name).name in OUTPUT_DOCUMENTS | EXTERNAL_DOCUMENTS:
                continue
            if not ((REPO / name).is_file() or (path.parent / name).is_file()):
                missing.append(f"{path.relative_to(REPO)} cites {name}")
    assert not missing, missing
