# Scene pseudo-labels per shard: k-means on appearance features (offline) or the Places365 ResNet-50.


rule scene_features:
    input:
        unpack(scene_feature_inputs),
    output:
        f"{RESULTS}/{{ds}}/scene/features/{{shard}}.npz",
    log:
        f"{RESULTS}/logs/scene/{{ds}}/features_{{shard}}.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("scene_features"),
        frames_per_video=SCENE["frames_per_video"],
        threshold=config["humans"]["score_threshold"],
        boxes=boxes_option,
    shell:
        "python {params.script} --index {input.index} --packs {input.packs} {params.boxes}"
        " --frames-per-video {params.frames_per_video} --score-threshold {params.threshold}"
        " --out {output} > {log} 2>&1"


rule fit_scene_kmeans:
    input:
        features=kmeans_fit_features,
        manifest=f"{RESULTS}/{SCENE['kmeans']['fit_on']}/manifest.csv",
    output:
        KMEANS_MODEL,
    log:
        f"{RESULTS}/logs/scene/fit_kmeans.log",
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
        f"{RESULTS}/{{ds}}/scene/{{shard}}.npz",
    log:
        f"{RESULTS}/logs/scene/{{ds}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/scene/{{ds}}/{{shard}}.tsv"
    conda:
        "../envs/torch.yaml"
    resources:
        gpu=gpus_of(SCENE["backend"] == "places365"),
    params:
        script=script("scene_labels"),
        backend=SCENE["backend"],
        options=scene_label_options,
    shell:
        "python {params.script} --backend {params.backend} {params.options}"
        " --out {output} > {log} 2>&1"


rule merge_scene_labels:
    input:
        shard_files(f"{RESULTS}/{{ds}}/scene/{{shard}}.npz"),
    output:
        labels=f"{RESULTS}/{{ds}}/scene/labels.npz",
        quality=f"{RESULTS}/{{ds}}/scene/quality.json",
    log:
        f"{RESULTS}/logs/scene/{{ds}}/merge.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_scene_labels"),
        truth=label_truth_option,
    shell:
        "python {params.script} {input} --out {output.labels} --quality {output.quality}"
        " {params.truth} > {log} 2>&1"
