# Frame extraction per shard (ffmpeg), then one merged index per dataset.


rule extract_frames:
    input:
        manifest=P("manifest"),
        report=P("manifest_report"),
    output:
        index=f"{P('shard_frames')}/index.csv",
        packs=directory(f"{P('shard_frames')}/packs"),
    log:
        f"{LOGS}/frames/{{ds}}/{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/frames/{{ds}}/{{shard}}.tsv"
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
        " --short-side {params.short_side} --jpeg-qscale {params.jpeg_qscale} --jpeg-chroma {params.jpeg_chroma}"
        " --on-bad-video {params.on_bad_video} --workers {threads} > {log} 2>&1"


rule merge_frame_index:
    input:
        per_shard("shard_frames", file="index.csv"),
    output:
        index=P("frame_index"),
        report=P("frames_report"),
    log:
        f"{LOGS}/frames/{{ds}}/merge.log",
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("merge_frame_index"),
    shell:
        "python {params.script} {input} --out {output.index}"
        " --report {output.report} > {log} 2>&1"
