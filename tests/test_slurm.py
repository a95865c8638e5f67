"""The smoke workflow through a real single-node SLURM cluster with profiles/ci-slurm."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from slurm_cluster import SingleNodeSlurm, missing_prerequisites

from conftest import IN_CI, REPO, tool

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_prerequisites()
    if missing:
        message = f"a single-node SLURM needs: {', '.join(missing)} (apt-get install slurm-wlm munge, as root)"
        if IN_CI:
            pytest.fail("missing prerequisite in CI: " + message)
        pytest.skip(message)
    slurm = SingleNodeSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


def test_smoke_workflow_runs_through_slurm(cluster, tmp_path, venv_env):
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    configfile = tmp_path / "smoke.yaml"
    configfile.write_text(yaml.safe_dump(config))
    env = {**venv_env, "SLURM_CONF": str(cluster.conf)}
    cmd = [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
           str(configfile), "--profile", str(REPO / "profiles" / "ci-slurm")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert (tmp_path / "results" / "report" / "results.md").is_file()
    # Every job went through sbatch: the plugin names a SLURM job id per submission and keeps its log, in which
    # the job's own Snakemake lists the rules it ran.
    submissions = re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", output)
    assert submissions, output[-3000:]
    assert len({jobid for _, jobid, _ in submissions}) == len(submissions)
    ran_in_slurm = set()
    for _, jobid, log in submissions:
        assert Path(log).is_file() and Path(log).stem == jobid
        ran_in_slurm |= set(re.findall(r"^(?:rule|checkpoint) (\w+):", Path(log).read_text(), flags=re.M))
    scheduled = set(re.findall(r"^(\w+)\s+\d+$", output.split("Job stats:", 1)[1].split("Select jobs", 1)[0], re.M))
    assert scheduled - {"all", "total"} <= ran_in_slurm, (scheduled, ran_in_slurm)
    total = int(re.search(r"(\d+) of \1 steps \(100%\) done", output).group(1))
    assert len(submissions) == total - 1  # one submission per job (no groups); `all` runs locally
    queue = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True, text=True, env=env)
    states = dict(line.split() for line in queue.stdout.splitlines())
    assert all(states.get(jobid, "COMPLETED") == "COMPLETED" for _, jobid, _ in submissions), states
