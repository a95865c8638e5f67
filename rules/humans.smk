# Per-frame human boxes per shard (motion, torchvision, detectron2 or oracle), merged per dataset with quality.


rule human_boxes:
    input:
        unpack(human_box_inputs),
    output:
        P("shard_boxes"),
    log:
        f"{LOGS}/humans/{{ds}}/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/humans/{{ds}}/{{shard}}.tsv"
    conda:
        (
            "../envs/detectron2.yaml"
            if config["humans"]["backend"] == "detectron2"
            else "../envs/torch.yaml"
        )
    resources:
        gpu=gpus_of(BOX_BACKEND.uses_network),
    params:
        script=script("human_boxes"),
        backend=config["humans"]["backend"],
        stride=config["humans"]["stride"],
        settings=json.dumps(
            config["humans"].get(config["humans"]["backend"], {}), sort_keys=True
        ),
        files=input_flags(**{name: f"--{name}" for name in BOX_BACKEND.inputs}),
    shell:
        "python {params.script} --index {input.index} --packs {input.packs}"
        " --backend {params.backend} --stride {params.stride} --settings {params.settings:q}"
        " {params.files} --out {output} > {log} 2>&1"


rule merge_human_boxes:
    input:
        per_shard("shard_boxes"),
    output:
        boxes=P("boxes"),
        quality=P("boxes_quality"),
    log:
        f"{LOGS}/humans/{{ds}}/merge.log",
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
