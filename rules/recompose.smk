# Recomposed test sets of the source and every target (scenebias.recompose), built once per dataset from its test
# videos and the box backend's person masks; every model of the dataset measured on them; a contact sheet per set.


rule recompose:
    input:
        manifest=manifest_file(),
        frames=P("frame_index"),
        packs=per_shard("shard_packs"),
        masks=shard_mask_files(),
        boxes=[] if HUMAN_MASKS else P("boxes"),
        truth=truth_files("actor_masks", "truth"),
    output:
        index=P("recomposed_index"),
        manifest=P("recomposed_manifest"),
        videos=P("recomposed_videos"),
        record=P("recomposed_record"),
        sets=directory(P("recomposed_sets")),
        hparams=sidecar(P("recomposed_record")),
    log:
        P.log("recompose"),
    benchmark:
        P.benchmark("recompose")
    conda:
        "../envs/torch.yaml"
    params:
        script=script("recompose"),
        manifest=manifest_version(),
        splits=lambda wc: " ".join(map(str, recompose_splits(wc.ds))),
        source=recompose_source,
        settings=json.dumps(config["recompose"], sort_keys=True),
        chroma=config["frames"]["jpeg_chroma"],
        truth=truth_option("--truth-dir"),
    shell:
        "python {params.script} --manifest {input.manifest} --frames {input.frames}"
        " --splits {params.splits} {params.source} --settings {params.settings:q}"
        " --jpeg-chroma {params.chroma} {params.truth} --sets {output.sets} --index {output.index}"
        " --manifest-out {output.manifest} --videos {output.videos} --record {output.record}"
        " --hparams {output.hparams} > {log} 2>&1"


rule recomposed_measures:
    input:
        index=P("recomposed_index"),
        manifest=P("recomposed_manifest"),
        videos=P("recomposed_videos"),
        sets=P("recomposed_sets"),
        models=recomposed_models,
    output:
        measures=P("recomposed_measures"),
        hparams=sidecar(P("recomposed_measures")),
    log:
        P.log("recomposed_measures"),
    benchmark:
        P.benchmark("recomposed_measures")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        **gpu_resources(gpus_of()),
    params:
        script=script("recomposed_measures"),
        runs=lambda wc: json.dumps([run for _, run in recomposed_runs(wc.ds)]),
        batch_size=config["bias"]["batch_size"],
    shell:
        "python {params.script} --models {input.models} --runs {params.runs:q}"
        " --manifest {input.manifest} --index {input.index} --videos {input.videos}"
        " --batch-size {params.batch_size} --threads {threads} --out {output.measures}"
        " --hparams {output.hparams} > {log} 2>&1"


rule recomposed_sheets:
    input:
        index=P("recomposed_index"),
        videos=P("recomposed_videos"),
        sets=P("recomposed_sets"),
        frames=P("frame_index"),
        packs=per_shard("shard_packs"),
    output:
        sheets=directory(P("recomposed_sheets")),
        hparams=sidecar(P("recomposed_sheets")),
    log:
        P.log("recomposed_sheets"),
    benchmark:
        P.benchmark("recomposed_sheets")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("contact_sheet"),
        settings=sheet_settings("boxes"),
    shell:
        "python {params.script} recomposed --dataset {wildcards.ds} --index {input.frames}"
        " --recomposed {input.index} --videos {input.videos} --settings {params.settings:q}"
        " --out {output.sheets} --hparams {output.hparams} > {log} 2>&1"
