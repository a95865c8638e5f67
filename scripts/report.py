#!/usr/bin/env python
"""Build the results table (CSV, Markdown, LaTeX), the bias-measures table and the plots."""

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.agreement import agreement_markdown
from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import report_file
from scenebias.provenance import environments_markdown
from scenebias.report import (
    PUBLISHED_HMDB51_ABLATION,
    b_scene_markdown,
    bias_differences,
    bias_differences_markdown,
    bias_markdown,
    bias_summary,
    bias_table,
    finetune_table,
    latex_table,
    per_split_markdown,
    plot_bias,
    plot_training_curves,
    sheets_markdown,
    transfer_markdown,
    transfer_summary,
    with_runs,
)
from scenebias.summary import left_out_markdown

NOTES = """
How to read this:
- Transfer: video-level top-1 (%) on each target's test split after fine-tuning, mean ± sample std over seeds
  and splits, n runs; Δ = paired difference to the baseline row over the (split, seed) pairs both have, in
  points, with its 95 % t interval in brackets (n − 1 degrees of freedom: with n = 3 the interval is wide, about
  ±2.5 std of the differences). An interval that excludes 0 is a difference the seeds support; one that
  includes 0 is not evidence of any difference.
- Bias measures are on the source dataset, per pretrained model, mean ± std over its seeds. ↓ = lower is less
  scene-biased. "conflict → home-action rate": how often a bias-conflicting clip is classified as the home
  action of the scene it shows. "home-action prob.": mean softmax probability of the shown scene's home action
  when the actor is masked out or absent (argmax accuracy on pure backgrounds misleads).
- *Human-masked accuracy is in-distribution for variants trained with the mask-confusion loss (they trained on
  such clips); bias-conflicting, static-clip and leakage are the independent evidence.
- Scene leakage: a freshly trained linear probe on frozen pooled features predicting the pseudo scene label.
  It can stay high after adversarial training: beating the training-time adversary does not remove the
  information, which a new probe can still find.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evals", nargs="+", type=Path, required=True, help="eval.json of each fine-tuning run")
    parser.add_argument("--eval-runs", type=json.loads, required=True, help="JSON list of {tgt, init, split, seed}")
    parser.add_argument("--bias", nargs="*", type=Path, default=[], help="bias-measures JSON of each pretrained model")
    parser.add_argument("--bias-runs", type=json.loads, default=[], help="JSON list of {src, variant, seed}")
    parser.add_argument("--b-scene", nargs="*", type=Path, default=[], help="b_scene.json of each dataset")
    parser.add_argument("--b-scene-runs", type=json.loads, default=[], help="JSON list of {ds}")
    parser.add_argument("--logs", nargs="*", type=Path, default=[], help="pretraining log.csv files")
    parser.add_argument("--log-runs", type=json.loads, default=[], help="JSON list of {src, variant, seed}")
    parser.add_argument("--order", nargs="+", required=True, help="row order: variants then scratch")
    parser.add_argument("--targets", nargs="+", required=True)
    parser.add_argument("--published", action="store_true")
    parser.add_argument("--sheets", nargs="*", type=Path, default=[], help="contact sheet PNGs to link")
    parser.add_argument("--sheet-runs", type=json.loads, default=[], help="JSON list of {ds, sheet}")
    parser.add_argument("--agreement", nargs="*", type=Path, default=[], help="agreement JSON of each report")
    parser.add_argument("--agreement-sheets", nargs="*", type=Path, default=[], help="their contact sheets (PNG)")
    parser.add_argument("--agreement-runs", type=json.loads, default=[], help="JSON list of {section, ds, ...}")
    parser.add_argument("--results", type=Path, help="the results folder (videos left out per dataset)")
    parser.add_argument("--left-out", nargs="*", default=[], help="datasets whose left-out videos to table")
    parser.add_argument("--title", default="scenebias results")
    parser.add_argument("--out-dir", type=Path, required=True)
    add_hparams_argument(parser, "hparams.json in --out-dir")
    args = parser.parse_args()
    setup_logging()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    runs = finetune_table(with_runs(args.evals, args.eval_runs, "--evals"))
    runs.to_csv(report_file(out, "runs"), index=False)
    summary = transfer_summary(runs, args.order)
    summary.to_csv(report_file(out, "csv"), index=False)
    report_file(out, "tex").write_text(latex_table(summary, args.targets, args.order))

    parts = [
        f"# {args.title}",
        f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} on {platform.node()} "
        f"({platform.machine()}). Every number traces to a file listed in `runs.csv` / `bias.csv`.",
        "## Transfer: fine-tuned video top-1 (%)",
        transfer_markdown(summary, args.targets, args.order, args.published),
    ]
    if runs["split"].nunique() > 1:
        parts += ["### Per official split (mean ± std over seeds)", per_split_markdown(runs, args.targets, args.order)]
    if args.published:
        ablation = " / ".join(f"{k} {v}" for k, v in PUBLISHED_HMDB51_ABLATION.items())
        parts.append(f"Published HMDB51 ablation (avg of 3 splits): {ablation}.")
    if args.bias:
        bias = bias_table(with_runs(args.bias, args.bias_runs, "--bias"))
        bias.to_csv(report_file(out, "bias"), index=False)
        bias_summary(bias).to_csv(report_file(out, "bias_summary"), index=False)
        parts += ["## Scene-bias measures on the source (%)", bias_markdown(bias, args.order)]
        differences = bias_differences(bias, args.order)
        differences.to_csv(report_file(out, "bias_differences"), index=False)  # header only without a baseline
        if not differences.empty:
            parts += [
                "### Paired differences to the baseline (points; 95 % t interval; gap in pooled std)",
                bias_differences_markdown(differences, args.order),
            ]
        plot_bias(bias, args.order, report_file(out, "bias_plot"))
        parts.append(f"![bias measures]({report_file('.', 'bias_plot').name})")
    if args.b_scene:
        parts += ["## Dataset scene bias", b_scene_markdown(with_runs(args.b_scene, args.b_scene_runs, "--b-scene"))]
    if args.logs:
        plot_training_curves(with_runs(args.logs, args.log_runs, "--logs"), report_file(out, "curves"))
        parts.append(f"![training curves]({report_file('.', 'curves').name})")
    if args.sheets:
        parts += [
            "## Contact sheets",
            "Sampled videos with their human boxes beside the masked frame, and frames of the most frequent scene "
            "labels: check the pseudo-annotations by eye.",
            sheets_markdown(with_runs(args.sheets, args.sheet_runs, "--sheets"), out),
        ]
    if args.agreement:
        reports = [(run, json.loads(path.read_text())) for path, run in with_runs(args.agreement, args.agreement_runs,
                                                                                 "--agreement")]  # fmt: skip
        pngs = with_runs(args.agreement_sheets, args.agreement_runs, "--agreement-sheets")
        sheets = {(run["section"], run["ds"]): os.path.relpath(path, out) for path, run in pngs}
        parts += [
            "## Agreement between backends on the same videos",
            "The chosen backend is the reference (with the authors' released files chosen: recall and precision of "
            "our preprocessing against the release); each sheet shows where the two disagree most.",
            agreement_markdown(reports, sheets),
        ]
    if args.left_out:
        parts += ["## Videos per dataset", left_out_markdown(args.results, args.left_out)]
    parts.append(NOTES.strip())
    if args.results:
        parts += [
            "## What these results were made with",
            "Every job's `hparams.json` (results/README.md says where each lies) records its settings, the files "
            "that decide its result and its environment; the distinct environments of this run's jobs:",
            environments_markdown(args.results),
        ]
    report_file(out, "md").write_text("\n\n".join(parts) + "\n")
    write_hparams(args.hparams or report_file(out, "hparams"), {"targets": args.targets, "order": args.order,
                                                                 "published": args.published})  # fmt: skip
    print(report_file(out, "md").read_text())


if __name__ == "__main__":
    main()
