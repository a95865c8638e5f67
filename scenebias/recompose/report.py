"""The recomposed-set tables of the report, and on the synthetic world their agreement with the ground truth.

Per dataset and model (a pretraining variant on the source, a fine-tuning init on a target): mean ± sample std of
each measure over its runs (seeds, and splits on a target), and the paired difference to the baseline over the
(split, seed) pairs both have, with its 95 % t interval (the helpers of scenebias.report).

Agreement (the source of a synthetic run): per pretraining run, the action-swap accuracy from the backend's masks
and from the world's true masks beside the ground-truth bias-conflicting accuracy (bias measures), their Pearson
correlation over the runs, and the order of the variants' means under each.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from scenebias.recompose import HEADLINE, MEASURES
from scenebias.report import fmt, fmt_difference, mean_std, paired_interval

PAIR_KEYS = ["split", "seed"]


def recomposed_table(files: list[tuple[Path, dict]]) -> pd.DataFrame:
    """Every model's row of every dataset's measures.csv: (measures.csv, {ds, role}) pairs."""
    tables = [pd.read_csv(path).assign(dataset=run["ds"], role=run["role"]) for path, run in files]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def measures_present(table: pd.DataFrame) -> list[str]:
    return [m for m in MEASURES if m in table.columns and table[m].notna().any()]


def recomposed_summary(table: pd.DataFrame, order: list[str], baseline: str = "baseline") -> pd.DataFrame:
    """Per (dataset, model, measure): mean, std, n over runs; the paired difference to the baseline (diff_*)."""
    rows = []
    for (dataset, model), group in table.groupby(["dataset", "model"], sort=False):
        base = table[(table["dataset"] == dataset) & (table["model"] == baseline)]
        for measure in measures_present(table):
            mean, std, n = mean_std(group[measure].tolist())
            row = {"dataset": dataset, "model": model, "measure": measure, "mean": mean, "std": std, "n": n}
            if model != baseline and len(base):
                paired = group.merge(base, on=PAIR_KEYS, suffixes=("", "_base"))
                diff = paired_interval((paired[measure] - paired[f"{measure}_base"]).dropna().tolist())
                row.update(dict(zip(("diff_mean", "diff_std", "diff_low", "diff_high", "n_pairs"), diff, strict=True)))
            rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    rank = {name: i for i, name in enumerate(order)}
    return summary.sort_values(["dataset", "model"], key=lambda s: s.map(rank) if s.name == "model" else s,
                               kind="stable").reset_index(drop=True)  # fmt: skip


def _cell(summary: pd.DataFrame, dataset: str, model: str, measure: str, with_difference: bool) -> str:
    hit = summary[(summary["dataset"] == dataset) & (summary["model"] == model) & (summary["measure"] == measure)]
    if hit.empty:
        return "–"
    r = hit.iloc[0]
    cell = fmt(r["mean"], r["std"], int(r["n"]))
    if with_difference and "diff_mean" in r and not pd.isna(r.get("diff_mean")):
        cell += "; " + fmt_difference(r["diff_mean"], r["diff_low"], r["diff_high"], int(r["n_pairs"]))
    return cell


def recomposed_markdown(summary: pd.DataFrame, dataset: str, order: list[str]) -> str:
    """One dataset's table: a row per model, a column per measure (mean ± std (n); Δ to the baseline with its
    95 % interval on the headline measures)."""
    part = summary[summary["dataset"] == dataset]
    measures = [m for m in MEASURES if m in set(part["measure"])]
    lines = ["| model | " + " | ".join(MEASURES[m] for m in measures) + " |", "|---" * (len(measures) + 1) + "|"]
    for model in [m for m in order if m in set(part["model"])]:
        cells = [_cell(part, dataset, model, m, m in HEADLINE) for m in measures]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Agreement with the ground truth (synthetic source)

AGREEMENT_PAIRS = {  # recomposed measure -> the ground-truth measure it estimates (bias JSON)
    "action_swap_acc": "conflict_acc",
    "action_swap_true_acc": "conflict_acc",
    "action_swap_b_rate": "conflict_home_rate",
    "action_swap_true_b_rate": "conflict_home_rate",
}


def swap_agreement_table(bias: pd.DataFrame, recomposed: pd.DataFrame) -> pd.DataFrame:
    """Per pretraining run (variant, seed): the ground truth's bias-conflicting accuracy and conflict → home rate
    beside the action-swap measures of the same model."""
    truth = bias[["variant", "seed", *dict.fromkeys(v for v in AGREEMENT_PAIRS.values() if v in bias)]]
    mine = recomposed.rename(columns={"model": "variant"})
    columns = ["variant", "seed", *[k for k in AGREEMENT_PAIRS if k in mine]]
    return truth.merge(mine[columns], on=["variant", "seed"], how="inner")


def pearson(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def swap_agreement_summary(table: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per recomposed measure: its Pearson r with the ground-truth measure over the runs, n, the variants ordered
    by their mean under it and under the truth, and the mean absolute gap in points."""
    rows = []
    variants = [v for v in order if v in set(table["variant"])]
    for measure, truth in AGREEMENT_PAIRS.items():
        if measure not in table or truth not in table or table[measure].isna().all():
            continue
        means = table.groupby("variant")[[measure, truth]].mean()
        descending = truth == "conflict_home_rate"  # rates: the most scene-biased first, like accuracy's last
        rows.append({
            "measure": measure,
            "truth": truth,
            "runs": int(table[[measure, truth]].dropna().shape[0]),
            "pearson_r": pearson(table[measure], table[truth]),
            "mean_abs_gap": float((table[measure] - table[truth]).abs().mean()),
            "order": " → ".join(sorted(variants, key=lambda v: means.loc[v, measure] * (-1 if descending else 1))),
            "truth_order": " → ".join(sorted(variants, key=lambda v: means.loc[v, truth] * (-1 if descending else 1))),
        })  # fmt: skip
    return pd.DataFrame(rows)


def swap_agreement_markdown(table: pd.DataFrame, summary: pd.DataFrame, order: list[str]) -> str:
    """Per run the truth and the two action-swap accuracies (%); then the correlations and orders."""
    have_true = "action_swap_true_acc" in table
    head = "| run | bias-conflicting acc (truth) | action swap (backend masks) |"
    lines = [head + (" action swap (true masks) |" if have_true else ""), "|---" * (3 + have_true) + "|"]
    rank = {v: i for i, v in enumerate(order)}
    ordered = table.sort_values(["variant", "seed"], key=lambda s: s.map(rank) if s.name == "variant" else s)
    for _, r in ordered.iterrows():
        cells = [f"{r['conflict_acc'] * 100:.1f}", f"{r['action_swap_acc'] * 100:.1f}"]
        if have_true:
            cells.append(f"{r['action_swap_true_acc'] * 100:.1f}")
        lines.append(f"| {r['variant']} seed {int(r['seed'])} | " + " | ".join(cells) + " |")
    lines += ["", "| measure | vs truth | runs | Pearson r | mean abs. gap (points) | variants, most to least "
              "scene-biased (measure; truth) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for _, r in summary.iterrows():
        r_text = "–" if math.isnan(r["pearson_r"]) else f"{r['pearson_r']:+.2f}"
        lines.append(f"| {MEASURES[r['measure']]} | {r['truth']} | {r['runs']} | {r_text} | "
                     f"{r['mean_abs_gap'] * 100:.1f} | {r['order']}; {r['truth_order']} |")  # fmt: skip
    return "\n".join(lines)


def sheets_links(dirs: list[tuple[Path, dict]], out_dir: Path) -> str:
    """Links to the recomposed sets' contact sheets, relative to results.md: (folder, {ds, role}) pairs."""
    import os

    lines = ["| dataset | recomposed sets |", "|---|---|"]
    for folder, run in dirs:
        sheets = sorted(Path(folder).glob("*_sheet.png"))
        links = [f"[{p.name.removesuffix('_sheet.png')}]({os.path.relpath(p, out_dir)})" for p in sheets]
        lines.append(f"| {run['ds']} | {', '.join(links) or '–'} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Source models on test-only datasets (evaluate.datasets, e.g. Mimetics): scene-free clips of the source's classes


def source_models_table(files: list[tuple[Path, dict]]) -> pd.DataFrame:
    """One row per (dataset, pretrained model): (JSON, {ds, variant, seed}) pairs."""
    import json

    rows = []
    for path, run in files:
        record = json.loads(Path(path).read_text())
        rows.append({"dataset": run["ds"], "variant": run["variant"], "seed": int(run["seed"]),
                     "shared_top1": record["shared_top1"], "all_classes_top1": record["all_classes_top1"],
                     "shared_classes": len(record["shared_classes"]), "n_videos": record["n_videos"]})  # fmt: skip
    return pd.DataFrame(rows)


def source_models_markdown(table: pd.DataFrame, order: list[str], baseline: str = "baseline") -> str:
    """Per variant and dataset: top-1 on the shared classes, mean ± std over seeds (n), Δ to the baseline paired
    by seed with its 95 % interval; and top-1 over all the model's classes."""
    datasets = list(dict.fromkeys(table["dataset"]))
    head = [f"{ds}: shared classes ({int(table[table['dataset'] == ds]['shared_classes'].max())}) | {ds}: all classes"
            for ds in datasets]  # fmt: skip
    lines = ["| pretraining | " + " | ".join(head) + " |", "|---" * (2 * len(datasets) + 1) + "|"]
    for variant in [v for v in order if v in set(table["variant"])]:
        cells = []
        for ds in datasets:
            group = table[(table["dataset"] == ds) & (table["variant"] == variant)]
            cell = fmt(*mean_std(group["shared_top1"].tolist()))
            base = table[(table["dataset"] == ds) & (table["variant"] == baseline)]
            if variant != baseline and len(base):
                paired = group.merge(base, on="seed", suffixes=("", "_base"))
                mean, _, low, high, n = paired_interval((paired["shared_top1"] - paired["shared_top1_base"]).tolist())
                cell += "; " + fmt_difference(mean, low, high, n)
            cells += [cell, fmt(*mean_std(group["all_classes_top1"].tolist()))]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
