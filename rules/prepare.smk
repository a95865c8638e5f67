# A backend's preparation, once per run before its per-shard jobs (scenebias.backends.Preparation): e.g. the
# authors' released files (gigabytes of pickles) read once into an indexed store that every shard job memory-maps.


rule prepare_backend:
    input:
        unpack(prepare_files),
    output:
        directory(P("backend_prepared")),
    log:
        P.log("prepare_backend"),
    benchmark:
        P.benchmark("prepare_backend")
    conda:
        "../envs/torch.yaml"
    params:
        script=script("prepare_backend"),
        settings=lambda wc: backend_settings(wc.section, wc.backend),
        files=prepare_flags,
    shell:
        "python {params.script} --section {wildcards.section} --backend {wildcards.backend}"
        " --settings {params.settings:q} {params.files} --out {output} > {log} 2>&1"
