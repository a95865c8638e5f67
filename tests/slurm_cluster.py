"""A real single-node SLURM for the tests: configuration for this host, munged + slurmctld + slurmd, teardown.

The node is described as a GPU node (NODE: cores, memory and GPUs the shipped profile's requests need, more than
this machine has): `SlurmdParameters=config_overrides` makes slurmd take the description as given, and the GPUs
are a generic resource with a count and no device files, so SLURM schedules, accounts and exports `--gpus`
requests exactly as on a cluster while the jobs run on this machine's CPUs (nothing enforces cores or memory:
task/none, no cgroups). Two partitions on the node, `cpu` (the default) and `gpu`, stand in for a site's
partitions; profiles/ci-slurm/partitions.yaml describes them to the SLURM executor plugin.

Only daemons this helper started are stopped again. Needs root and the Debian packages slurm-wlm and munge
(.ci/run installs them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
NODE = {"cpus": 64, "memory_mb": 512_000, "gpus": 4}  # a typical 4-GPU node
PARTITIONS = {"cpu": 0, "gpu": NODE["gpus"]}  # name -> GPUs reachable through it (both on the one node)


def missing_prerequisites() -> list[str]:
    missing = [name for name in (*DAEMONS, "sinfo", "sbatch", "squeue") if shutil.which(name) is None]
    if os.geteuid() != 0:
        missing.append("root (to start munged/slurmd)")
    return missing


def running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def slurm_conf(state: Path, host: str) -> str:
    partitions = "".join(
        f"PartitionName={name} Nodes=ALL Default={'YES' if name == 'cpu' else 'NO'} MaxTime=INFINITE State=UP\n"
        for name in PARTITIONS
    )
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
SlurmdParameters=config_overrides
GresTypes=gpu
MinJobAge=7200
InactiveLimit=0
KillWait=5
NodeName={host} CPUs={NODE["cpus"]} RealMemory={NODE["memory_mb"]} Gres=gpu:{NODE["gpus"]} State=UNKNOWN
{partitions}"""


def gres_conf(host: str, state: Path) -> str:
    """The node's GPUs: slurmd counts a GPU per file (with no file it counts none); plain files under the state
    folder stand in for /dev/nvidia* (slurmd logs that they are no devices, and counts them)."""
    return f"NodeName={host} Name=gpu File={state}/gpu[0-{NODE['gpus'] - 1}]\n"


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class SingleNodeSlurm:
    """The configuration goes to /etc/slurm/slurm.conf and gres.conf (existing ones are put back afterwards): `srun`
    inside a job step looks only there (or in DNS), not at the SLURM_CONF of the submitting shell. Daemons already
    running are used as they are; those started here are stopped by the process ids in their pid files."""

    def __init__(self, state: Path, conf: Path = SYSTEM_CONF):
        self.state = state
        self.conf = conf
        self.files = {conf: state / "slurm.conf.before", conf.with_name("gres.conf"): state / "gres.conf.before"}
        self.started: dict[str, Path] = {}  # daemon -> its pid file
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    def start(self, timeout: float = 60) -> None:
        host = socket.gethostname().split(".")[0]
        for sub in ("ctld", "slurmd"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        for path, backup in self.files.items():
            if path.exists():
                shutil.copy2(path, backup)
        self.conf.write_text(slurm_conf(self.state, host))
        for index in range(NODE["gpus"]):
            (self.state / f"gpu{index}").touch()
        self.conf.with_name("gres.conf").write_text(gres_conf(host, self.state))
        if not running("munged"):
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            pid_file = self.state / "munged.pid"
            subprocess.run(["munged", "--force", f"--pid-file={pid_file}"], check=True, env=self.env)
            self.started["munged"] = pid_file
        for daemon in ("slurmctld", "slurmd"):
            if not running(daemon):
                subprocess.run([daemon, "-f", str(self.conf)], check=True, env=self.env)
                self.started[daemon] = self.state / f"{daemon}.pid"
        self.wait_idle(timeout)

    def wait_idle(self, timeout: float) -> None:
        deadline = time.time() + timeout
        states: set[str] = set()
        while time.time() < deadline:
            proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            states = set(proc.stdout.split())  # one line per partition
            if states and states <= {"idle", "mixed"}:
                return
            time.sleep(1)
        logs = "".join(
            f"\n--- {name}\n" + (self.state / name).read_text()[-2000:]
            for name in ("slurmctld.log", "slurmd.log")
            if (self.state / name).exists()
        )
        raise RuntimeError(f"SLURM node not idle after {timeout:.0f} s (sinfo: {sorted(states)}){logs}")

    def stop(self) -> None:
        pids = {}
        for name, pid_file in reversed(self.started.items()):
            with contextlib.suppress(OSError, ValueError):
                pids[name] = int(pid_file.read_text().split()[0])
                os.kill(pids[name], signal.SIGTERM)
        deadline = time.time() + 20
        while any(alive(pid) for pid in pids.values()) and time.time() < deadline:
            time.sleep(0.5)
        for pid in pids.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.started.clear()
        for path, backup in self.files.items():
            if backup.exists():
                shutil.copy2(backup, path)
            else:
                path.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
