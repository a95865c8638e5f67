# scenebias: "Why Can't I Dance in the Mall?" (Choi et al., NeurIPS 2019), from raw videos to a results table.
# The default run (config.yaml) is the synthetic scene-biased world; see README.md for the other configs.

from snakemake.utils import min_version

min_version("9.0")


# One config at a time: config.yaml is the default run; `--configfile FILE [FILE ...]` replaces it (several files
# are merged in the order given) and `--config KEY=VALUE` overrides either. Keys left out take the schema's defaults.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/synth.smk"
include: "rules/manifest.smk"
include: "rules/frames.smk"
include: "rules/fetch.smk"
include: "rules/humans.smk"
include: "rules/scene.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/sheets.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
