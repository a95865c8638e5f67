# Contact sheets per dataset: sampled videos with their human boxes beside the masked frame, and a row of frames
# per frequent scene label (scenebias/sheets.py). Each reads a handful of frame packs and reruns only when its
# boxes or labels, or the sheets: settings, change.


rule boxes_sheet:
    input:
        index=f"{RESULTS}/{{ds}}/frames/index.csv",
        packs=shard_files(f"{RESULTS}/{{ds}}/frames/{{shard}}/packs"),
        manifest=f"{RESULTS}/{{ds}}/manifest.csv",
        boxes=f"{RESULTS}/{{ds}}/humans/boxes.npz",
    output:
        png=report(
            f"{RESULTS}/report/{{ds}}/boxes_sheet.png",
            category="Contact sheets",
            subcategory="{ds}",
            labels={"dataset": "{ds}", "sheet": "human boxes"},
        ),
        record=f"{RESULTS}/report/{{ds}}/boxes_sheet.json",
    log:
        f"{RESULTS}/logs/sheets/{{ds}}/boxes.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("contact_sheet"),
        settings=sheet_settings("videos", "frames", "seed", "tile"),
        threshold=config["humans"]["score_threshold"],
        valid_ratio=config["humans"]["valid_ratio"],
    shell:
        "python {params.script} boxes --dataset {wildcards.ds} --index {input.index}"
        " --manifest {input.manifest} --boxes {input.boxes} --settings {params.settings:q}"
        " --score-threshold {params.threshold} --valid-ratio {params.valid_ratio}"
        " --out {output.png} --record {output.record} > {log} 2>&1"


rule scenes_sheet:
    input:
        index=f"{RESULTS}/{{ds}}/frames/index.csv",
        packs=shard_files(f"{RESULTS}/{{ds}}/frames/{{shard}}/packs"),
        labels=f"{RESULTS}/{{ds}}/scene/labels.npz",
    output:
        png=report(
            f"{RESULTS}/report/{{ds}}/scenes_sheet.png",
            category="Contact sheets",
            subcategory="{ds}",
            labels={"dataset": "{ds}", "sheet": "scene labels"},
        ),
        record=f"{RESULTS}/report/{{ds}}/scenes_sheet.json",
    log:
        f"{RESULTS}/logs/sheets/{{ds}}/scenes.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("contact_sheet"),
        settings=sheet_settings("scenes", "scene_videos", "seed", "tile"),
    shell:
        "python {params.script} scenes --dataset {wildcards.ds} --index {input.index}"
        " --labels {input.labels} --settings {params.settings:q}"
        " --out {output.png} --record {output.record} > {log} 2>&1"
