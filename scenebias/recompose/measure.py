"""Measuring models on a dataset's recomposed sets (scenebias.recompose names the sets and measures).

Each set is read through its index like any split role (scenebias.data.load_videos) and evaluated with the paper's
video-level protocol (scenebias.evaluate.predict: softmax averaged over every non-overlapping window, one centre
crop), with the model's own clip settings. Accuracy is always against video A's label (the actor's action).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.bias.measures import accuracy
from scenebias.data import load_videos
from scenebias.evaluate import predict
from scenebias.models import load_model
from scenebias.recompose import SETS, TRUTH_SETS
from scenebias.settings import TrainSettings

SWAPS = ("action_swap", "action_swap_true")


def label_rate(probs: np.ndarray, labels: np.ndarray) -> float | None:
    """How often the top-1 prediction is the given label (for the action swap: B's label)."""
    return float((probs.argmax(1) == labels).mean()) if len(labels) else None


def contrasted_accuracy(scuba: np.ndarray, scufo: np.ndarray, labels: np.ndarray) -> float | None:
    """Li et al. 2023: the share of videos classified right on SCUBA (the moving actor on another background) and
    wrong on SCUFO (the same video frozen): right for the actor's motion, not for its static look."""
    if not len(labels):
        return None
    return float(((scuba.argmax(1) == labels) & (scufo.argmax(1) != labels)).mean())


def set_predictions(net, settings: TrainSettings, manifest_csv: Path, index_csv: Path, split: int, set_name: str,
                    device: str, batch_size: int, transform: str | None = None) -> tuple[list[str], dict]:  # fmt: skip
    """(source video ids, predictions) of one set for the videos of `split`."""
    videos = load_videos(manifest_csv, index_csv, split, [set_name])
    pred = predict(net, videos, settings.clip_spec(), settings.mean, settings.std, device, transform, batch_size)
    return [v.video_id.split("/", 1)[1] for v in videos], pred


def measure_on_sets(model_path: Path, manifest_csv: Path, index_csv: Path, videos_csv: Path, split: int,
                    device: str = "cpu", batch_size: int = 64) -> dict:  # fmt: skip
    """Every recomposed-set measure of one model on the videos of `split` (scenebias.recompose.MEASURES)."""
    net, record = load_model(model_path)
    settings = TrainSettings.from_dict(record["settings"])
    roles = set(pd.read_csv(manifest_csv, keep_default_na=False, dtype=str).get(f"split{split}", []))
    partner = pd.read_csv(videos_csv, keep_default_na=False).set_index("video_id")["partner_label"]
    out: dict = {"model_file": str(model_path)}
    for name in (*SETS, *TRUTH_SETS):
        if name not in roles:
            continue
        ids, pred = set_predictions(net, settings, manifest_csv, index_csv, split, name, device, batch_size)
        out[f"{name}_acc"], out[f"{name}_n"] = accuracy(pred["probs"], pred["labels"]), len(ids)
        if name in SWAPS:
            out[f"{name}_b_rate"] = label_rate(pred["probs"], np.array([int(partner[v]) for v in ids], int))
        if name == "scuba":
            _, static = set_predictions(net, settings, manifest_csv, index_csv, split, name, device, batch_size,
                                        "static")  # fmt: skip
            out["scufo_acc"] = accuracy(static["probs"], static["labels"])
            out["contrasted_acc"] = contrasted_accuracy(pred["probs"], static["probs"], pred["labels"])
    return out


def measure_models(models: list[Path], runs: list[dict], manifest_csv: Path, index_csv: Path, videos_csv: Path,
                   device: str = "cpu", batch_size: int = 64) -> pd.DataFrame:  # fmt: skip
    """One row per model: its run (model = variant or init, split, seed; as the workflow describes it) and its
    measures on the recomposed sets of its split."""
    if len(models) != len(runs):
        raise ValueError(f"{len(models)} models but {len(runs)} run descriptions; the lists must align")
    rows = []
    for path, run in zip(models, runs, strict=True):
        row = measure_on_sets(Path(path), manifest_csv, index_csv, videos_csv, int(run["split"]), device, batch_size)
        rows.append({**run, **row})
    return pd.DataFrame(rows)
