#!/usr/bin/env python
"""Where the time of a finished Snakemake run went: jobs and job-seconds per rule, and the idle core-seconds, from
Snakemake's own log.

Each job's seconds run from the timestamp above its `rule X:` block to the one above `Finished jobid: N`
(one-second resolution). On a machine with C cores the wall time is at least job-seconds / C; the difference is
what the DAG's order left idle: the idle core-seconds are C x wall minus the core-seconds of the jobs (each job
holding its `threads`), counted second by second, and the tail is how long the run ended with fewer busy cores
than it had.

    python bench/demo_time.py                                  # the newest log in .snakemake/log/
    python bench/demo_time.py .snakemake/log/2026-...snakemake.log --markdown
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
THREADS = re.compile(r"^\s+threads: (\d+)$")


@dataclass
class Job:
    rule: str
    start: datetime
    end: datetime
    threads: int = 1

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def finished_jobs(lines: list[str]) -> tuple[list[Job], datetime, datetime]:
    """Every finished job with its start, end and threads, and the first and last timestamps of the log."""
    started: dict[str, Job] = {}
    jobs: list[Job] = []
    stamp = first = last = None
    pending: Job | None = None
    for line in lines:
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            first, last = first or stamp, stamp
        elif m := RULE.match(line):
            pending = Job(m.group(1), stamp, stamp)
        elif pending and (m := THREADS.match(line)):
            pending.threads = int(m.group(1))
        elif (m := JOBID.match(line)) and pending:
            started[m.group(1)] = pending
        elif m := FINISHED.match(line):
            job = started.pop(m.group(1), None)
            if job is not None and job.start is not None:
                job.end = stamp
                jobs.append(job)
    if first is None:
        raise SystemExit("no timestamps in the log: is it a Snakemake log?")
    return jobs, first, last


def job_seconds(lines: list[str]) -> tuple[dict[str, list[float]], float]:
    """Seconds of every finished job, per rule, and the wall time from the first stamp to the last."""
    jobs, first, last = finished_jobs(lines)
    per_rule: dict[str, list[float]] = defaultdict(list)
    for job in jobs:
        per_rule[job.rule].append(job.seconds)
    return per_rule, (last - first).total_seconds()


def idle_core_seconds(jobs: list[Job], first: datetime, last: datetime, cores: int) -> tuple[float, float]:
    """(idle core-seconds over the run, length of its tail in seconds: from the last moment all cores were busy to
    the end), second by second (the log's resolution). A job holds min(threads, cores) cores."""
    seconds = int((last - first).total_seconds())
    busy = [0] * (seconds + 1)
    for job in jobs:
        a, b = int((job.start - first).total_seconds()), int((job.end - first).total_seconds())
        for t in range(a, b):
            busy[t] += min(job.threads, cores)
    idle = sum(max(0, cores - b) for b in busy[:seconds])
    full = [t for t in range(seconds) if busy[t] >= cores]
    tail = seconds - (full[-1] + 1) if full else seconds
    return float(idle), float(tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", nargs="?", type=Path, help="a .snakemake/log/*.snakemake.log (default: the newest)")
    parser.add_argument("--cores", type=int, default=2, help="cores the run had (for the idle estimate)")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args()
    log = args.log
    if log is None:
        logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
        if not logs:
            sys.exit("no .snakemake/log/*.snakemake.log here: run from the folder Snakemake ran in, or name the log")
        log = logs[-1]
    lines = log.read_text().splitlines()
    per_rule, wall = job_seconds(lines)
    idle, tail = idle_core_seconds(*finished_jobs(lines), args.cores)
    total = sum(sum(v) for v in per_rule.values())
    rows = sorted(per_rule.items(), key=lambda kv: -sum(kv[1]))
    print(f"{log}: {sum(len(v) for v in per_rule.values())} jobs, {total:.0f} job-seconds, "
          f"wall {wall:.0f} s ({wall / 60:.1f} min); at {args.cores} cores the jobs alone need "
          f"{total / args.cores:.0f} s; idle core-seconds {idle:.0f} ({idle / (args.cores * wall):.0%} of "
          f"{args.cores} x wall), the last {tail:.0f} s with fewer than {args.cores} cores busy")  # fmt: skip
    if args.markdown:
        print("\n| rule | jobs | job-seconds | share | per job (min–max) |\n|---|---|---|---|---|")
    for rule, secs in rows:
        share = sum(secs) / total if total else 0.0
        if args.markdown:
            print(f"| {rule} | {len(secs)} | {sum(secs):.0f} | {share:.0%} | {min(secs):.0f}–{max(secs):.0f} s |")
        else:
            print(
                f"{rule:22s} {len(secs):4d} jobs {sum(secs):7.0f} s {share:5.0%}  ({min(secs):.0f}–{max(secs):.0f} s)"
            )


if __name__ == "__main__":
    main()
