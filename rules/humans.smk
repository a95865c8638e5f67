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
        **gpu_resources(backend_gpu("humans")),
    params:
        script=script("human_boxes"),
        backend=BACKEND["humans"][0],
        stride=config["humans"]["stride"],
        settings=backend_settings("humans"),
        delegate=delegate_option("humans"),
        files=backend_flags("humans"),
        masks=box_mask_options,
    shell:
        "python {params.script} --index {input.index} --packs {input.packs}"
        " --backend {params.backend} --stride {params.stride} --settings {params.settings:q}"
        " {params.delegate} {params.files} --out {output.boxes} {params.masks} --hparams {output.hparams} > {log} 2>&1"


rule merge_human_boxes:
    input:
        shards=per_shard("shard_boxes"),
        masks=shard_mask_files(),
    output:
        boxes=P("boxes"),
        quality=P("boxes_quality"),
        hparams=sidecar(P("boxes")),
    log:
        P.log("merge_human_boxes"),
    benchmark:
        P.benchmark("merge_human_boxes")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_human_boxes"),
        backend=BACKEND["humans"][0],
        threshold=config["humans"]["score_threshold"],
        valid_ratio=config["humans"]["valid_ratio"],
        truth=truth_option("--truth-dir"),
        masks=files_option("--masks", "masks"),
    shell:
        "python {params.script} {input.shards} --out {output.boxes} --quality {output.quality}"
        " --score-threshold {params.threshold} --valid-ratio {params.valid_ratio}"
        " --backend {params.backend} {params.truth} {params.masks} --hparams {output.hparams} > {log} 2>&1"


# The agreement report (humans.agreement names a second backend): that backend on the same shards of the
# datasets both cover, then per-frame recall / precision at IoU 0.5, validity verdicts and a contact sheet of the
# frames where the two disagree most.
if AGREEMENT["humans"]:

    use rule human_boxes as human_boxes_agreement with:
        input:
            unpack(agreement_box_inputs),
        output:
            boxes=P("shard_boxes_agreement"),
            hparams=sidecar(P("shard_boxes_agreement")),
        log:
            P.log("human_boxes_agreement"),
        benchmark:
            P.benchmark("human_boxes_agreement")
        conda:
            backend_env("humans", AGREEMENT["humans"])
        resources:
            **gpu_resources(backend_gpu("humans", AGREEMENT["humans"])),
        params:  # merged into the inherited ones (script, stride): only what differs
            backend=AGREEMENT["humans"],
            settings=backend_settings("humans", AGREEMENT["humans"]),
            delegate="",
            masks="",
            files=backend_flags("humans", AGREEMENT["humans"]),

    rule boxes_agreement:
        input:
            chosen=per_shard("shard_boxes"),
            other=per_shard("shard_boxes_agreement"),
            index=P("frame_index"),
            packs=per_shard("shard_packs"),
        output:
            json=P("boxes_agreement"),
            png=report(
                f"{P('sheet', sheet='boxes_agreement')}.png",
                category="Contact sheets",
                subcategory="{ds}",
                labels={"dataset": "{ds}", "sheet": "human boxes: agreement"},
            ),
            record=f"{P('sheet', sheet='boxes_agreement')}.json",
            hparams=sidecar(P("boxes_agreement")),
        log:
            P.log("boxes_agreement"),
        benchmark:
            P.benchmark("boxes_agreement")
        conda:
            "../envs/torch.yaml"
        params:
            script=script("agreement"),
            names=f"--names {BACKEND['humans'][0]} {AGREEMENT['humans']}",
            threshold=config["humans"]["score_threshold"],
            valid_ratio=config["humans"]["valid_ratio"],
            settings=sheet_settings("boxes"),
        shell:
            "python {params.script} boxes --chosen {input.chosen} --other {input.other}"
            " {params.names} --index {input.index} --score-threshold {params.threshold}"
            " --valid-ratio {params.valid_ratio} --settings {params.settings:q} --dataset {wildcards.ds}"
            " --out {output.json} --sheet {output.png} --record {output.record}"
            " --hparams {output.hparams} > {log} 2>&1"
