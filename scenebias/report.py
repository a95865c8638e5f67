"""The results table and report: transfer accuracy with mean ± std over seeds and splits, paired differences to
the baseline, the bias measures and B_scene, as CSV, Markdown, LaTeX and plots."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.bias import HEADLINE, MEASURES

# Published numbers (top-1 %, 3D-ResNet-18 pretrained on Mini-Kinetics-200; authors' poster, docs/design.md §2).
PUBLISHED = {
    "baseline": {"ucf101": 83.5, "hmdb51": 53.6, "diving48": 18.0},
    "sdn": {"ucf101": 84.5, "hmdb51": 56.7, "diving48": 20.5},
}
PUBLISHED_HMDB51_ABLATION = {"baseline": 53.6, "mask_conf": 55.1, "scene_adv": 56.2, "sdn": 56.7}


def with_runs(paths: list[Path], runs: list[dict], what: str) -> list[tuple[Path, dict]]:
    """Pair each file with the run it belongs to, as the workflow lists them (aligned lists): the report never
    reads a run's identity from a path, so the results layout can change without touching it."""
    if len(paths) != len(runs):
        raise ValueError(f"{what}: {len(paths)} files but {len(runs)} run descriptions; the lists must align")
    return list(zip((Path(p) for p in paths), runs, strict=True))


def finetune_table(evals: list[tuple[Path, dict]]) -> pd.DataFrame:
    """One row per fine-tuning run: (eval.json, run) pairs with run = {tgt, init, split, seed}."""
    rows = []
    for path, run in evals:
        record = json.loads(path.read_text())
        rows.append(
            {
                "target": run["tgt"],
                "init": run["init"],
                "split": int(run["split"]),
                "seed": int(run["seed"]),
                "video_top1": record["video_top1"],
                "clip_top1": record["clip_top1"],
                "n_videos": record["n_videos"],
                "path": str(path),
            }
        )
    return pd.DataFrame(rows)


def mean_std(values) -> tuple[float, float, int]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan"), 0
    arr = np.asarray(values, float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else float("nan"), len(arr)


def paired_interval(differences, level: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean, sample std and the two-sided t confidence interval of paired differences: (mean, std, low, high, n).
    The interval needs n ≥ 2 (NaN otherwise); with n = 3 its half-width is 4.30 · std / √3."""
    from scipy import stats

    mean, std, n = mean_std(differences)
    if n < 2:
        return mean, std, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half, n


def fmt_difference(mean: float, low: float, high: float, n: int) -> str:
    """A paired difference in points: 'Δ +2.1 [−0.3, +4.5]' (95 % interval) or 'Δ +2.1' for one pair."""
    text = f"Δ {mean * 100:+.1f}"
    if n > 1 and not math.isnan(low):
        text += f" [{low * 100:+.1f}, {high * 100:+.1f}]"
    return text


def transfer_summary(runs: pd.DataFrame, order: list[str], baseline: str = "baseline") -> pd.DataFrame:
    """Per (init, target): mean ± std of video top-1 over seeds and splits, and the paired difference to the
    baseline over the (split, seed) pairs both have, with its 95 % t interval."""
    out = []
    for (init, target), group in runs.groupby(["init", "target"], sort=False):
        mean, std, n = mean_std(group["video_top1"])
        row = {"init": init, "target": target, "mean": mean, "std": std, "n": n}
        base = runs[(runs["init"] == baseline) & (runs["target"] == target)]
        if init != baseline and len(base):
            paired = group.merge(base, on=["split", "seed"], suffixes=("", "_base"))
            diff = paired_interval((paired["video_top1"] - paired["video_top1_base"]).tolist())
            row["diff_mean"], row["diff_std"], row["diff_low"], row["diff_high"], row["n_pairs"] = diff
        out.append(row)
    table = pd.DataFrame(out)
    rank = {name: i for i, name in enumerate(order)}
    return table.sort_values(["init", "target"], key=lambda s: s.map(rank) if s.name == "init" else s, kind="stable")


def bias_table(files: list[tuple[Path, dict]]) -> pd.DataFrame:
    """One row per pretrained model: (bias JSON, run) pairs with run = {src, variant, seed}."""
    rows = []
    for path, run in files:
        record = json.loads(path.read_text())
        rows.append({"dataset": run["src"], "variant": run["variant"], "seed": int(run["seed"]), **record})
    return pd.DataFrame(rows)


def fmt(mean: float, std: float, n: int, percent: bool = True) -> str:
    if n == 0 or math.isnan(mean):
        return "–"
    scale = 100 if percent else 1
    digits = 1 if percent else 3
    text = f"{mean * scale:.{digits}f}"
    if n > 1 and not math.isnan(std):
        text += f" ± {std * scale:.{digits}f}"
    return f"{text} (n={n})"


def transfer_markdown(summary: pd.DataFrame, targets: list[str], order: list[str], published: bool) -> str:
    header = "| pretraining | " + " | ".join(targets) + " |"
    lines = [header, "|---" * (len(targets) + 1) + "|"]
    for init in order:
        cells = []
        for target in targets:
            row = summary[(summary["init"] == init) & (summary["target"] == target)]
            if row.empty:
                cells.append("–")
                continue
            r = row.iloc[0]
            cell = fmt(r["mean"], r["std"], int(r["n"]))
            if "diff_mean" in r and not pd.isna(r.get("diff_mean")):
                cell += "; " + fmt_difference(r["diff_mean"], r["diff_low"], r["diff_high"], int(r["n_pairs"]))
            cells.append(cell)
        lines.append(f"| {init} | " + " | ".join(cells) + " |")
    if published:
        for name, numbers in PUBLISHED.items():
            cells = [f"{numbers[t]:.1f}" if t in numbers else "–" for t in targets]
            lines.append(f"| {name} (published) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_split_markdown(runs: pd.DataFrame, targets: list[str], order: list[str]) -> str:
    """Video top-1 (%) per target and official split, mean ± std over seeds (the paper reports HMDB51 per split)."""
    columns = [(t, k) for t in targets for k in sorted(runs.loc[runs["target"] == t, "split"].unique())]
    lines = ["| pretraining | " + " | ".join(f"{t} split {k}" for t, k in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for init in order:
        cells = []
        for target, split in columns:
            group = runs[(runs["init"] == init) & (runs["target"] == target) & (runs["split"] == split)]
            cells.append(fmt(*mean_std(group["video_top1"].tolist())))
        lines.append(f"| {init} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bias_markdown(bias: pd.DataFrame, order: list[str]) -> str:
    columns = [c for c in MEASURES if c in bias.columns and bias[c].notna().any()]
    lines = ["| pretraining | " + " | ".join(MEASURES[c] for c in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for variant in [v for v in order if v in set(bias["variant"])]:
        group = bias[bias["variant"] == variant]
        cells = [fmt(*mean_std(group[c].tolist())) for c in columns]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DIFFERENCE_COLUMNS = ("variant", "measure", "diff_mean", "diff_std", "diff_low", "diff_high", "n_pairs", "pooled_std",
                      "gap_in_pooled_std")  # fmt: skip


def bias_differences(bias: pd.DataFrame, order: list[str], baseline: str = "baseline") -> pd.DataFrame:
    """Per (variant, measure): the paired difference to the baseline over the seeds both have, its 95 % t interval,
    and the gap in units of the pooled standard deviation of the two groups (a separation, not a test)."""
    rows = []
    base = bias[bias["variant"] == baseline]
    for variant in [v for v in order if v != baseline and v in set(bias["variant"])]:
        group = bias[bias["variant"] == variant]
        paired = group.merge(base, on="seed", suffixes=("", "_base"))
        for measure in HEADLINE:
            if measure not in bias.columns or group[measure].isna().all():
                continue
            mean, std, low, high, n = paired_interval((paired[measure] - paired[f"{measure}_base"]).tolist())
            _, sd_a, n_a = mean_std(group[measure].tolist())
            _, sd_b, n_b = mean_std(base[measure].tolist())
            pooled = (
                math.sqrt(((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / (n_a + n_b - 2))
                if min(n_a, n_b) > 1
                else float("nan")
            )
            rows.append(dict(zip(DIFFERENCE_COLUMNS, (variant, measure, mean, std, low, high, n, pooled,
                                 abs(mean) / pooled if pooled > 0 else float("nan")), strict=True)))  # fmt: skip
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def bias_differences_markdown(differences: pd.DataFrame, order: list[str]) -> str:
    measures = [m for m in HEADLINE if m in set(differences["measure"])]
    lines = ["| pretraining − baseline | " + " | ".join(MEASURES[m] for m in measures) + " |"]
    lines.append("|---" * (len(measures) + 1) + "|")
    for variant in [v for v in order if v in set(differences["variant"])]:
        cells = []
        for measure in measures:
            row = differences[(differences["variant"] == variant) & (differences["measure"] == measure)]
            if row.empty:
                cells.append("–")
                continue
            r = row.iloc[0]
            cell = fmt_difference(r["diff_mean"], r["diff_low"], r["diff_high"], int(r["n_pairs"]))
            if not math.isnan(r["gap_in_pooled_std"]):
                cell += f"; {r['gap_in_pooled_std']:.1f} sd"
            cells.append(f"{cell} (n={int(r['n_pairs'])})")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bias_summary(bias: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for variant, group in bias.groupby("variant", sort=False):
        for column in MEASURES:
            if column in group.columns:
                mean, std, n = mean_std(group[column].tolist())
                rows.append({"variant": variant, "measure": column, "mean": mean, "std": std, "n": n})
    return pd.DataFrame(rows)


def b_scene_markdown(files: list[tuple[Path, dict]]) -> str:
    """(b_scene.json, {ds}) pairs as a table."""
    lines = ["| dataset | probe acc | chance | B_scene | B_scene / ln(#classes) |", "|---|---|---|---|---|"]
    for path, run in files:
        record = json.loads(path.read_text())
        name = run["ds"]
        lines.append(
            f"| {name} | {record['probe_acc'] * 100:.1f} | {record['chance'] * 100:.1f} | "
            f"{record['b_scene']:.2f} | {record['b_scene_norm']:.2f} |"
        )
    return "\n".join(lines)


def sheets_markdown(files: list[tuple[Path, dict]], out_dir: Path) -> str:
    """A table of links to the contact sheets, relative to results.md: (PNG, {ds, sheet}) pairs."""
    by_dataset: dict[str, dict[str, str]] = {}
    for path, run in files:
        by_dataset.setdefault(run["ds"], {})[run["sheet"]] = os.path.relpath(path, out_dir)
    lines = ["| dataset | human boxes | scene labels |", "|---|---|---|"]
    for name, links in by_dataset.items():
        cells = [f"[{kind}]({links[kind]})" if kind in links else "–" for kind in ("boxes", "scenes")]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def latex_table(summary: pd.DataFrame, targets: list[str], order: list[str]) -> str:
    lines = [
        "\\begin{tabular}{l" + "c" * len(targets) + "}",
        "\\toprule",
        "pretraining & " + " & ".join(t.replace("_", "\\_") for t in targets) + " \\\\",
        "\\midrule",
    ]
    for init in order:
        cells = []
        for target in targets:
            row = summary[(summary["init"] == init) & (summary["target"] == target)]
            if row.empty:
                cells.append("--")
                continue
            r = row.iloc[0]
            std = "" if pd.isna(r["std"]) else f" $\\pm$ {r['std'] * 100:.1f}"
            cells.append(f"{r['mean'] * 100:.1f}{std}")
        lines.append(init.replace("_", "\\_") + " & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def plot_training_curves(logs: list[tuple[Path, dict]], out: Path) -> None:
    """Mean (and range over seeds) of training loss and validation accuracy per variant: (log.csv, run) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    curves: dict[str, list[pd.DataFrame]] = {}
    for path, run in logs:
        curves.setdefault(run["variant"], []).append(pd.read_csv(path))
    for variant, logs in curves.items():
        for ax, column in zip(axes, ("train_loss", "val_acc"), strict=True):
            stacked = np.stack([log[column].to_numpy(float) for log in logs])
            epochs = logs[0]["epoch"].to_numpy()
            ax.plot(epochs, stacked.mean(0), label=f"{variant} (n={len(logs)})")
            if len(logs) > 1:
                ax.fill_between(epochs, stacked.min(0), stacked.max(0), alpha=0.2)
    axes[0].set(title="pretraining: training loss", xlabel="epoch")
    axes[1].set(title="pretraining: in-distribution clip accuracy", xlabel="epoch")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_bias(bias: pd.DataFrame, order: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in MEASURES if c in bias.columns and bias[c].notna().any()]
    variants = [v for v in order if v in set(bias["variant"])]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(columns)), 4))
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        group = bias[bias["variant"] == variant]
        stats = [mean_std(group[c].tolist()) for c in columns]
        ax.bar(np.arange(len(columns)) + i * width, [s[0] for s in stats], width,
               yerr=[0 if math.isnan(s[1]) else s[1] for s in stats], label=variant, capsize=2)  # fmt: skip
    ax.set_xticks(np.arange(len(columns)) + width * (len(variants) - 1) / 2)
    ax.set_xticklabels([MEASURES[c] for c in columns], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("scene-bias measures by pretraining variant (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------
# The p_bias sweep

SWEEP_MEASURES = ("conflict_acc", "in_dist_acc", "conflict_home_rate")


def sweep_summary(bias: pd.DataFrame, p_bias: dict[str, float]) -> pd.DataFrame:
    """Per (p_bias, variant): mean, std and n over seeds of the headline measures; `bias` from bias_table."""
    unknown = sorted(set(bias["dataset"]) - set(p_bias))
    if unknown:
        raise ValueError(f"bias files of datasets with no p_bias given: {unknown}")
    rows = []
    for (dataset, variant), group in bias.groupby(["dataset", "variant"], sort=False):
        row = {"p_bias": p_bias[dataset], "variant": variant, "dataset": dataset}
        for measure in SWEEP_MEASURES:
            mean, std, n = mean_std(group[measure].tolist()) if measure in group else (float("nan"),) * 2 + (0,)
            row.update({f"{measure}_mean": mean, f"{measure}_std": std, f"{measure}_n": n})
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["variant", "p_bias"], kind="stable").reset_index(drop=True)


def sweep_markdown(summary: pd.DataFrame, order: list[str]) -> str:
    variants = [v for v in order if v in set(summary["variant"])]
    points = sorted(set(summary["p_bias"]))
    lines = ["| pretraining | " + " | ".join(f"p_bias {p:g}" for p in points) + " |", "|---" * (len(points) + 1) + "|"]
    for variant in variants:
        cells = []
        for p in points:
            hit = summary[(summary["variant"] == variant) & (summary["p_bias"] == p)]
            if hit.empty:
                cells.append("–")
                continue
            r = hit.iloc[0]
            cells.append(fmt(r["conflict_acc_mean"], r["conflict_acc_std"], int(r["conflict_acc_n"])))
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_sweep(summary: pd.DataFrame, order: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for variant in [v for v in order if v in set(summary["variant"])]:
        group = summary[summary["variant"] == variant].sort_values("p_bias")
        err = group["conflict_acc_std"].fillna(0)
        line = ax.errorbar(group["p_bias"], group["conflict_acc_mean"], yerr=err, marker="o", capsize=3,
                           label=f"{variant}: bias-conflicting")  # fmt: skip
        ax.plot(group["p_bias"], group["in_dist_acc_mean"], linestyle="--", color=line[0].get_color(),
                alpha=0.6, label=f"{variant}: in-distribution")  # fmt: skip
    ax.set_xlabel("p_bias (share of source clips in their action's home scene)")
    ax.set_ylabel("video top-1 on the source test sets")
    ax.set_ylim(0, 1)
    ax.set_title("scene bias of the training set vs bias-conflicting accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
