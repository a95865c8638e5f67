# Per-dataset manifest: the usable videos with labels, split roles and shards. A checkpoint, because the
# number of shards (the unit of work of the per-video stages) is only known once the lists are read.


checkpoint manifest:
    input:
        unpack(manifest_inputs),
    output:
        csv=P("manifest"),
        report=P("manifest_report"),
        hparams=sidecar(P("manifest")),
    log:
        P.log("manifest"),
    benchmark:
        P.benchmark("manifest")
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("manifest"),
        kind=lambda wc: DATASETS[wc.ds]["kind"],
        root=lambda wc: dataset_root(wc.ds),
        options=manifest_options,
        lists=manifest_subset_lists,
        shard_size=config["manifest"]["shard_size"],
    shell:
        "python {params.script} --kind {params.kind} --root {params.root:q}"
        " --options {params.options:q} --subset-lists {params.lists:q} --shard-size {params.shard_size}"
        " --out {output.csv} --report {output.report} --hparams {output.hparams} > {log} 2>&1"
