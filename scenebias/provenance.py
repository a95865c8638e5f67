"""What a job's outputs were made with: the project's commit, the software and hardware, and the files it read.

`environment()` is recorded in every job's hparams.json (`scenebias.cli.write_hparams`, the one writer) and the
report shows the distinct environments of a run once, in its footer. It stays cheap, because every job pays for
it: nothing here imports torch. Versions come from the installed packages' metadata; CUDA, cuDNN and GPU names
from torch only when the job has imported torch already (a training or detector job), else from the CUDA wheel
metadata and `nvidia-smi`. The ffmpeg version and the sha256 of files (weights, released files: gigabytes) are
cached by path, size and modification time under `$SCENEBIAS_CACHE` (default `~/.cache/scenebias`), so a job
rehashes a file only when it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import scenebias
from scenebias.launch import ALLOCATOR_ENVIRONMENT

REPO = Path(__file__).resolve().parent.parent
CACHE_ENV = "SCENEBIAS_CACHE"
SNAKEMAKE_ENV = "SCENEBIAS_SNAKEMAKE_VERSION"  # set by the Snakefile: jobs run in envs without Snakemake
CODE_PATHS = ("scenebias", "scripts", "rules", "schemas", "configs", "envs", "profiles", "Snakefile")
PACKAGES = ("torch", "torchvision", "numpy", "opencv-python-headless", "scikit-learn", "detectron2")
CUDNN_WHEELS = ("nvidia-cudnn-cu13", "nvidia-cudnn-cu12", "nvidia-cudnn-cu11")


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "scenebias")


def _cached(kind: str, path: Path, compute) -> str:
    """compute(path) remembered under (kind, absolute path, size, mtime): a changed file is computed again. The
    cache is one small file per entry, written through a temporary name, so concurrent jobs never clash."""
    stat = path.stat()
    key = json.dumps([kind, str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    entry = cache_dir() / kind / f"{hashlib.sha1(key.encode()).hexdigest()}.json"
    try:
        record = json.loads(entry.read_text())
        if record.get("key") == key:
            return record["value"]
    except (OSError, ValueError):
        pass
    value = compute(path)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "value": value}))
        os.replace(tmp, entry)
    except OSError:  # a read-only home: the value is still right, only not remembered
        pass
    return value


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in 4 MiB blocks (uncached: file_sha256 remembers it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path | str) -> str:
    """The sha256 of a file, from the cache when the file is unchanged since it was last hashed."""
    return _cached("sha256", Path(path), sha256_of)


def file_record(path: Path | str) -> dict:
    """{path, bytes, sha256} of a file, or of every file in a folder (sorted), for hparams.json."""
    path = Path(path)
    if path.is_dir():
        return {"path": str(path), "files": [file_record(p) for p in sorted(path.rglob("*")) if p.is_file()]}
    if not path.is_file():
        return {"path": str(path), "error": "not a file"}
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(repo: Path = REPO) -> dict:
    """The checkout's commit and whether its code differs from it: tracked files changed anywhere, or untracked
    files in the code folders (data and resources placed inside the checkout do not count)."""
    commit = _run(["git", "rev-parse", "HEAD"], repo)
    if commit is None:
        return {"commit": None, "dirty": None, "note": f"{repo} is not a git checkout (or git is not installed)"}
    status = _run(["git", "status", "--porcelain", "--untracked-files=normal"], repo) or ""
    changed = []
    for line in status.splitlines():
        name = line[3:].strip().strip('"')
        if not line.startswith("??") or name.split("/", 1)[0] in CODE_PATHS:
            changed.append(name)
    return {"commit": commit.strip(), "dirty": bool(changed), "changed": changed[:20]}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def ffmpeg_record() -> dict:
    from scenebias.media import FFmpegNotFound, ffmpeg_exe, ffmpeg_version

    try:
        exe = Path(ffmpeg_exe())
    except FFmpegNotFound as exc:
        return {"path": None, "version": None, "note": str(exc)}
    return {"path": str(exe), "version": _cached("ffmpeg_version", exe, lambda p: ffmpeg_version(str(p)))}


def torch_build_cuda() -> str | None:
    """The CUDA version torch was built with, read from its version.py without importing torch."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    try:
        text = Path(spec.origin).with_name("version.py").read_text()
    except OSError:
        return None
    match = re.search(r"^cuda\b[^=]*=\s*['\"]([^'\"]+)['\"]", text, flags=re.M)
    return match.group(1) if match else None


def accelerator_record() -> dict:
    """CUDA, cuDNN and GPUs. From torch when this process imported it (what the job actually used), else from the
    installed CUDA wheels and nvidia-smi (the machine's GPUs)."""
    torch = sys.modules.get("torch")
    record = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    if torch is not None:
        record["cuda"] = torch.version.cuda
        try:
            number = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
            record["cudnn"] = f"{number // 10000}.{number % 10000 // 100}.{number % 100}" if number else None
        except Exception as exc:  # a broken cuDNN install: say so rather than fail the job's record
            record["cudnn"] = f"unavailable: {exc}"
        available = torch.cuda.is_available()
        record["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if available else []
        record["source"] = "torch (imported by the job)"
        return record
    record["cuda"] = torch_build_cuda()
    wheel = next((v for v in map(_version, CUDNN_WHEELS) if v), None)
    record["cudnn"] = ".".join(wheel.split(".")[:3]) if wheel else None  # major.minor.patch, as torch gives it
    smi = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    record["gpus"] = [line.strip() for line in smi.splitlines() if line.strip()] if smi else []
    record["source"] = "package metadata and nvidia-smi (the job did not import torch)"
    return record


def environment() -> dict:
    """What every job records: project, commit, Python, packages, CUDA/cuDNN/GPUs, ffmpeg, Snakemake, host."""
    return {
        "scenebias": scenebias.__version__,
        "git": git_state(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "packages": {name: _version(name) for name in PACKAGES},
        "accelerator": accelerator_record(),
        "ffmpeg": ffmpeg_record(),
        "snakemake": os.environ.get(SNAKEMAKE_ENV) or _version("snakemake"),
        # what the workflow sets for every job (scenebias.launch); null where a job did not get it
        "allocator": {key: os.environ.get(key) for key in ALLOCATOR_ENVIRONMENT},
        "host": platform.node(),
        "platform": platform.platform(),
    }


def summary_key(env: dict) -> tuple:
    """The parts of an environment that make results differ (not the host or the executable's path)."""
    accel = env.get("accelerator", {})
    return (
        (env.get("git") or {}).get("commit"),
        (env.get("git") or {}).get("dirty"),
        env.get("python"),
        tuple(sorted((env.get("packages") or {}).items(), key=str)),
        accel.get("cuda"),
        str(accel.get("cudnn")),
        tuple(accel.get("gpus") or ()),
        (env.get("ffmpeg") or {}).get("version"),
        env.get("snakemake"),
    )


def job_records(results: Path | str) -> list[tuple[Path, dict]]:
    """Every job's hparams record under a results folder (resumable checkpoints left out)."""
    results = Path(results)
    found = []
    for path in sorted({*results.rglob("hparams.json"), *results.rglob("*.hparams.json")}):
        if "checkpoints" in path.relative_to(results).parts[:1]:
            continue
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return found


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def environments_markdown(results: Path | str) -> str:
    """The report's footer: the distinct environments the run's jobs ran in (usually one), with how many jobs each,
    and every file the jobs recorded as deciding their results, with its sha256."""
    groups: dict[tuple, list] = {}
    files: dict[tuple[str, str], set[str]] = {}
    for _path, record in job_records(results):
        env = record.get("environment")
        if not isinstance(env, dict):
            continue
        groups.setdefault(summary_key(env), []).append(env)
        for name, entry in (record.get("files") or {}).items():
            for item in entry.get("files", [entry]):
                if item.get("sha256"):
                    files.setdefault((item["path"], item["sha256"]), set()).add(name)
    if not groups:
        return "No job records (hparams.json) found."
    rows = ["| jobs | commit | python | torch / torchvision | CUDA / cuDNN | GPUs | ffmpeg | Snakemake |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for envs in sorted(groups.values(), key=len, reverse=True):
        env = envs[0]
        git, packages, accel = env.get("git") or {}, env.get("packages") or {}, env.get("accelerator") or {}
        commit = (git.get("commit") or "unknown")[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
        rows.append(
            f"| {len(envs)} | {_cell(commit)} | {env.get('python')} "
            f"| {packages.get('torch')} / {packages.get('torchvision')} "
            f"| {accel.get('cuda') or '–'} / {accel.get('cudnn') or '–'} "
            f"| {_cell(', '.join(accel.get('gpus') or []) or 'none')} "
            f"| {_cell((env.get('ffmpeg') or {}).get('version') or '–')} | {env.get('snakemake') or '–'} |"
        )
    parts = ["\n".join(rows)]
    if files:
        lines = ["| file | sha256 | read as |", "|---|---|---|"]
        lines += [f"| `{_cell(p)}` | `{h}` | {', '.join(sorted(n))} |" for (p, h), n in sorted(files.items())]
        parts.append("Files that decide results (weights, released files, initialisations):\n\n" + "\n".join(lines))
    return "\n\n".join(parts)
