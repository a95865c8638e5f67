"""Bias measures and the report tables on hand-made numbers whose answers are known."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from scenebias.bias.measures import b_scene, home_actions, linear_probe, synthetic_measures, worst_group_accuracy
from scenebias.report import finetune_table, transfer_markdown, transfer_summary, with_runs


def one_hot(idx, k):
    p = np.full((len(idx), k), 0.0)
    p[np.arange(len(idx)), idx] = 1.0
    return p


def test_b_scene_matches_the_paper_example():
    # UCF101 (Choi et al.): probe 59.7 % vs chance 1.0 % -> B_scene = ln(59.7) ~ 4.09
    result = b_scene(0.597, 100)
    assert result["b_scene"] == pytest.approx(math.log(59.7), rel=1e-9)
    assert result["b_scene_norm"] == pytest.approx(math.log(59.7) / math.log(100))
    assert b_scene(1 / 8, 8)["b_scene"] == pytest.approx(0.0)


def test_linear_probe_finds_a_linear_signal_and_not_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, 5))
    x[:, 0] += 4 * y
    found = linear_probe(x[:200], y[:200], x[200:], y[200:])
    assert found["accuracy"] > 0.9
    noise = linear_probe(rng.normal(size=(200, 5)), y[:200], rng.normal(size=(100, 5)), y[200:])
    assert noise["accuracy"] < 0.6


def test_worst_group_and_synthetic_measures():
    truth = pd.DataFrame(
        {
            "video_id": ["a", "b", "c", "d", "m", "n"],
            "label": [0, 1, 0, 1, 0, 1],
            "label_name": ["x", "y", "x", "y", "x", "y"],
            "scene": [0, 1, 1, 0, 0, 1],
            "home_scene": [0, 1, 0, 1, 0, 1],
            "bias_conflict": [False, False, True, True, False, False],
        }
    )
    assert home_actions(truth) == {0: 0, 1: 1}
    preds = {
        "test": {"probs": one_hot([0, 1], 2), "labels": np.array([0, 1])},
        # conflict clips: c (action 0 in scene 1) predicted 1 = the scene's home action; d correct.
        "test_conflict": {"probs": one_hot([1, 1], 2), "labels": np.array([0, 1])},
        "test_masked": {"probs": np.array([[0.7, 0.3], [0.4, 0.6]]), "labels": np.array([0, 1])},
    }
    ids = {"test": ["a", "b"], "test_conflict": ["c", "d"], "test_masked": ["m", "n"]}
    out = synthetic_measures(preds, truth, ids)
    assert out["conflict_acc"] == 0.5
    # c shows scene 1 and is called 1, its home action; d shows scene 0 (home action 0) and is called 1.
    assert out["conflict_home_rate"] == 0.5
    assert out["worst_group_acc"] == 0.0 and out["worst_group"] == "x/conflict"
    assert out["actor_masked_home_prob"] == pytest.approx(0.65)
    acc, name = worst_group_accuracy(one_hot([0, 0, 1], 2), np.array([0, 1, 1]), np.array(["g", "h", "h"]))
    assert (acc, name) == (0.5, "h")


def write_eval(root, target, init, split, seed, acc):
    """An eval.json in a folder that says nothing of its run, and the run it belongs to."""
    path = root / f"run{len(list(root.iterdir()))}" / "eval.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"video_top1": acc, "clip_top1": acc, "n_videos": 10}))
    return path, {"tgt": target, "init": init, "split": split, "seed": seed}


def test_transfer_summary_mean_std_and_paired_difference(tmp_path):
    paths = [
        write_eval(tmp_path, "fine", "baseline", 1, 0, 0.40),
        write_eval(tmp_path, "fine", "baseline", 1, 1, 0.50),
        write_eval(tmp_path, "fine", "sdn", 1, 0, 0.70),
        write_eval(tmp_path, "fine", "sdn", 1, 1, 0.70),
        write_eval(tmp_path, "fine", "scratch", 1, 0, 0.30),
    ]
    summary = transfer_summary(finetune_table(paths), ["baseline", "sdn", "scratch"]).set_index("init")
    assert summary.loc["baseline", "mean"] == pytest.approx(0.45)
    assert summary.loc["baseline", "std"] == pytest.approx(np.std([0.4, 0.5], ddof=1))
    assert summary.loc["sdn", "diff_mean"] == pytest.approx(0.25)  # pairs (seed 0: +0.3, seed 1: +0.2)
    assert summary.loc["sdn", "n_pairs"] == 2
    assert summary.loc["scratch", "n_pairs"] == 1
    md = transfer_markdown(summary.reset_index(), ["fine"], ["baseline", "sdn", "scratch"], published=False)
    # Differences 0.3 and 0.2: std 0.0707, t(0.975, 1 df) = 12.706, half-width 12.706 * 0.0707 / sqrt(2) = 0.635.
    assert summary.loc["sdn", "diff_low"] == pytest.approx(0.25 - 0.6353, abs=1e-3)
    assert summary.loc["sdn", "diff_high"] == pytest.approx(0.25 + 0.6353, abs=1e-3)
    assert "| sdn | 70.0 ± 0.0 (n=2); Δ +25.0 [-38.5, +88.5] |" in md
    assert "| scratch | 30.0 (n=1); Δ -10.0 |" in md  # one pair: no interval
    assert "published" not in md
    paper = transfer_markdown(summary.reset_index(), ["ucf101"], ["baseline"], published=True)
    assert "| baseline (published) | 83.5 |" in paper and "| sdn (published) | 84.5 |" in paper


def test_files_and_runs_must_align(tmp_path):
    path, run = write_eval(tmp_path, "fine", "baseline", 1, 0, 0.4)
    assert with_runs([path], [run], "--evals") == [(path, run)]
    with pytest.raises(ValueError, match="--evals: 1 files but 2 run descriptions"):
        with_runs([path], [run, run], "--evals")


def test_bias_differences_pair_seeds_and_give_t_intervals():
    """Three seeds per variant: the paired differences, their t interval and the gap in pooled std, by hand."""
    import pandas as pd

    from scenebias.report import bias_differences, bias_differences_markdown

    bias = pd.DataFrame(
        [{"variant": "baseline", "seed": s, "conflict_acc": a} for s, a in enumerate([0.10, 0.20, 0.15])]
        + [{"variant": "sdn", "seed": s, "conflict_acc": a} for s, a in enumerate([0.60, 0.80, 0.70])]
    )
    table = bias_differences(bias, ["baseline", "sdn"]).set_index("measure")
    row = table.loc["conflict_acc"]
    diffs = np.array([0.5, 0.6, 0.55])
    half = 4.302653 * diffs.std(ddof=1) / np.sqrt(3)  # t(0.975, 2 df)
    assert row["diff_mean"] == pytest.approx(0.55)
    assert row["diff_low"] == pytest.approx(0.55 - half, abs=1e-5)
    assert row["diff_high"] == pytest.approx(0.55 + half, abs=1e-5)
    pooled = np.sqrt((0.05**2 + 0.1**2) / 2)  # sample stds 0.05 (baseline) and 0.1 (sdn)
    assert row["gap_in_pooled_std"] == pytest.approx(0.55 / pooled)
    md = bias_differences_markdown(table.reset_index(), ["baseline", "sdn"])
    assert "| sdn | Δ +55.0 [+42.6, +67.4]; 7.0 sd (n=3) |" in md
