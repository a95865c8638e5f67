# Frame extraction per shard (ffmpeg), then one merged index per dataset.


rule extract_frames:
    input:
        manifest=P("manifest"),
        report=P("manifest_report"),
    output:
        index=P("shard_frame_index"),
        packs=directory(P("shard_packs")),
        hparams=P("shard_frames_hparams"),
    log:
        P.log("extract_frames"),
    benchmark:
        P.benchmark("extract_frames")
    conda:
        "../envs/ffmpeg.yaml"
    threads: config["frames"]["workers"]
    params:
        script=script("extract_frames"),
        short_side=config["frames"]["short_side"],
        jpeg_qscale=config["frames"]["jpeg_qscale"],
        jpeg_chroma=config["frames"]["jpeg_chroma"],
        on_bad_video=config["frames"]["on_bad_video"],
    shell:
        "python {params.script} --manifest {input.manifest} --shard {wildcards.shard}"
        " --manifest-report {input.report} --packs {output.packs} --index {output.index}"
        " --hparams {output.hparams}"
        " --short-side {params.short_side} --jpeg-qscale {params.jpeg_qscale} --jpeg-chroma {params.jpeg_chroma}"
        " --on-bad-video {params.on_bad_video} --workers {threads} > {log} 2>&1"


rule merge_frame_index:
    input:
        per_shard("shard_frame_index"),
    output:
        index=P("frame_index"),
        report=P("frames_report"),
        hparams=sidecar(P("frame_index")),
    log:
        P.log("merge_frame_index"),
    benchmark:
        P.benchmark("merge_frame_index")
    localrule: True
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("merge_frame_index"),
    shell:
        "python {params.script} {input} --out {output.index}"
        " --report {output.report} --hparams {output.hparams} > {log} 2>&1"
