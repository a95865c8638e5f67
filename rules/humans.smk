# Per-frame human boxes per shard with the configured backend (scenebias.humans.stage.BOX_BACKENDS), merged per
# dataset with quality.


rule human_boxes:
    input:
        unpack(human_box_inputs),
    output:
        **box_mask_outputs(),
        boxes=P("shard_boxes"),
        hparams=sidecar(P("shard_boxes")),
    log:
        P.log("human_boxes"),
    benchmark:
        P.benchmark("human_boxes")
    conda:
        backend_env("humans")
    resources:
        gpu=gpus_of(BACKEND["humans"][1].uses_network),
    params:
        script=script("human_boxes"),
        backend=BACKEND["humans"][0],
        stride=config["humans"]["stride"],
        settings=backend_settings("humans"),
        files=backend_flags("humans"),
        masks=box_mask_options,
    shell:
        "python {params.script} --index {input.index} --packs {input.packs}"
        " --backend {params.backend} --stride {params.stride} --settings {params.settings:q}"
        " {params.files} --out {output.boxes} {params.masks} > {log} 2>&1"


rule merge_human_boxes:
    input:
        shards=per_shard("shard_boxes"),
        masks=shard_mask_files(),
    output:
        boxes=P("boxes"),
        quality=P("boxes_quality"),
    log:
        P.log("merge_human_boxes"),
    benchmark:
        P.benchmark("merge_human_boxes")
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_human_boxes"),
        threshold=config["humans"]["score_threshold"],
        valid_ratio=config["humans"]["valid_ratio"],
        truth=truth_option("--truth-dir"),
        masks=files_option("--masks", "masks"),
    shell:
        "python {params.script} {input.shards} --out {output.boxes} --quality {output.quality}"
        " --score-threshold {params.threshold} --valid-ratio {params.valid_ratio}"
        " {params.truth} {params.masks} > {log} 2>&1"
