"""The registries the config chooses from, by the config key that chooses.

`BACKENDS` maps a config section with interchangeable backends to its registry (the section's `backend` key picks
one record; the record's own settings are the section's key of the same name). `DATASET_KINDS` holds the dataset
kinds (`datasets.<name>.kind`). The workflow (rules/common.smk) and the config check (scenebias.config) read these
records instead of naming any backend or kind; the schema's enums list the same names (tests/test_structure.py).
The networks (`model.name`) have their registry in scenebias.models, which imports torch and so stays out of here
(planning a run must not import torch).
"""

from __future__ import annotations

from scenebias.backends import BackendRecord
from scenebias.datasets import DATASET_KINDS, DatasetKind
from scenebias.humans.stage import BOX_BACKENDS
from scenebias.scene import LABELLERS

BACKENDS: dict[str, dict[str, BackendRecord]] = {"humans": BOX_BACKENDS, "scene": LABELLERS}


def chosen_backend(config: dict, section: str) -> tuple[str, BackendRecord, dict]:
    """(name, record, settings) of the backend a config chooses for a section; settings are the section's key of
    the backend's name ({} when the schema has none)."""
    name = config[section]["backend"]
    return name, BACKENDS[section][name], config[section].get(name, {})


def dataset_kind(dataset: dict) -> DatasetKind:
    """The kind record of one `datasets.<name>` entry."""
    return DATASET_KINDS[dataset["kind"]]


__all__ = ["BACKENDS", "DATASET_KINDS", "chosen_backend", "dataset_kind"]
