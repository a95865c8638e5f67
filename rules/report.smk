# The results table, bias tables and plots; `snakemake --report report.html` collects the marked outputs.


rule report:
    input:
        evals=finetune_evals(),
        bias=bias_files(),
        b_scene=b_scene_files(),
        logs=pretrain_logs(),
        sheets=sheet_files(),
        frames=[P("frames_report", ds=ds) for ds in config["datasets"]],
        agreement=agreement_files(),
        agreement_sheets=agreement_sheets(),
    output:
        md=report(
            P.report("md"), category="Results", labels={"table": "results (Markdown)"}
        ),
        csv=report(
            P.report("csv"),
            category="Results",
            labels={"table": "transfer summary (CSV)"},
        ),
        tex=P.report("tex"),
        runs=P.report("runs"),
        bias=P.report("bias"),
        bias_summary=P.report("bias_summary"),
        bias_differences=P.report("bias_differences"),
        bias_plot=report(
            P.report("bias_plot"), category="Plots", labels={"plot": "bias measures"}
        ),
        curves=report(
            P.report("curves"), category="Plots", labels={"plot": "training curves"}
        ),
        hparams=P.report("hparams"),
    log:
        P.log("report"),
    benchmark:
        P.benchmark("report")
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        script=script("report"),
        eval_runs=json.dumps(finetune_run_keys()),
        bias_runs=json.dumps(pretrain_run_keys()),
        b_scene_runs=json.dumps([{"ds": ds} for ds in b_scene_datasets()]),
        sheet_runs=json.dumps(sheet_run_keys()),
        agreement_runs=json.dumps(agreement_run_keys()),
        # The left-out table reads each dataset's stage reports under the results folder (a local rule).
        results=lambda wc: RESULTS,
        datasets=list(config["datasets"]),
        order=INITS,
        targets=TARGETS,
        published="--published" if config["report"]["published"] else "",
        out_dir=lambda wc, output: Path(output.md).parent,
    shell:
        "python {params.script} --evals {input.evals} --eval-runs {params.eval_runs:q}"
        " --bias {input.bias} --bias-runs {params.bias_runs:q}"
        " --b-scene {input.b_scene} --b-scene-runs {params.b_scene_runs:q}"
        " --logs {input.logs} --log-runs {params.bias_runs:q} --order {params.order}"
        " --targets {params.targets} {params.published}"
        " --sheets {input.sheets} --sheet-runs {params.sheet_runs:q}"
        " --agreement {input.agreement} --agreement-sheets {input.agreement_sheets}"
        " --agreement-runs {params.agreement_runs:q}"
        " --results {params.results} --left-out {params.datasets}"
        " --out-dir {params.out_dir} --hparams {output.hparams} > {log} 2>&1"


# The optional p_bias sweep (`snakemake --cores N p_bias_sweep`): not part of the default target.
rule p_bias_sweep:
    input:
        bias=bias_files(sweep_run_keys()),
    output:
        csv=P.report("sweep_csv"),
        md=P.report("sweep_md"),
        plot=report(
            P.report("sweep_plot"), category="Plots", labels={"plot": "p_bias sweep"}
        ),
        hparams=sidecar(P.report("sweep_csv")),
    log:
        P.log("p_bias_sweep"),
    benchmark:
        P.benchmark("p_bias_sweep")
    localrule: True
    conda:
        "../envs/report.yaml"
    params:
        script=script("p_bias_sweep"),
        runs=json.dumps(sweep_run_keys()),
        points=" ".join(f"{name}={p}" for name, p in SWEEP.items()),
        order=sweep_variants(config),
    shell:
        "python {params.script} --bias {input.bias} --bias-runs {params.runs:q}"
        " --points {params.points}"
        " --order {params.order} --csv {output.csv} --md {output.md}"
        " --plot {output.plot} --hparams {output.hparams} > {log} 2>&1"
