# Scene pseudo-labels per shard with the configured labeller (scenebias.scene.LABELLERS): appearance features and
# a model fitted on them (k-means), or a pretrained classifier (the paper's Places365 ResNet-50).


rule scene_features:
    input:
        unpack(scene_feature_inputs),
    output:
        features=P("shard_scene_features"),
        hparams=sidecar(P("shard_scene_features")),
    log:
        P.log("scene_features"),
    benchmark:
        P.benchmark("scene_features")
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
        " --out {output.features} --hparams {output.hparams} > {log} 2>&1"


rule fit_scene_model:
    input:
        unpack(scene_model_inputs),
    output:
        model=P("scene_model"),
        hparams=sidecar(P("scene_model")),
    log:
        P.log("fit_scene_model"),
    benchmark:
        P.benchmark("fit_scene_model")
    conda:
        "../envs/torch.yaml"
    params:
        script=script("fit_scene_model"),
        manifest=lambda wc: manifest_version(ds=BACKEND["scene"][2]["fit_on"])(wc),
        k=lambda wc: BACKEND["scene"][2]["k"],
        seed=lambda wc: BACKEND["scene"][2]["seed"],
    shell:
        "python {params.script} {input.features} --manifest {input.manifest}"
        " --k {params.k} --seed {params.seed} --out {output.model} > {log} 2>&1"


rule scene_labels:
    input:
        unpack(backend_inputs("scene")),
    output:
        labels=P("shard_scene_labels"),
        hparams=sidecar(P("shard_scene_labels")),
    log:
        P.log("scene_labels"),
    benchmark:
        P.benchmark("scene_labels")
    conda:
        backend_env("scene")
    resources:
        **gpu_resources(backend_gpu("scene")),
    params:
        script=script("scene_labels"),
        backend=BACKEND["scene"][0],
        settings=backend_settings("scene", frames_per_video=SCENE["frames_per_video"]),
        delegate=delegate_option("scene", frames_per_video=SCENE["frames_per_video"]),
        files=backend_flags("scene"),
    shell:
        "python {params.script} --backend {params.backend} --settings {params.settings:q}"
        " {params.delegate} {params.files} --out {output.labels} --hparams {output.hparams} > {log} 2>&1"


rule merge_scene_labels:
    input:
        per_shard("shard_scene_labels"),
    output:
        labels=P("scene_labels"),
        quality=P("scene_quality"),
        hparams=sidecar(P("scene_labels")),
    log:
        P.log("merge_scene_labels"),
    benchmark:
        P.benchmark("merge_scene_labels")
    localrule: True
    conda:
        "../envs/torch.yaml"
    params:
        script=script("merge_scene_labels"),
        truth=truth_option("--truth", "truth"),
    shell:
        "python {params.script} {input} --out {output.labels} --quality {output.quality}"
        " {params.truth} --hparams {output.hparams} > {log} 2>&1"


# The agreement report (scene.agreement names a second labeller giving the same classes): that labeller on the
# same shards of the datasets both cover, then top-1 agreement, mean KL divergence of the soft labels and a
# contact sheet of the videos where the two disagree most.
if AGREEMENT["scene"]:

    use rule scene_labels as scene_labels_agreement with:
        input:
            unpack(backend_inputs("scene", AGREEMENT["scene"])),
        output:
            labels=P("shard_scene_labels_agreement"),
            hparams=sidecar(P("shard_scene_labels_agreement")),
        log:
            P.log("scene_labels_agreement"),
        benchmark:
            P.benchmark("scene_labels_agreement")
        conda:
            backend_env("scene", AGREEMENT["scene"])
        resources:
            **gpu_resources(backend_gpu("scene", AGREEMENT["scene"])),
        params:  # merged into the inherited ones (script): only what differs
            backend=AGREEMENT["scene"],
            settings=backend_settings(
                "scene", AGREEMENT["scene"], frames_per_video=SCENE["frames_per_video"]
            ),
            delegate="",
            files=backend_flags("scene", AGREEMENT["scene"]),

    rule scene_agreement:
        input:
            chosen=per_shard("shard_scene_labels"),
            other=per_shard("shard_scene_labels_agreement"),
            index=P("frame_index"),
            packs=per_shard("shard_packs"),
        output:
            json=P("scene_agreement"),
            png=report(
                f"{P('sheet', sheet='scenes_agreement')}.png",
                category="Contact sheets",
                subcategory="{ds}",
                labels={"dataset": "{ds}", "sheet": "scene labels: agreement"},
            ),
            record=f"{P('sheet', sheet='scenes_agreement')}.json",
            hparams=sidecar(P("scene_agreement")),
        log:
            P.log("scene_agreement"),
        benchmark:
            P.benchmark("scene_agreement")
        conda:
            "../envs/torch.yaml"
        params:
            script=script("agreement"),
            names=f"--names {BACKEND['scene'][0]} {AGREEMENT['scene']}",
            settings=sheet_settings("scenes"),
        shell:
            "python {params.script} scenes --chosen {input.chosen} --other {input.other}"
            " {params.names} --index {input.index} --settings {params.settings:q}"
            " --dataset {wildcards.ds} --out {output.json} --sheet {output.png}"
            " --record {output.record} --hparams {output.hparams} > {log} 2>&1"
