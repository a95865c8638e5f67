# Frame extraction per shard (ffmpeg), then one merged index per dataset.


rule extract_frames:
    input:
        manifest=f"{RESULTS}/{{ds}}/manifest.csv",
        report=f"{RESULTS}/{{ds}}/manifest_report.json",
    output:
        index=f"{RESULTS}/{{ds}}/frames/{{shard}}/index.csv",
        packs=directory(f"{RESULTS}/{{ds}}/frames/{{shard}}/packs"),
    log:
        f"{RESULTS}/logs/frames/{{ds}}/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/frames/{{ds}}/{{shard}}.tsv"
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
        frame_indexes,
    output:
        index=f"{RESULTS}/{{ds}}/frames/index.csv",
        report=f"{RESULTS}/{{ds}}/frames/report.json",
    log:
        f"{RESULTS}/logs/frames/{{ds}}/merge.log",
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("merge_frame_index"),
    shell:
        "python {params.script} {input} --out {output.index}"
        " --report {output.report} > {log} 2>&1"
