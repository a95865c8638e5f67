# Render the synthetic world (docs/design.md §6): one job per synthetic dataset.


rule synthesize_dataset:
    output:
        classes=f"{P('world')}/lists/classInd.txt",
        truth=f"{P('world')}/ground_truth.csv",
        videos=directory(f"{P('world')}/videos"),
    log:
        f"{LOGS}/synthesize/{{ds}}.log",
    benchmark:
        f"{BENCHMARKS}/synthesize/{{ds}}.tsv"
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("synthesize"),
        world=lambda wc: world_params(wc.ds),
        out=lambda wc: os.path.dirname(P("world", ds=wc.ds)),
    shell:
        "python {params.script} --world {params.world:q} --dataset {wildcards.ds}"
        " --out {params.out} > {log} 2>&1"
