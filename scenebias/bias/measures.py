"""The bias measures' computations: accuracies, the fresh linear probe, worst-group and home-action measures on
the synthetic world, and B_scene of a dataset (definitions in scenebias.bias)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def linear_probe(train_x, train_y, test_x, test_y, seed: int = 0) -> dict:
    """Accuracy of a freshly trained, standardised multinomial logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = np.unique(train_y)
    majority = float(np.mean(test_y == pd.Series(train_y).mode()[0])) if len(test_y) else float("nan")
    if len(classes) < 2 or not len(test_y):
        return {"accuracy": majority, "majority": majority, "n_train": len(train_y), "n_test": len(test_y)}
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe.fit(train_x, train_y)
    return {
        "accuracy": float(probe.score(test_x, test_y)),
        "majority": majority,
        "n_train": int(len(train_y)),
        "n_test": int(len(test_y)),
        "classes": int(len(classes)),
    }


def home_actions(truth: pd.DataFrame) -> dict[int, int]:
    """scene -> the action whose home it is, from the synthetic ground truth."""
    homes = truth[truth["home_scene"] >= 0][["home_scene", "label"]].drop_duplicates()
    return dict(zip(homes["home_scene"].astype(int), homes["label"].astype(int), strict=True))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float | None:
    return float((probs.argmax(1) == labels).mean()) if len(labels) else None


def worst_group_accuracy(probs: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[float | None, str]:
    """The lowest accuracy over groups (e.g. action x home/non-home scene) with at least one video."""
    worst, name = None, ""
    for g in np.unique(groups):
        acc = accuracy(probs[groups == g], labels[groups == g])
        if worst is None or acc < worst:
            worst, name = acc, str(g)
    return worst, name


def synthetic_measures(preds: dict[str, dict], truth: pd.DataFrame, video_ids: dict[str, list[str]]) -> dict:
    """Bias measures that need the synthetic world's ground truth. preds/video_ids are keyed by set name."""
    home = home_actions(truth)
    t = truth.set_index("video_id")
    out = {}
    if "test_conflict" in preds:
        p, ids = preds["test_conflict"], video_ids["test_conflict"]
        scene_home = np.array([home.get(int(t.loc[v, "scene"]), -1) for v in ids])
        out["conflict_acc"] = accuracy(p["probs"], p["labels"])
        out["conflict_home_rate"] = float((p["probs"].argmax(1) == scene_home).mean()) if len(ids) else None
    if "test" in preds and "test_conflict" in preds:
        probs = np.concatenate([preds["test"]["probs"], preds["test_conflict"]["probs"]])
        labels = np.concatenate([preds["test"]["labels"], preds["test_conflict"]["labels"]])
        ids = video_ids["test"] + video_ids["test_conflict"]
        groups = np.array(
            [f"{t.loc[v, 'label_name']}/{'conflict' if t.loc[v, 'bias_conflict'] else 'home'}" for v in ids]
        )
        out["worst_group_acc"], out["worst_group"] = worst_group_accuracy(probs, labels, groups)
    for name, key in (("test_masked", "actor_masked"), ("test_noactor", "no_actor")):
        if name in preds:
            p = preds[name]
            # Labels of these sets are the shown scene's home action: the probability the model gives it.
            out[f"{key}_home_prob"] = float(p["probs"][np.arange(len(p["labels"])), p["labels"]].mean())
            out[f"{key}_home_rate"] = accuracy(p["probs"], p["labels"])
    return out


def b_scene(probe_accuracy: float, n_classes: int) -> dict:
    """Scene bias of a dataset (Choi et al.): ln(probe accuracy / chance), chance = 1 / #classes."""
    chance = 1.0 / n_classes
    value = math.log(probe_accuracy / chance) if probe_accuracy > 0 else float("-inf")
    return {
        "probe_acc": probe_accuracy,
        "chance": chance,
        "b_scene": value,
        "b_scene_norm": value / math.log(n_classes),
    }
