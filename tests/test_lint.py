"""The workflow's own style gates: snakefmt, snakemake --lint and ruff must stay clean."""

import subprocess

from conftest import REPO, tool


def run(*cmd: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)


def test_snakefmt_check():
    proc = run(tool("snakefmt"), "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint(venv_env):
    proc = run(tool("snakemake"), "--lint", env=venv_env)
    assert proc.returncode == 0 and "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_ruff():
    proc = run(tool("ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr
