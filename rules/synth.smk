# Render the scene-biased world (docs/design.md §6): one job per rendered dataset.


rule synthesize_dataset:
    output:
        **{
            file: (
                directory(P.world(file)) if file in WORLD_FOLDERS else P.world(file)
            )
            for file in WORLD_FILES
        },
    log:
        P.log("synthesize_dataset"),
    benchmark:
        P.benchmark("synthesize_dataset")
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("synthesize"),
        world=lambda wc: world_params(wc.ds),
        out=lambda wc: os.path.dirname(P("world", ds=wc.ds)),
    shell:
        "python {params.script} --world {params.world:q} --dataset {wildcards.ds}"
        " --out {params.out} > {log} 2>&1"
