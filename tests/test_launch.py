"""How the workflow launches jobs (scenebias.launch): each job's environment and the pretraining order; and
bench/demo_time.py's idle core-seconds, which measure that order."""

import sys
from datetime import datetime, timedelta

import pytest
import yaml

from conftest import REPO
from scenebias.config import validate_config
from scenebias.launch import ALLOCATOR_ENVIRONMENT, PRETRAIN_PRIORITY, job_environment, pretrain_priorities
from scenebias.runs import pretrain_settings

sys.path.insert(0, str(REPO / "bench"))
from demo_time import Job, finished_jobs, idle_core_seconds  # noqa: E402


def test_job_environment_keeps_what_the_user_set():
    assert job_environment({}) == ALLOCATOR_ENVIRONMENT
    mine = {"MALLOC_TRIM_THRESHOLD_": "0", "PATH": "/bin"}
    added = job_environment(mine)
    assert "MALLOC_TRIM_THRESHOLD_" not in added and set(added) == set(ALLOCATOR_ENVIRONMENT) - set(mine)


def priorities(config_file: str) -> dict[str, int]:
    config = validate_config(yaml.safe_load((REPO / config_file).read_text()))
    variants = config["pretrain"]["variants"]
    return pretrain_priorities(
        {v: pretrain_settings(config, v, 0) for v in variants}, {v: variants[v].get("init_from") for v in variants}
    )


def test_the_default_run_starts_its_longest_pretraining_first():
    """Mask-confusion variants run a second pass over the masked clips: they go first, sdn (also the scene head)
    before mask_conf, and every pretraining job before every other job (priority 0)."""
    p = priorities("config.yaml")
    assert p["sdn"] > p["mask_conf"] > p["scene_adv"] > p["baseline"] > PRETRAIN_PRIORITY


def test_a_staged_variant_inherits_the_length_of_the_chain_it_starts():
    """configs/paper.yaml stages baseline -> scene_adv -> sdn and baseline -> mask_conf: the baseline starts the
    longest chain, so it comes first although its own run is not the longest."""
    p = priorities("configs/paper.yaml")
    assert p["baseline"] > p["scene_adv"] > p["sdn"] and p["baseline"] > p["mask_conf"]


def test_idle_core_seconds_of_a_run_that_ends_on_one_core():
    t0 = datetime(2026, 12, 3, 12, 0, 0)
    at = lambda s: t0 + timedelta(seconds=s)  # noqa: E731
    jobs = [Job("a", at(0), at(10)), Job("b", at(0), at(4)), Job("c", at(4), at(6), threads=2)]
    # 0-4: a+b (2 busy); 4-6: a + c(2 threads) (capped at 2); 6-10: a alone -> 4 idle core-seconds, tail 4 s
    assert idle_core_seconds(jobs, at(0), at(10), cores=2) == (4.0, 4.0)


@pytest.mark.parametrize("threads_line, threads", [("", 1), ("    threads: 2\n", 2)])
def test_finished_jobs_reads_starts_ends_and_threads_from_the_log(threads_line, threads):
    log = (
        "[Thu Dec  3 12:00:00 2026]\nrule extract_frames:\n    jobid: 7\n" + threads_line + "    resources: x\n"
        "[Thu Dec  3 12:00:05 2026]\nFinished jobid: 7 (Rule: extract_frames)\n"
    )
    (job,), first, last = finished_jobs(log.splitlines())
    assert (job.rule, job.seconds, job.threads) == ("extract_frames", 5.0, threads)
    assert (last - first).total_seconds() == 5
