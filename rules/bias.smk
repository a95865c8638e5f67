# Bias measures of every pretrained model and B_scene of every dataset. (Each fine-tuned model is evaluated with the
# paper's protocol by its own fine-tuning job, rules/train.smk.)


rule bias_measures:
    input:
        model=P.run("pretrain_run", "model"),
        manifest=P("manifest", ds="{src}"),
        frames=P("frame_index", ds="{src}"),
        scene=P("scene_labels", ds="{src}"),
        boxes=P("boxes", ds="{src}"),
    output:
        bias=P("bias"),
        hparams=sidecar(P("bias")),
    log:
        P.log("bias_measures"),
    benchmark:
        P.benchmark("bias_measures")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        **gpu_resources(gpus_of()),
    params:
        script=script("bias_measures"),
        truth=truth_option("--truth", "truth", "src"),
        split=config["pretrain"]["split"],
        seed=config["bias"]["probe_seed"],
        batch_size=config["bias"]["batch_size"],
    shell:
        "python {params.script} --model {input.model} --manifest {input.manifest}"
        " --frames {input.frames} --scene-labels {input.scene} --boxes {input.boxes}"
        " {params.truth} --split {params.split} --probe-seed {params.seed}"
        " --batch-size {params.batch_size} --threads {threads} --out {output.bias}"
        " --hparams {output.hparams} > {log} 2>&1"


rule b_scene:
    input:
        features=b_scene_features,
        manifest=P("manifest"),
    output:
        b_scene=P("b_scene"),
        hparams=sidecar(P("b_scene")),
    log:
        P.log("b_scene"),
    benchmark:
        P.benchmark("b_scene")
    conda:
        "../envs/torch.yaml"
    params:
        script=script("b_scene"),
        key=BACKEND["scene"][1].b_scene[1],
        seed=config["bias"]["probe_seed"],
    shell:
        "python {params.script} {input.features} --key {params.key}"
        " --manifest {input.manifest} --seed {params.seed} --out {output.b_scene}"
        " --hparams {output.hparams} > {log} 2>&1"
