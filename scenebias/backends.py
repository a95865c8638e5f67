"""What the workflow needs to know of a backend: one record per backend, kept in its stage's registry.

The per-shard stages with interchangeable backends each keep a registry, name -> record: human boxes in
`scenebias.humans.stage.BOX_BACKENDS`, scene labels in `scenebias.scene.LABELLERS`. A record says which files the
job reads and where each comes from, whether the backend runs a network (the job then holds a GPU), which conda
env runs it, and which of its settings name a dataset of the run. The workflow (`rules/common.smk`:
`backend_inputs`, `backend_downloads`) and the config check (`scenebias.config`) loop over these records, so no
backend name is written anywhere else; docs/design.md §3 has the recipe for adding one.

The file sources, each turned into a job input by the workflow:

    ShardFrames("index" | "packs")   the shard's frame index.csv or its packs folder
    Weights(download)                the settings' `weights` (a local file), else the download of their `url`
                                     (pinned `sha256`) saved as resources/downloads/<download>; a backend with
                                     no download name treats missing weights as "use my own default"
    SettingFile(key)                 an optional file named by the settings' `key` (a local path or download:NAME)
    SettingFiles(key, patterns)      the files the settings' `key` names: a list of files, or a folder whose files
                                     matching `patterns` are taken (sorted); required, checked before any job
    WorldFile(file)                  a file of the synthetic world's ground truth (rendered datasets only)
    StageOutput(layout)              another stage's output for the same dataset and shard (scenebias.paths)
    Prepared()                       the folder the backend's `prepare` step made, once per run, from its own
                                     sources (e.g. large released files read once into an indexed store)

A backend that covers only some videos (its finder or labeller answers `Uncovered(reason)` for the others) names
in `delegate_key` the setting that chooses what happens to them: `skip` leaves them out (recorded per video), a
backend name of the same section computes them in the same job (its files become the job's inputs too; on a name
both records use, the chosen backend's file serves both). `dataset_kinds` lists the dataset kinds such a backend can
cover at all, so that the config check refuses `skip` when a dataset of another kind would get nothing.
`output_space` says what its outputs are (e.g. Places365 classes): a delegate, or the backend an agreement report
compares against (`<section>.agreement`), must give the same.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ShardFrames:
    part: str  # "index" or "packs"
    help: str = "the shard's frame index.csv or packs folder"


@dataclass(frozen=True)
class Weights:
    download: str | None  # file name template over the settings (e.g. "torchvision_{model}.pth"); None: optional
    help: str = "weights file"

    @property
    def required(self) -> bool:
        return self.download is not None

    def download_name(self, settings: dict) -> str:
        return self.download.format(**settings)


@dataclass(frozen=True)
class SettingFile:
    key: str
    help: str = "a file the backend's settings name"


@dataclass(frozen=True)
class SettingFiles:
    key: str
    patterns: tuple[str, ...]  # when the setting names a folder: its files matching any of these (glob, sorted)
    help: str = "files the backend's settings name"


@dataclass(frozen=True)
class Prepared:
    help: str = "the backend's prepared folder (its prepare step)"


@dataclass(frozen=True)
class WorldFile:
    file: str  # a name of scenebias.paths.WORLD_FILES
    help: str = "a file of the synthetic world's ground truth"


@dataclass(frozen=True)
class StageOutput:
    layout: str  # a name of scenebias.paths.LAYOUT (fields ds and shard are filled from the job's)
    help: str = "an output of another stage"


FileSource = ShardFrames | Weights | SettingFile | SettingFiles | WorldFile | StageOutput | Prepared


@dataclass(frozen=True)
class Preparation:
    """A step run once per run before the backend's per-shard jobs: `run(files, settings, out)` reads the files its
    sources name (name -> path, or list of paths for SettingFiles) and writes the folder `out`, which the per-shard
    jobs receive through their `Prepared()` source; it returns a report (JSON) kept in that folder."""

    files: dict[str, FileSource]
    run: Callable[[dict, dict, Path], dict]


@dataclass(frozen=True)
class Uncovered:
    """A finder's or labeller's answer for a video it has nothing for (not in a released file, ...)."""

    reason: str


@dataclass(frozen=True)
class BackendRecord:
    """The workflow's side of a backend (the stage's own record adds the function that does the work).

    files: input name -> source, in the order the job passes them (`--<name> <file>` on the script's command line).
    uses_network: the job holds one GPU when the run has any (compute.gpus > 0).
    env: the conda env that runs it, envs/<env>.yaml (with --sdm conda).
    dataset_keys: settings keys whose value must name a dataset of the run.
    prepare: a step run once per run whose folder the jobs read (Preparation), or None.
    delegate_key, dataset_kinds, output_space: see the module's docstring.
    """

    files: dict[str, FileSource] = field(default_factory=dict)
    uses_network: bool = False
    env: str = "torch"
    dataset_keys: tuple[str, ...] = ()
    prepare: Preparation | None = None
    delegate_key: str | None = None
    dataset_kinds: tuple[str, ...] | None = None
    output_space: str = ""

    @property
    def weights(self) -> Weights | None:
        found = [source for source in self.files.values() if isinstance(source, Weights)]
        return found[0] if found else None

    @property
    def needs_world(self) -> bool:
        """Whether the backend reads the synthetic world's truth (so it works on rendered datasets only)."""
        return any(isinstance(source, WorldFile) for source in self.files.values())


def file_flags(registry: dict[str, BackendRecord]) -> dict[str, str]:
    """Every file input any backend of a registry takes, name -> help (naming the backends): a stage script's
    `--<name>` options, so the script and the registry cannot disagree."""
    flags: dict[str, list[str]] = {}
    helps: dict[str, str] = {}
    for backend, record in registry.items():
        for name, source in record.files.items():
            flags.setdefault(name, []).append(backend)
            helps.setdefault(name, source.help)
    return {name: f"{helps[name]} ({', '.join(backends)})" for name, backends in flags.items()}


def is_required(source: FileSource) -> bool:
    """Whether a job of the backend cannot run without this input (optional: unconfigured weights with no
    download, a setting's file)."""
    if isinstance(source, Weights):
        return source.required
    return not isinstance(source, SettingFile)


SKIP = "skip"  # the delegate setting's value that leaves uncovered videos out


def delegate_name(record: BackendRecord, settings: dict) -> str | None:
    """The backend that computes what this one does not cover, or None (no delegate setting, or `skip`)."""
    if record.delegate_key is None:
        return None
    value = settings.get(record.delegate_key, SKIP)
    return None if value in (None, SKIP) else value


def setting_files(value, patterns: tuple[str, ...]) -> list[str]:
    """The files a SettingFiles setting names: a list of files (or one), or a folder's files matching `patterns`.
    ValueError with what is wrong (the caller adds the config key)."""
    if isinstance(value, str) and Path(value).is_dir():
        found = sorted({f for pattern in patterns for f in glob.glob(str(Path(value) / pattern))})
        if not found:
            raise ValueError(f"the folder {value} holds no file matching {' or '.join(patterns)}")
        return found
    files = [value] if isinstance(value, str) else list(value or [])
    if not files:
        raise ValueError("no file given: name a folder, or list the files")
    absent = [f for f in files if not Path(f).is_file()]
    if absent:
        raise ValueError(f"{', '.join(absent)}: no such file (nor folder)")
    return files


def recorded_files(record: BackendRecord, files: dict) -> dict:
    """The job's file inputs that decide its result and whose sha256 its hparams.json records: weights and the
    files the settings name (not the frames or other stages' outputs, which are the run's own)."""
    kinds = (Weights, SettingFile, SettingFiles)
    return {name: files[name] for name, source in record.files.items() if isinstance(source, kinds) and name in files}


def missing_inputs(record: BackendRecord, files: dict) -> list[str]:
    """The `--<name>` flags of the record's required inputs that a job was not given."""
    return [f"--{name}" for name, source in record.files.items() if name not in files and is_required(source)]


def offline_backends(registry: dict[str, BackendRecord]) -> list[str]:
    """The backends that need neither a network nor the synthetic world's truth (they run anywhere, offline)."""
    return [name for name, record in registry.items() if not record.uses_network and not record.needs_world]
