#!/usr/bin/env python
"""Where the time of a finished Snakemake run went: jobs and job-seconds per rule, from Snakemake's own log.

Each job's seconds run from the timestamp above its `rule X:` block to the one above `Finished jobid: N`
(one-second resolution). On a machine with C cores the wall time is at least job-seconds / C; the difference is
what the DAG's order left idle.

    python bench/demo_time.py                                  # the newest log in .snakemake/log/
    python bench/demo_time.py .snakemake/log/2026-...snakemake.log --markdown
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def job_seconds(lines: list[str]) -> tuple[dict[str, list[float]], float]:
    """Seconds of every finished job, per rule, and the wall time from the first stamp to the last."""
    started: dict[str, tuple[str, datetime]] = {}
    per_rule: dict[str, list[float]] = defaultdict(list)
    stamp = first = last = None
    pending_rule = None
    for line in lines:
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            first, last = first or stamp, stamp
        elif m := RULE.match(line):
            pending_rule = (m.group(1), stamp)
        elif (m := JOBID.match(line)) and pending_rule:
            started[m.group(1)] = pending_rule
            pending_rule = None
        elif m := FINISHED.match(line):
            rule, start = started.pop(m.group(1), (m.group(2), None))
            if start is not None:
                per_rule[rule].append((stamp - start).total_seconds())
    if first is None:
        raise SystemExit("no timestamps in the log: is it a Snakemake log?")
    return per_rule, (last - first).total_seconds()


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
    per_rule, wall = job_seconds(log.read_text().splitlines())
    total = sum(sum(v) for v in per_rule.values())
    rows = sorted(per_rule.items(), key=lambda kv: -sum(kv[1]))
    print(f"{log}: {sum(len(v) for v in per_rule.values())} jobs, {total:.0f} job-seconds, "
          f"wall {wall:.0f} s ({wall / 60:.1f} min); at {args.cores} cores the jobs alone need "
          f"{total / args.cores:.0f} s")  # fmt: skip
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
