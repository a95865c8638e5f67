#!/usr/bin/env python
"""The p_bias sweep: bias-conflicting accuracy of each pretraining variant against the source set's p_bias."""

import argparse
import json
from pathlib import Path

import _bootstrap  # noqa: F401

from scenebias.cli import add_hparams_argument, setup_logging, write_hparams
from scenebias.paths import sidecar
from scenebias.report import bias_table, plot_sweep, sweep_markdown, sweep_summary, with_runs


def point(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    if not value:
        raise argparse.ArgumentTypeError(f"expected DATASET=P_BIAS, got {text!r}")
    return name, float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bias", nargs="+", type=Path, required=True, help="bias-measures JSON of each model")
    parser.add_argument("--bias-runs", type=json.loads, required=True, help="JSON list of {src, variant, seed}")
    parser.add_argument("--points", nargs="+", type=point, required=True, help="DATASET=P_BIAS of each point")
    parser.add_argument("--order", nargs="+", required=True, help="variants, in legend order")
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--md", type=Path, required=True)
    parser.add_argument("--plot", type=Path, required=True)
    add_hparams_argument(parser)
    args = parser.parse_args()
    setup_logging()
    bias = bias_table(with_runs(args.bias, args.bias_runs, "--bias"))
    summary = sweep_summary(bias, dict(args.points))
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(args.csv, index=False)
    table = sweep_markdown(summary, args.order)
    args.md.write_text(
        "# p_bias sweep: bias-conflicting accuracy (%) on the source, mean ± std over seeds (n)\n\n"
        f"{table}\n\n![p_bias sweep]({args.plot.name})\n"
    )
    plot_sweep(summary, args.order, args.plot)
    write_hparams(args.hparams or sidecar(args.csv), {"points": dict(args.points), "order": args.order})
    print(table)


if __name__ == "__main__":
    main()
