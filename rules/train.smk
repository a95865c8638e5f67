# Pretraining variants on the source dataset, and fine-tuning of every variant (and scratch) on each target.
# Resumable checkpoints live in results/checkpoints/, outside the declared outputs (Snakemake deletes those
# before rerunning a job); a finished run removes its checkpoint.


rule pretrain:
    input:
        unpack(pretrain_inputs),
    output:
        model=f"{RESULTS}/{{src}}/pretrain/{{variant}}/seed{{seed}}/model.pt",
        metrics=f"{RESULTS}/{{src}}/pretrain/{{variant}}/seed{{seed}}/metrics.json",
        log=f"{RESULTS}/{{src}}/pretrain/{{variant}}/seed{{seed}}/log.csv",
    log:
        f"{RESULTS}/logs/pretrain/{{src}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain/{{src}}/{{variant}}/seed{{seed}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=GPUS,
    params:
        script=script("train"),
        launcher=launcher(),
        settings=lambda wc: json.dumps(
            pretrain_settings(config, wc.variant, int(wc.seed)), sort_keys=True
        ),
        split=config["pretrain"]["split"],
        train_roles=" ".join(config["pretrain"]["train_roles"]),
        val_roles=" ".join(config["pretrain"]["val_roles"]),
        options=train_options,
        out_dir=lambda wc, output: Path(output.model).parent,
        ckpt=lambda wc: f"{RESULTS}/checkpoints/pretrain/{wc.src}/{wc.variant}/seed{wc.seed}",
    shell:
        "{params.launcher} {params.script} --settings {params.settings:q}"
        " --manifest {input.manifest} --frames {input.frames} --split {params.split}"
        " --train-roles {params.train_roles} --val-roles {params.val_roles} {params.options}"
        " --out-dir {params.out_dir} --ckpt-dir {params.ckpt} > {log} 2>&1"


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/model.pt",
        metrics=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/metrics.json",
        log=f"{RESULTS}/{{tgt}}/finetune/{{init}}/split{{split}}/seed{{seed}}/log.csv",
    log:
        f"{RESULTS}/logs/finetune/{{tgt}}/{{init}}/split{{split}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/finetune/{{tgt}}/{{init}}/split{{split}}/seed{{seed}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        gpu=GPUS,
    params:
        script=script("train"),
        launcher=launcher(),
        settings=lambda wc: json.dumps(
            finetune_settings(config, wc.tgt, int(wc.seed)), sort_keys=True
        ),
        options=lambda wc, input: (
            f"--init {input.init} --new-classifier" if "init" in input.keys() else ""
        ),
        out_dir=lambda wc, output: Path(output.model).parent,
        ckpt=lambda wc: f"{RESULTS}/checkpoints/finetune/{wc.tgt}/{wc.init}/split{wc.split}/seed{wc.seed}",
    shell:
        "{params.launcher} {params.script} --settings {params.settings:q}"
        " --manifest {input.manifest} --frames {input.frames} --split {wildcards.split}"
        " --train-roles train {params.options}"
        " --out-dir {params.out_dir} --ckpt-dir {params.ckpt} > {log} 2>&1"
