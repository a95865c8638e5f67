# Pretraining variants on the source dataset, and fine-tuning of every variant (and scratch) on each target.
# Resumable checkpoints live in results/checkpoints/, outside the declared outputs (Snakemake deletes those
# before rerunning a job); a finished run removes its checkpoint.


rule pretrain:
    input:
        unpack(pretrain_inputs),
    output:
        **run_outputs("pretrain_run", "model", "metrics", "log", "hparams"),
    log:
        P.log("pretrain"),
    benchmark:
        P.benchmark("pretrain")
    priority: lambda wc: PRETRAIN_PRIORITIES[wc.variant]
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        **gpu_resources(GPUS),
    params:
        script=script("train"),
        launcher=launcher(),
        settings=lambda wc: json.dumps(
            pretrain_settings(config, wc.variant, int(wc.seed)), sort_keys=True
        ),
        manifest=manifest_version("src"),
        split=config["pretrain"]["split"],
        train_roles=" ".join(config["pretrain"]["train_roles"]),
        val_roles=" ".join(config["pretrain"]["val_roles"]),
        options=input_flags(scene="--scene-labels", boxes="--boxes", init="--init"),
        out_dir=lambda wc, output: Path(output.model).parent,
        ckpt=lambda wc: checkpoint_dir("pretrain_run", **wc),
    shell:
        "{params.launcher} {params.script} --settings {params.settings:q}"
        " --manifest {input.manifest} --frames {input.frames} --split {params.split}"
        " --train-roles {params.train_roles} --val-roles {params.val_roles} {params.options}"
        " --out-dir {params.out_dir} --ckpt-dir {params.ckpt} > {log} 2>&1"


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        **run_outputs(
            "finetune_run", "model", "metrics", "log", "hparams", "eval", "predictions"
        ),
    log:
        P.log("finetune"),
    benchmark:
        P.benchmark("finetune")
    conda:
        "../envs/torch.yaml"
    threads: config["compute"]["threads"]
    resources:
        **gpu_resources(GPUS),
    params:
        script=script("train"),
        launcher=launcher(),
        settings=lambda wc: json.dumps(
            finetune_settings(config, wc.tgt, int(wc.seed)), sort_keys=True
        ),
        manifest=finetune_manifest_version,
        options=input_flags(init="--init"),
        out_dir=lambda wc, output: Path(output.model).parent,
        ckpt=lambda wc: checkpoint_dir("finetune_run", **wc),
        eval_batch_size=config["bias"]["batch_size"],
    shell:
        "{params.launcher} {params.script} --settings {params.settings:q}"
        " --manifest {input.manifest} --frames {input.frames} --split {wildcards.split}"
        " --train-roles train {params.options} --new-classifier"
        " --out-dir {params.out_dir} --ckpt-dir {params.ckpt}"
        " --eval-out {output.eval} --predictions {output.predictions} --eval-roles test"
        " --eval-batch-size {params.eval_batch_size} > {log} 2>&1"
