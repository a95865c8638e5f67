# The results table, bias tables and plots; `snakemake --report report.html` collects the marked outputs.


rule report:
    input:
        evals=finetune_evals(),
        bias=bias_files(),
        b_scene=b_scene_files(),
        logs=pretrain_logs(),
        frames=[f"{RESULTS}/{ds}/frames/report.json" for ds in DATASETS],
    output:
        md=report(
            f"{RESULTS}/report/results.md",
            category="Results",
            labels={"table": "results (Markdown)"},
        ),
        csv=report(
            f"{RESULTS}/report/results.csv",
            category="Results",
            labels={"table": "transfer summary (CSV)"},
        ),
        tex=f"{RESULTS}/report/results.tex",
        runs=f"{RESULTS}/report/runs.csv",
        bias_plot=report(
            f"{RESULTS}/report/bias_measures.png",
            category="Plots",
            labels={"plot": "bias measures"},
        ),
        curves=report(
            f"{RESULTS}/report/training_curves.png",
            category="Plots",
            labels={"plot": "training curves"},
        ),
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../envs/report.yaml"
    params:
        script=script("report"),
        order=INITS,
        targets=TARGETS,
        published="--published" if config["report"]["published"] else "",
        out_dir=lambda wc, output: Path(output.md).parent,
    shell:
        "python {params.script} --evals {input.evals} --bias {input.bias}"
        " --b-scene {input.b_scene} --logs {input.logs} --order {params.order}"
        " --targets {params.targets} {params.published} --frame-reports {input.frames}"
        " --out-dir {params.out_dir} > {log} 2>&1"


# The optional p_bias sweep (`snakemake --cores N p_bias_sweep`): not part of the default target.
rule p_bias_sweep:
    input:
        bias=sweep_bias_files(),
    output:
        csv=f"{RESULTS}/report/p_bias_sweep.csv",
        md=f"{RESULTS}/report/p_bias_sweep.md",
        plot=report(
            f"{RESULTS}/report/p_bias_sweep.png",
            category="Plots",
            labels={"plot": "p_bias sweep"},
        ),
    log:
        f"{RESULTS}/logs/p_bias_sweep.log",
    conda:
        "../envs/report.yaml"
    params:
        script=script("p_bias_sweep"),
        points=" ".join(f"{name}={p}" for name, p in SWEEP.items()),
        order=sweep_variants(config),
    shell:
        "python {params.script} --bias {input.bias} --points {params.points}"
        " --order {params.order} --csv {output.csv} --md {output.md}"
        " --plot {output.plot} > {log} 2>&1"
