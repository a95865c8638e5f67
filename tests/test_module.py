"""scenebias as a module of another workflow: tests/module_host (`module scenebias: snakefile: ../../Snakefile;
config: ...` and `use rule * from scenebias as scenebias_*`) runs the smoke config through the report from its own
folder, as the README's "Using scenebias inside your own workflow" describes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import fresh_clone, tool

pytestmark = pytest.mark.workflow

HOST = Path("tests") / "module_host"


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_host_workflow_runs_scenebias_as_a_module(tmp_path):
    """From the host's folder, `snakemake --cores 2`: every scenebias output under the host's folder, nothing
    written into the scenebias checkout, the schema, scripts and package read from the checkout (the host folder has
    none of them), the renamed rules keep their local/remote split, and the host's own rule reads the report."""
    checkout = fresh_clone(tmp_path / "scenebias")
    host = checkout / HOST
    before = files_under(checkout)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([tool("snakemake"), "--cores", "2"], cwd=host, capture_output=True, text=True, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "rule scenebias_pretrain:" in out and "rule table:" in out
    report = host / "results" / "scenebias" / "report" / "results.md"
    assert "| baseline |" in report.read_text() and (host / "table.md").read_text() == report.read_text()
    written = files_under(checkout) - before
    assert written and all(name.startswith(f"{HOST}/") for name in written), sorted(written)[:10]
    assert not (host / "schemas").exists() and not (host / "scripts").exists()

    # The rules that stay on the submitting machine under a cluster executor, as Snakemake sees them in the host:
    # renamed (a `localrules:` list of the old names would miss them and send downloads to compute nodes).
    probe = host / "probe.smk"
    probe.write_text('include: "Snakefile"\n\nprint("LOCAL", sorted(workflow._localrules))\n')  # as is_local() reads
    cmd = [tool("snakemake"), "-n", "-s", probe.name]
    proc = subprocess.run(cmd, cwd=host, capture_output=True, text=True, env=env)
    local = re.search(r"^LOCAL (\[.*\])$", proc.stdout, flags=re.M)
    assert local, proc.stdout[-2000:] + proc.stderr[-2000:]
    names = set(eval(local.group(1)))
    assert {"scenebias_report", "scenebias_fetch", "scenebias_merge_human_boxes"} <= names
    assert not {"scenebias_pretrain", "scenebias_extract_frames"} & names
