"""The registries the config chooses from, by the config key that chooses.

`BACKENDS` maps a config section with interchangeable backends to its registry (the section's `backend` key picks
one record; the record's own settings are the section's key of the same name). `DATASET_KINDS` holds the dataset
kinds (`datasets.<name>.kind`). The workflow (rules/common.smk) and the config check (scenebias.config) read these
records instead of naming any backend or kind; the schema's enums list the same names (tests/test_structure.py).
The networks (`model.name`) have their registry in scenebias.models, which imports torch and so stays out of here
(planning a run must not import torch).
"""

from __future__ import annotations

from scenebias.backends import BackendRecord, delegate_name
from scenebias.datasets import DATASET_KINDS, DatasetKind
from scenebias.humans.stage import BOX_BACKENDS
from scenebias.scene import LABELLERS

BACKENDS: dict[str, dict[str, BackendRecord]] = {"humans": BOX_BACKENDS, "scene": LABELLERS}


def chosen_backend(config: dict, section: str) -> tuple[str, BackendRecord, dict]:
    """(name, record, settings) of the backend a config chooses for a section; settings are the section's key of
    the backend's name ({} when the schema has none)."""
    name = config[section]["backend"]
    return name, BACKENDS[section][name], config[section].get(name, {})


def backend_settings(config: dict, section: str, name: str) -> dict:
    """The settings of any backend of a section (its config key of the same name; {} when the schema has none)."""
    return config[section].get(name, {})


def delegate_backend(config: dict, section: str) -> str | None:
    """The backend that computes the videos the chosen one does not cover (its delegate setting), or None."""
    _, record, settings = chosen_backend(config, section)
    return delegate_name(record, settings)


def agreement_backend(config: dict, section: str) -> str | None:
    """The backend whose outputs the agreement report compares with the chosen one's (`<section>.agreement`)."""
    return config[section].get("agreement")


def agreement_kinds(config: dict, section: str) -> tuple[str, ...] | None:
    """The dataset kinds both the chosen and the agreement backend can cover (None: any)."""
    chosen = chosen_backend(config, section)[1].dataset_kinds
    other = BACKENDS[section][agreement_backend(config, section)].dataset_kinds
    if chosen is None or other is None:
        return chosen if other is None else other
    return tuple(k for k in chosen if k in other)


def agreement_datasets(config: dict, section: str) -> list[str]:
    """The run's datasets both the chosen and the agreement backend cover ([] without an agreement backend)."""
    if agreement_backend(config, section) is None:
        return []
    kinds = agreement_kinds(config, section)
    return [name for name, spec in config["datasets"].items() if kinds is None or spec["kind"] in kinds]


def dataset_kind(dataset: dict) -> DatasetKind:
    """The kind record of one `datasets.<name>` entry."""
    return DATASET_KINDS[dataset["kind"]]


__all__ = [
    "BACKENDS",
    "DATASET_KINDS",
    "agreement_backend",
    "agreement_datasets",
    "agreement_kinds",
    "backend_settings",
    "chosen_backend",
    "dataset_kind",
    "delegate_backend",
]
