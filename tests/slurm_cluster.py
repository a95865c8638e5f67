"""A real single-node SLURM for the tests: configuration for this host, munged + slurmctld + slurmd, teardown.

Only daemons this helper started are stopped again. Needs root and the Debian packages slurm-wlm and munge
(.ci/run installs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def missing_prerequisites() -> list[str]:
    missing = [name for name in (*DAEMONS, "sinfo", "sbatch", "squeue") if shutil.which(name) is None]
    if os.geteuid() != 0:
        missing.append("root (to start munged/slurmd)")
    return missing


def running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def node_memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    return max(1000, total_kb // 1024 - 2048)  # leave the OS some room


def slurm_conf(state: Path, host: str, cpus: int, memory_mb: int) -> str:
    return f"""\
ClusterName=scenebias-ci
SlurmctldHost={host}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=600
InactiveLimit=0
KillWait=5
NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class SingleNodeSlurm:
    """The configuration goes to /etc/slurm/slurm.conf (an existing one is put back afterwards): `srun` inside a
    job step looks only there (or in DNS), not at the SLURM_CONF of the submitting shell."""

    def __init__(self, state: Path, conf: Path = SYSTEM_CONF):
        self.state = state
        self.conf = conf
        self.backup = state / "slurm.conf.before"
        self.started: list[str] = []
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    def start(self, timeout: float = 60) -> None:
        host = socket.gethostname().split(".")[0]
        for sub in ("ctld", "slurmd"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        if self.conf.exists():
            shutil.copy2(self.conf, self.backup)
        self.conf.write_text(slurm_conf(self.state, host, os.cpu_count() or 1, node_memory_mb()))
        if not running("munged"):
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            subprocess.run(["munged", "--force"], check=True, env=self.env)
            self.started.append("munged")
        if not running("slurmctld"):
            subprocess.run(["slurmctld", "-f", str(self.conf)], check=True, env=self.env)
            self.started.append("slurmctld")
        if not running("slurmd"):
            subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=self.env)
            self.started.append("slurmd")
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            state = proc.stdout.strip()
            if state in ("idle", "mixed"):
                return
            time.sleep(1)
        logs = "".join(
            f"\n--- {name}\n" + (self.state / name).read_text()[-2000:]
            for name in ("slurmctld.log", "slurmd.log")
            if (self.state / name).exists()
        )
        raise RuntimeError(f"SLURM node not idle after {timeout:.0f} s (sinfo: {state!r}){logs}")

    def stop(self) -> None:
        for name in reversed(self.started):
            subprocess.run(["pkill", "-x", name], capture_output=True)
        deadline = time.time() + 20
        while any(running(n) for n in self.started) and time.time() < deadline:
            time.sleep(0.5)
        for name in self.started:
            if running(name):
                subprocess.run(["pkill", f"-{signal.SIGKILL.value}", "-x", name], capture_output=True)
        self.started.clear()
        if self.backup.exists():
            shutil.copy2(self.backup, self.conf)
        else:
            self.conf.unlink(missing_ok=True)
