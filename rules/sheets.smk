# Contact sheets per dataset: sampled videos with their human boxes beside the masked frame, and a row of frames
# per frequent scene label (scenebias/sheets/). Each reads a handful of frame packs and reruns only when its
# boxes or labels, or the sheets: settings, change.


rule boxes_sheet:
    input:
        index=P("frame_index"),
        packs=per_shard("shard_packs"),
        manifest=P("manifest"),
        boxes=P("boxes"),
    output:
        png=report(
            f"{P('sheet', sheet='boxes')}.png",
            category="Contact sheets",
            subcategory="{ds}",
            labels={"dataset": "{ds}", "sheet": "human boxes"},
        ),
        record=f"{P('sheet', sheet='boxes')}.json",
        hparams=sidecar(P("sheet", sheet="boxes")),
    log:
        P.log("boxes_sheet"),
    benchmark:
        P.benchmark("boxes_sheet")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("contact_sheet"),
        settings=sheet_settings("boxes"),
        threshold=config["humans"]["score_threshold"],
        valid_ratio=config["humans"]["valid_ratio"],
    shell:
        "python {params.script} boxes --dataset {wildcards.ds} --index {input.index}"
        " --manifest {input.manifest} --boxes {input.boxes} --settings {params.settings:q}"
        " --score-threshold {params.threshold} --valid-ratio {params.valid_ratio}"
        " --out {output.png} --record {output.record} --hparams {output.hparams} > {log} 2>&1"


rule scenes_sheet:
    input:
        index=P("frame_index"),
        packs=per_shard("shard_packs"),
        labels=P("scene_labels"),
    output:
        png=report(
            f"{P('sheet', sheet='scenes')}.png",
            category="Contact sheets",
            subcategory="{ds}",
            labels={"dataset": "{ds}", "sheet": "scene labels"},
        ),
        record=f"{P('sheet', sheet='scenes')}.json",
        hparams=sidecar(P("sheet", sheet="scenes")),
    log:
        P.log("scenes_sheet"),
    benchmark:
        P.benchmark("scenes_sheet")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("contact_sheet"),
        settings=sheet_settings("scenes"),
    shell:
        "python {params.script} scenes --dataset {wildcards.ds} --index {input.index}"
        " --labels {input.labels} --settings {params.settings:q}"
        " --out {output.png} --record {output.record} --hparams {output.hparams} > {log} 2>&1"
