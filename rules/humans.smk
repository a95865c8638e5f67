# Per-frame human boxes per shard with the configured backend (scenebias.humans.stage.BOX_BACKENDS), merged per
# dataset with quality.


rule human_boxes:
    input:
        unpack(human_box_inputs),
    output:
        boxes=P("shard_boxes"),
        hparams=sidecar(P("shard_boxes")),
    log:
        P.log("human_boxes"),
    benchmark:
        P.benchmark("human_boxes")
    conda:
        backend_env("humans")
    resources:
        **gpu_resources(gpus_of(BACKEND["humans"][1].uses_network)),
    params:
        script=script("human_boxes"),
        backend=BACKEND["humans"][0],
        stride=config["humans"]["stride"],
        settings=backend_settings("humans"),
        files=backend_flags("humans"),
    shell:
        "python {params.script} --index {input.index} --packs {input.packs}"
        " --backend {params.backend} --stride {params.stride} --settings {params.settings:q}"
        " {params.files} --out {output.boxes} > {log} 2>&1"


rule merge_human_boxes:
    input:
        per_shard("shard_boxes"),
    output:
        boxes=P("boxes"),
        quality=P("boxes_quality"),
    log:
        P.log("merge_human_boxes"),
    benchmark:
        P.benchmark("merge_human_boxes")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_human_boxes"),
        threshold=config["humans"]["score_threshold"],
        valid_ratio=config["humans"]["valid_ratio"],
        truth=truth_option("--truth-dir"),
    shell:
        "python {params.script} {input} --out {output.boxes} --quality {output.quality}"
        " --score-threshold {params.threshold} --valid-ratio {params.valid_ratio}"
        " {params.truth} > {log} 2>&1"
