"""The config checks of the backend sections (humans, scene), over their registry records only (no backend is
named here, as in scenebias.config): what each backend in use needs — the chosen one, the one it hands uncovered
videos to (its delegate setting) and the one an agreement report compares against (`<section>.agreement`)."""

from __future__ import annotations

from pathlib import Path

from scenebias.backends import SKIP, SettingFiles, offline_backends, setting_files
from scenebias.registry import (
    BACKENDS,
    agreement_backend,
    agreement_datasets,
    agreement_kinds,
    backend_settings,
    chosen_backend,
    dataset_kind,
    delegate_backend,
)


def backends_in_use(config: dict, section: str) -> list[tuple[str, str]]:
    """(key that chose it, backend name) of every backend the run uses in a section."""
    name, record, settings = chosen_backend(config, section)
    used = [(f"{section}.backend", name)]
    if delegate_backend(config, section):
        used.append((f"{section}.{name}.{record.delegate_key}", delegate_backend(config, section)))
    if agreement_backend(config, section):
        used.append((f"{section}.agreement", agreement_backend(config, section)))
    return used


def records_in_use(config: dict):
    """(section, name, registry record, settings) of every backend the run uses, section by section."""
    for section in BACKENDS:
        for _, name in backends_in_use(config, section):
            yield section, name, BACKENDS[section][name], backend_settings(config, section, name)


def _check_one(config: dict, section: str, name: str, chosen_by: str) -> None:
    """What one backend needs: its weights (a local file, or url + sha256), rendered datasets when it reads the
    world's truth, datasets of the run where its settings name one, and the files its settings must name."""
    record, settings = BACKENDS[section][name], backend_settings(config, section, name)
    weights = record.weights
    if (
        weights is not None
        and weights.required
        and not settings["weights"]
        and not (settings["url"] and settings["sha256"])
    ):
        offline = offline_backends(BACKENDS[section])
        raise_error(
            f"config key '{section}.{name}': the {name} backend needs weights: set {section}.{name}.weights to a "
            f"local file, or url together with sha256 to download it; offline alternative: "
            f"{section}.backend: {' or '.join(offline)}"
        )
    if record.needs_world:
        not_rendered = [d for d, spec in config["datasets"].items() if not dataset_kind(spec).rendered]
        if not_rendered:
            raise_error(
                f"config key '{chosen_by}': {name} reads the rendered world's ground truth, which only rendered "
                f"datasets have, not {not_rendered}"
            )
    for key in record.dataset_keys:
        if settings[key] not in config["datasets"]:
            raise_error(f"config key '{section}.{name}.{key}': dataset {settings[key]!r} is not in datasets")
    for source in setting_sources(record):
        if not settings.get(source.key):
            raise_error(
                f"config key '{section}.{name}.{source.key}': the {name} backend reads {source.help}: name their "
                f"folder (or list the files); README: Reproducing the paper"
            )


def setting_sources(record) -> list[SettingFiles]:
    """The SettingFiles sources of a record, its preparation's included."""
    sources = list(record.files.values()) + (list(record.prepare.files.values()) if record.prepare else [])
    return [s for s in sources if isinstance(s, SettingFiles)]


def _other_backend(config: dict, section: str, key: str, other: str) -> None:
    """A delegate or agreement backend: of the section, not the chosen one, giving outputs of the same kind."""
    name, record, _ = chosen_backend(config, section)
    registry = BACKENDS[section]
    if other not in registry:
        raise_error(f"config key '{key}': {other!r} is not a {section} backend; choose one of {sorted(registry)}")
    if other == name:
        raise_error(f"config key '{key}': {other!r} is the chosen {section}.backend itself; choose another backend")
    if registry[other].output_space != record.output_space:
        raise_error(
            f"config key '{key}': {other} gives {registry[other].output_space or 'other outputs'}, {name} gives "
            f"{record.output_space or 'other outputs'}: their outputs cannot be merged or compared"
        )


def check_backends(config: dict) -> None:
    """Every backend section's backends in use, and how they combine."""
    for section in BACKENDS:
        name, record, settings = chosen_backend(config, section)
        delegate_key = f"{section}.{name}.{record.delegate_key}"
        if record.delegate_key is not None and settings[record.delegate_key] != SKIP:
            _other_backend(config, section, delegate_key, settings[record.delegate_key])
        agreement = agreement_backend(config, section)
        if agreement is not None:
            _other_backend(config, section, f"{section}.agreement", agreement)
        for chosen_by, used in backends_in_use(config, section):
            _check_one(config, section, used, chosen_by)
        if record.delegate_key is not None and settings[record.delegate_key] == SKIP and record.dataset_kinds:
            uncovered = [d for d, spec in config["datasets"].items() if spec["kind"] not in record.dataset_kinds]
            if uncovered:
                raise_error(
                    f"config key '{delegate_key}': {SKIP} would leave every video of {uncovered} without {section} "
                    f"outputs ({name} covers datasets of kind {', '.join(record.dataset_kinds)} only); name a "
                    f"backend to compute them: one of {', '.join(n for n in BACKENDS[section] if n != name)}"
                )
        if agreement is not None:
            if not agreement_datasets(config, section):
                raise_error(
                    f"config key '{section}.agreement': {name} and {agreement} both cover no dataset of this run "
                    f"(kinds {', '.join(agreement_kinds(config, section))})"
                )


def check_backend_files_on_disk(config: dict, base: Path | str = ".") -> None:
    """The files the backends in use read that their settings name as a folder or a list (released files)."""
    for section, name, record, settings in records_in_use(config):
        for source in setting_sources(record):
            try:
                setting_files(resolve(settings[source.key], base), source.patterns)
            except ValueError as exc:
                raise_error(f"config key '{section}.{name}.{source.key}': {exc}")


def resolve(value, base: Path | str):
    """A setting's path(s) relative to `base` (the run's working directory) unless absolute."""
    if isinstance(value, str):
        return str(Path(base, value))
    return [str(Path(base, v)) for v in value]


class ConfigError(ValueError):
    """A config problem, with a message that names the offending key (scenebias.config re-exports it)."""


def raise_error(message: str) -> None:
    raise ConfigError(message)
