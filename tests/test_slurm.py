"""The smoke workflow through a real single-node SLURM cluster with profiles/ci-slurm."""

import re
import subprocess
from pathlib import Path

import pytest
from slurm_cluster import SingleNodeSlurm, missing_prerequisites

from conftest import IN_CI, REPO, fresh_clone, tool

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


def local_rules() -> set[str]:
    """The rules the workflow keeps on the submitting machine (its `localrules:` directive)."""
    text = (REPO / "rules" / "common.smk").read_text()
    block = re.search(r"^localrules:\n((?:    \w+,\n)+)", text, flags=re.M)
    assert block, "rules/common.smk has no localrules: block"
    return set(re.findall(r"(\w+),", block.group(1)))


def test_smoke_workflow_runs_through_slurm(cluster, tmp_path, venv_env):
    """`snakemake --profile profiles/ci-slurm --configfile configs/smoke.yaml` from the root of a fresh clone."""
    checkout = fresh_clone(tmp_path / "scenebias")
    env = {**venv_env, "SLURM_CONF": str(cluster.conf)}
    cmd = [tool("snakemake"), "--profile", "profiles/ci-slurm", "--configfile", "configs/smoke.yaml"]
    proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, env=env, timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert (checkout / "results" / "report" / "results.md").is_file()
    # Every job went through sbatch: the plugin names a SLURM job id per submission and keeps its log, in which
    # the job's own Snakemake lists the rules it ran.
    submissions = re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", output)
    assert submissions, output[-3000:]
    assert len({jobid for _, jobid, _ in submissions}) == len(submissions)
    ran_in_slurm = set()
    for _, jobid, log in submissions:
        assert Path(log).is_file() and Path(log).stem == jobid
        ran_in_slurm |= set(re.findall(r"^(?:rule|checkpoint) (\w+):", Path(log).read_text(), flags=re.M))
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", output.split("Job stats:", 1)[1].split("Select jobs", 1)[0], re.M))
    local = local_rules() | {"all"}
    remote = {rule for rule in stats if rule not in local | {"total"}}
    assert remote <= ran_in_slurm, (remote, ran_in_slurm)
    assert not (local & ran_in_slurm), local & ran_in_slurm  # merges, report: on the submitting machine
    total = int(re.search(r"(\d+) of \1 steps \(100%\) done", output).group(1))
    assert len(submissions) == total - sum(int(n) for rule, n in stats.items() if rule in local)  # one per job
    queue = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True, text=True, env=env)
    states = dict(line.split() for line in queue.stdout.splitlines())
    assert all(states.get(jobid, "COMPLETED") == "COMPLETED" for _, jobid, _ in submissions), states
