# Scene pseudo-labels per shard: k-means on appearance features (offline) or the Places365 ResNet-50.


rule scene_features:
    input:
        unpack(scene_feature_inputs),
    output:
        P("shard_scene_features"),
    log:
        f"{LOGS}/scene/{{ds}}/features_{{shard}}.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("scene_features"),
        frames_per_video=SCENE["frames_per_video"],
        threshold=config["humans"]["score_threshold"],
        boxes=input_flags(boxes="--boxes"),
    shell:
        "python {params.script} --index {input.index} --packs {input.packs} {params.boxes}"
        " --frames-per-video {params.frames_per_video} --score-threshold {params.threshold}"
        " --out {output} > {log} 2>&1"


rule fit_scene_kmeans:
    input:
        features=per_shard("shard_scene_features", SCENE["kmeans"]["fit_on"]),
        manifest=P("manifest", ds=SCENE["kmeans"]["fit_on"]),
    output:
        P("scene_kmeans"),
    log:
        f"{LOGS}/scene/fit_kmeans.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("fit_scene_kmeans"),
        k=SCENE["kmeans"]["k"],
        seed=SCENE["kmeans"]["seed"],
    shell:
        "python {params.script} {input.features} --manifest {input.manifest}"
        " --k {params.k} --seed {params.seed} --out {output} > {log} 2>&1"


rule scene_labels:
    input:
        unpack(scene_label_inputs),
    output:
        P("shard_scene_labels"),
    log:
        f"{LOGS}/scene/{{ds}}/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/scene/{{ds}}/{{shard}}.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        gpu=gpus_of(LABELLERS[SCENE["backend"]].uses_network),
    params:
        script=script("scene_labels"),
        backend=SCENE["backend"],
        settings=scene_label_settings(),
        files=input_flags(
            **{name: f"--{name}" for name in LABELLERS[SCENE["backend"]].inputs}
        ),
    shell:
        "python {params.script} --backend {params.backend} --settings {params.settings:q}"
        " {params.files} --out {output} > {log} 2>&1"


rule merge_scene_labels:
    input:
        per_shard("shard_scene_labels"),
    output:
        labels=P("scene_labels"),
        quality=P("scene_quality"),
    log:
        f"{LOGS}/scene/{{ds}}/merge.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_scene_labels"),
        truth=truth_option("--truth", "ground_truth.csv"),
    shell:
        "python {params.script} {input} --out {output.labels} --quality {output.quality}"
        " {params.truth} > {log} 2>&1"
