# Downloads with a pinned sha256 (model weights), for configs that give a url instead of a local file.


rule fetch:
    output:
        download=ensure(
            R("download"),
            sha256=lambda wc: DOWNLOADS[wc.name][1],
        ),
        hparams=R("download_hparams"),
    log:
        R("fetch_log"),
    localrule: True
    conda:
        "../envs/ffmpeg.yaml"
    params:
        script=script("fetch"),
        url=lambda wc: DOWNLOADS[wc.name][0],
        sha256=lambda wc: DOWNLOADS[wc.name][1],
    shell:
        "python {params.script} --url {params.url:q} --sha256 {params.sha256}"
        " --out {output.download} --hparams {output.hparams} > {log} 2>&1"
