"""The shipped SLURM profile as the README runs it: `snakemake --profile profiles/slurm --profile profiles/ci-slurm
--configfile configs/smoke.yaml gpus.yaml` from the root of a fresh clone, through a real single-node SLURM
(tests/slurm_cluster.py). profiles/slurm is the file under test; profiles/ci-slurm is the test cluster's site
profile (partitions, status command), the kind of file a user writes for their own site.

One submission serves every check (CI time): the smoke run with compute.gpus: 2 (training jobs ask for two GPUs
and run two torchrun processes with gloo on CPU; the test node declares GPUs it does not have) and
frames.workers: 2 (a CPU job with two threads). The test cancels the first pretraining job once SLURM has it, as
a node failure or an admin would, and Snakemake resubmits it (restart-times). The requests are read from what the
plugin gave `sbatch` (`--verbose` prints each call) and from what SLURM recorded (`scontrol show job`), and
compared per job with the profile, the backend registry and the config.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from slurm_cluster import SingleNodeSlurm, missing_prerequisites

from conftest import IN_CI, REPO, fresh_clone, tool
from scenebias.registry import chosen_backend

pytestmark = pytest.mark.workflow

PROFILE = "profiles/slurm"  # the shipped profile
SITE = "profiles/ci-slurm"  # the test cluster's site profile
SMOKE = "configs/smoke.yaml"
OVERLAY = {"compute": {"gpus": 2}, "frames": {"workers": 2}}
CANCELLED_RULE = "pretrain"  # its first job is cancelled once submitted; Snakemake resubmits it
SLURM_CLIENTS = {"sinfo", "squeue", "sbatch", "scontrol", "sacct", "sacctmgr", "srun", "scancel", "salloc", "sshare"}


def profile(path: str = PROFILE) -> dict:
    return yaml.safe_load((REPO / path / "config.yaml").read_text())


def rule_blocks() -> dict[str, str]:
    """rule name -> the text of its definition, for every rule of the workflow."""
    text = "\n".join(p.read_text() for p in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))])
    blocks = dict(re.findall(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)+)", text, flags=re.M))
    # `use rule A as B with:` makes B a rule with A's definition and the block's changes
    for base, name, changes in re.findall(r"^ *use rule (\w+) as (\w+) with:\n((?:[ \t]+.*\n|\n)+)", text, flags=re.M):
        blocks[name] = blocks[base] + changes
    return blocks


def local_rules() -> set[str]:
    """The rules that stay on the submitting machine under a cluster executor (`localrule: True`)."""
    return {name for name, body in rule_blocks().items() if re.search(r"^    localrule: True$", body, re.M)}


# ---------------------------------------------------------------------------------------------------------
# The profile, read without a cluster.


def test_profile_sizes_every_submitted_rule():
    """Every rule that goes to the cluster has its memory and an attempt-scaled runtime in the shipped profile;
    every rule that can hold a GPU has its CPUs per GPU; nothing sets cpus_per_task (the plugin lets it win over
    cpus_per_gpu) or gpu (the rules derive it from compute.gpus and the backend registry)."""
    shipped = profile()
    assert "default-resources" not in shipped  # the site profile's key (account, ...): later profiles replace it
    resources = shipped["set-resources"]
    blocks = rule_blocks()
    remote = set(blocks) - local_rules()
    assert remote and set(resources) == remote, set(resources) ^ remote
    for rule, values in resources.items():
        assert isinstance(values["mem_mb"], int), rule
        runtimes = [eval(str(values["runtime"]), {"__builtins__": {}}, {"attempt": a}) for a in (1, 2, 3)]
        assert runtimes[0] > 0 and runtimes[1] == 2 * runtimes[0] and runtimes[2] == 3 * runtimes[0], rule
        assert "cpus_per_task" not in values and "gpu" not in values, rule
        assert ("cpus_per_gpu" in values) == ("gpu_resources(" in blocks[rule]), rule


def no_slurm_path(tmp_path: Path) -> str:
    """PATH of a machine without SLURM: the venv's bin and links to every other tool on PATH but SLURM's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not Path(folder).is_dir():
            continue
        for exe in Path(folder).iterdir():
            if exe.name not in SLURM_CLIENTS and not exe.name.startswith("slurm") and not (bin_dir / exe.name).exists():
                (bin_dir / exe.name).symlink_to(exe)
    return f"{Path(sys.executable).parent}{os.pathsep}{bin_dir}"


def test_cluster_command_plans_without_a_cluster(tmp_path):
    """The README's cluster command as a dry run, on a machine with no SLURM at all (no sinfo, no sbatch): it plans,
    and every job asks for what the profile and the rules say (gpu from compute.gpus, none for the motion and
    k-means backends)."""
    checkout = fresh_clone(tmp_path / "scenebias")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    env["PATH"] = no_slurm_path(tmp_path)
    assert shutil.which("sbatch", path=env["PATH"]) is None
    (checkout / "gpus.yaml").write_text(yaml.safe_dump({"compute": {"gpus": 2}}))
    for configs in ([SMOKE], [SMOKE, "gpus.yaml"]):
        cmd = [tool("snakemake"), "-n", "--profile", PROFILE, "--configfile", *configs]
        proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, env=env)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "This was a dry-run" in out, out[-3000:]
        config = yaml.safe_load((REPO / SMOKE).read_text())
        config["compute"] = {"gpus": 2 if "gpus.yaml" in configs else 0}
        jobs = planned_jobs(out)
        assert {job.rule for job in jobs} >= {"pretrain", "finetune", "bias_measures"}
        for job in jobs:
            if job.rule in local_rules():
                continue
            expected = profile()["set-resources"][job.rule]
            assert job.resources["mem_mb"] == str(expected["mem_mb"]), job
            assert job.resources["runtime"] == str(runtime(job.rule, 1)), job
            assert int(job.resources.get("gpu", 0)) == expected_gpus(job.rule, config), job


# ---------------------------------------------------------------------------------------------------------
# Output parsing: Snakemake's job blocks, the plugin's sbatch calls and submissions, scontrol's records.


@dataclass
class Job:
    jobid: int
    rule: str
    threads: int
    resources: dict
    local: bool  # Snakemake ran it on the submitting machine (`localrule X:` in a real run)


def planned_jobs(output: str) -> list[Job]:
    """The job blocks Snakemake prints (`rule X:` ... `jobid: N` ... `resources: a=1, b=2`), in order."""
    jobs = []
    pattern = r"^(localrule|rule|checkpoint) (\w+):\n((?:    .*\n)+)"
    for kind, rule, body in re.findall(pattern, output, flags=re.M):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, flags=re.M))
        if "jobid" not in fields:
            continue
        resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if "=" in item)
        jobs.append(Job(int(fields["jobid"]), rule, int(fields.get("threads", 1)), resources, kind == "localrule"))
    return jobs


def runtime(rule: str, attempt: int) -> int:
    """The profile's runtime expression for a rule, evaluated as Snakemake does, at one attempt."""
    return eval(str(profile()["set-resources"][rule]["runtime"]), {"__builtins__": {}}, {"attempt": attempt})


def sbatch_flags(call: str) -> dict[str, str]:
    """The options of one `sbatch` call (up to --wrap), as {option: value}; bare flags map to ''."""
    tokens = shlex.split(call.split(" --wrap=", 1)[0])
    flags, i = {}, 1
    while i < len(tokens):
        token = tokens[i]
        if "=" in token and token.startswith("--"):
            key, value = token.split("=", 1)
            flags[key] = value
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            flags[token] = tokens[i + 1]
            i += 1
        else:
            flags[token] = ""
        i += 1
    return flags


def scontrol_job(jobid: str, env: dict) -> dict[str, str]:
    proc = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return dict(item.split("=", 1) for item in proc.stdout.split() if "=" in item)


def slurm_minutes(limit: str) -> int:
    days, _, clock = limit.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def slurm_mb(size: str) -> int:
    """scontrol's memory (8000M, 62.50G) in MB."""
    return round(float(size[:-1]) * {"M": 1, "G": 1024, "T": 1024**2}[size[-1]])


@dataclass
class Submission:
    job: Job
    slurm_id: str
    log: Path
    attempt: int
    flags: dict[str, str]


@dataclass
class SlurmRun:
    checkout: Path
    output: str
    returncode: int
    submissions: list[Submission]
    cancelled: str  # the SLURM job id the test cancelled
    config: dict
    env: dict


def submissions_of(output: str) -> list[Submission]:
    """Each submission: Snakemake's job, its SLURM id and log, the attempt, and the options its sbatch call had
    (calls and submissions are matched by the log folder, one per job, in order)."""
    jobs = {job.jobid: job for job in planned_jobs(output)}
    calls: dict[str, list[str]] = {}
    for call in re.findall(r"sbatch call: (sbatch .*)$", output, flags=re.M):
        calls.setdefault(str(Path(sbatch_flags(call)["--output"]).parent), []).append(call)
    found, attempts = [], {}
    pattern = r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\."
    for jobid, slurm_id, log in re.findall(pattern, output):
        job = jobs[int(jobid)]
        attempts[job.jobid] = attempts.get(job.jobid, 0) + 1
        call = calls[str(Path(log).parent)][attempts[job.jobid] - 1]
        found.append(Submission(job, slurm_id, Path(log), attempts[job.jobid], sbatch_flags(call)))
    return found


# ---------------------------------------------------------------------------------------------------------
# The cluster and the one submission of the smoke workflow.


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


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> SlurmRun:
    """`snakemake --profile profiles/slurm --profile profiles/ci-slurm --configfile configs/smoke.yaml gpus.yaml
    --verbose` from a fresh clone's root; the first pretraining job is cancelled as soon as it is submitted."""
    checkout = fresh_clone(tmp_path_factory.mktemp("slurm_run") / "scenebias")
    (checkout / "gpus.yaml").write_text(yaml.safe_dump(OVERLAY))
    env = dict(os.environ, SLURM_CONF=str(cluster.conf))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    cmd = [tool("snakemake"), "--profile", PROFILE, "--profile", SITE, "--configfile", SMOKE, "gpus.yaml", "--verbose"]
    log_path = checkout.parent / "snakemake.out"
    cancelled = ""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=checkout, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.time() + 1500
        while proc.poll() is None and time.time() < deadline:
            if not cancelled:
                first = re.search(rf"SLURM jobid (\d+) \(log: \S+/rule_{CANCELLED_RULE}/", log_path.read_text())
                if first:
                    cancelled = first.group(1)
                    subprocess.run(["scancel", cancelled], check=True, env=env)
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    output = log_path.read_text()
    config = yaml.safe_load((REPO / SMOKE).read_text())
    for key, values in OVERLAY.items():
        config[key] = {**config.get(key, {}), **values}
    return SlurmRun(checkout, output, proc.returncode, submissions_of(output), cancelled, config, env)


def test_smoke_workflow_runs_through_slurm(slurm_run):
    """The run ends with the report; every job of a remote rule went through sbatch once (the cancelled job
    twice), with its own SLURM log in which the job's Snakemake ran that rule; local rules stayed local."""
    run = slurm_run
    output = run.output
    assert run.returncode == 0, output[-5000:]
    assert (run.checkout / "results" / "report" / "results.md").is_file()
    assert run.submissions, output[-3000:]
    assert len({s.slurm_id for s in run.submissions}) == len(run.submissions)
    for s in run.submissions:
        assert s.log.stem == s.slurm_id
        if s.slurm_id != run.cancelled:  # (cancelled while pending, a job has no log)
            assert re.search(rf"^(?:local)?(?:rule|checkpoint) {s.job.rule}:", s.log.read_text(), re.M), s
    jobs = {job.jobid: job for job in planned_jobs(output)}  # every job of the run (checkpoints: known late)
    local = {job.rule for job in jobs.values() if job.local}
    assert local and local <= local_rules()  # merges, sheets, report: on the submitting machine
    assert {job.rule for job in jobs.values() if not job.local} == {s.job.rule for s in run.submissions}
    # the smoke run submits every sized rule but those of the authors' releases and the agreement report
    not_in_smoke = {"prepare_backend", "human_boxes_agreement", "scene_labels_agreement"}
    assert set(profile()["set-resources"]) - not_in_smoke == {s.job.rule for s in run.submissions}
    remote_jobs = [job for job in jobs.values() if not job.local]
    assert len(run.submissions) == len(remote_jobs) + 1  # one per job, and the resubmission of the cancelled one
    assert f"{len(jobs)} of {len(jobs)} steps (100%) done" in output
    for s in run.submissions:
        state = scontrol_job(s.slurm_id, run.env)["JobState"]
        assert state == ("CANCELLED" if s.slurm_id == run.cancelled else "COMPLETED"), (s, state)


def expected_gpus(rule: str, config: dict) -> int:
    """GPUs a job of the rule should ask for: training compute.gpus; evaluation and bias measures one when the run
    has GPUs; a per-shard backend job one only if its registry record runs a network; everything else none."""
    gpus = config["compute"]["gpus"]
    if rule in ("pretrain", "finetune"):
        return gpus
    if rule == "bias_measures":
        return min(gpus, 1)
    section = {"human_boxes": "humans", "scene_labels": "scene"}.get(rule)
    if section:
        from scenebias.config import validate_config

        record = chosen_backend(validate_config(json.loads(json.dumps(config))), section)[1]
        return min(gpus, 1) if record.uses_network else 0
    return 0


def test_each_job_asks_slurm_for_what_its_rule_needs(slurm_run):
    """Per submission, the sbatch options and SLURM's record of the job: the partition the site profile's
    partition file gives (GPU jobs to the partition with GPUs, the rest to the one without), --gpus only where
    the rule's job runs a network (from the backend registry) or trains (compute.gpus), per-GPU CPUs for a GPU job
    and the rule's threads for any other, the profile's memory, and its runtime at the job's attempt."""
    run = slurm_run
    shipped = profile()["set-resources"]
    partitions = yaml.safe_load((REPO / SITE / "partitions.yaml").read_text())["partitions"]
    gpu_partitions = {name for name, limits in partitions.items() if limits.get("max_gpu", 0) > 0}
    cpu_partitions = set(partitions) - gpu_partitions
    seen = set()
    for s in run.submissions:
        rule, flags = s.job.rule, s.flags
        gpus = expected_gpus(rule, run.config)
        assert flags["-p"] in (gpu_partitions if gpus else cpu_partitions), s
        assert int(flags["-t"]) == runtime(rule, s.attempt), s
        assert int(flags["--mem"]) == shipped[rule]["mem_mb"], s
        if gpus:
            assert flags.get("--gpus") == str(gpus) and "--gres" not in flags, s
            assert flags["--cpus-per-gpu"] == str(shipped[rule]["cpus_per_gpu"]) and "--cpus-per-task" not in flags, s
        else:
            assert "--gpus" not in flags and "--gres" not in flags and "--cpus-per-gpu" not in flags, s
            assert flags["--cpus-per-task"] == str(s.job.threads), s
        assert "-A" not in flags  # the test cluster's site profile names no account
        record = scontrol_job(s.slurm_id, run.env)  # what SLURM made of it
        assert record["Partition"] == flags["-p"] and slurm_minutes(record["TimeLimit"]) == int(flags["-t"]), record
        assert record.get("TresPerJob", "") == (f"gres:gpu:{gpus}" if gpus else ""), record
        if gpus:
            assert record["CpusPerTres"] == f"gres:gpu:{shipped[rule]['cpus_per_gpu']}", record
        else:
            assert record["CPUs/Task"] == str(s.job.threads), record
        if s.slurm_id != run.cancelled:  # (a job cancelled while pending was never given its CPUs)
            assert int(record["NumCPUs"]) == (gpus * shipped[rule]["cpus_per_gpu"] if gpus else s.job.threads), record
        assert slurm_mb(record["MinMemoryNode"]) == shipped[rule]["mem_mb"], record
        seen.add((rule, bool(gpus)))
    # the run has both kinds: GPU jobs (training, bias measures) and CPU jobs (frames with two threads, motion
    # boxes, k-means labels), so both branches above were checked
    assert {("pretrain", True), ("bias_measures", True), ("human_boxes", False), ("scene_labels", False)} <= seen
    assert any(s.job.rule == "extract_frames" and s.flags["--cpus-per-task"] == "2" for s in run.submissions)


def test_a_cancelled_job_is_resubmitted_with_a_longer_runtime(slurm_run):
    """The first pretraining job, cancelled while SLURM had it, failed its attempt; Snakemake resubmitted the same
    job (restart-times in the profile) with the runtime of attempt 2, and that one completed."""
    run = slurm_run
    assert run.cancelled, "no pretraining job was submitted"
    first = next(s for s in run.submissions if s.slurm_id == run.cancelled)
    again = [s for s in run.submissions if s.job.jobid == first.job.jobid and s.slurm_id != run.cancelled]
    assert first.job.rule == CANCELLED_RULE and first.attempt == 1 and len(again) == 1, (first, again)
    assert again[0].attempt == 2 and int(again[0].flags["-t"]) == 2 * int(first.flags["-t"]), (first, again)
    assert scontrol_job(again[0].slurm_id, run.env)["JobState"] == "COMPLETED"
    assert f"Trying to restart job {first.job.jobid}" in run.output


def test_ddp_training_is_one_job_with_its_gpus_and_processes(slurm_run):
    """compute.gpus: 2: each training run is one SLURM job asking for two GPUs and their CPUs, and torchrun inside
    it ran two processes (gloo on this machine's CPUs): the run's metrics record a world size of 2."""
    run = slurm_run
    training = [s for s in run.submissions if s.job.rule in ("pretrain", "finetune") and s.slurm_id != run.cancelled]
    assert len(training) == len({s.job.jobid for s in training}) == 5  # 2 pretraining + 3 fine-tuning runs
    for s in training:
        assert s.flags["--gpus"] == "2", s
        assert "torchrun --standalone --nproc_per_node 2 " in s.log.read_text(), s.log
    metrics = sorted((run.checkout / "results").glob("*/*/*/seed0/metrics.json")) + sorted(
        (run.checkout / "results").glob("*/*/*/*/seed0/metrics.json")
    )
    assert len(metrics) == 5, metrics
    assert all(json.loads(m.read_text())["world_size"] == 2 for m in metrics), metrics
