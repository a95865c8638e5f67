# Render the synthetic world (docs/design.md §6): one job per synthetic dataset.


rule synthesize_dataset:
    output:
        classes=f"{RESULTS}/world/{{ds}}/lists/classInd.txt",
        truth=f"{RESULTS}/world/{{ds}}/ground_truth.csv",
        videos=directory(f"{RESULTS}/world/{{ds}}/videos"),
    log:
        f"{RESULTS}/logs/synthesize/{{ds}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthesize/{{ds}}.tsv"
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("synthesize"),
        world=lambda wc: world_params(wc.ds),
        out=lambda wc, output: Path(output.classes).parents[2],
    shell:
        "python {params.script} --world {params.world:q} --dataset {wildcards.ds}"
        " --out {params.out} > {log} 2>&1"
