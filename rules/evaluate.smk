# Evaluation (the paper's protocol) of every fine-tuned model, bias measures of every pretrained model, and
# B_scene of every dataset.


rule evaluate:
    input:
        model=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/model.pt",
        manifest=f"{RESULTS}/{{tgt}}/manifest.csv",
        frames=f"{RESULTS}/{{tgt}}/frames/index.csv",
    output:
        eval=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/eval.json",
        predictions=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/predictions.csv",
    log:
        f"{RESULTS}/logs/evaluate/{{tgt}}/{{init}}/split{{split}}/seed{{seed}}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=gpus_of(),
    params:
        script=script("evaluate"),
        batch_size=config["bias"]["batch_size"],
    shell:
        "python {params.script} --model {input.model} --manifest {input.manifest}"
        " --frames {input.frames} --split {wildcards.split} --roles test"
        " --batch-size {params.batch_size} --threads {threads}"
        " --out {output.eval} --predictions {output.predictions} > {log} 2>&1"


rule bias_measures:
    input:
        model=f"{RESULTS}/{{src}}/pretrain/{{variant}}/seed{{seed}}/model.pt",
        manifest=f"{RESULTS}/{{src}}/manifest.csv",
        frames=f"{RESULTS}/{{src}}/frames/index.csv",
        scene=f"{RESULTS}/{{src}}/scene/labels.npz",
        boxes=f"{RESULTS}/{{src}}/humans/boxes.npz",
    output:
        f"{RESULTS}/{{src}}/bias/{{variant}}/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/bias/{{src}}/{{variant}}/seed{{seed}}.log",
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=gpus_of(),
    params:
        script=script("bias_measures"),
        truth=truth_option,
        split=config["pretrain"]["split"],
        seed=config["bias"]["probe_seed"],
        batch_size=config["bias"]["batch_size"],
    shell:
        "python {params.script} --model {input.model} --manifest {input.manifest}"
        " --frames {input.frames} --scene-labels {input.scene} --boxes {input.boxes}"
        " {params.truth} --split {params.split} --probe-seed {params.seed}"
        " --batch-size {params.batch_size} --threads {threads} --out {output} > {log} 2>&1"


rule b_scene:
    input:
        features=b_scene_features,
        manifest=f"{RESULTS}/{{ds}}/manifest.csv",
    output:
        f"{RESULTS}/{{ds}}/bias/b_scene.json",
    log:
        f"{RESULTS}/logs/bias/b_scene_{{ds}}.log",
    conda:
        "../envs/torch.yaml"
    params:
        script=script("b_scene"),
        key="features" if config["scene"]["backend"] == "kmeans" else "soft",
        seed=config["bias"]["probe_seed"],
    shell:
        "python {params.script} {input.features} --key {params.key}"
        " --manifest {input.manifest} --seed {params.seed} --out {output} > {log} 2>&1"
