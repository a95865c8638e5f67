# scenebias: "Why Can't I Dance in the Mall?" (Choi et al., NeurIPS 2019), from raw videos to a results table.
# The default run (config.yaml) is the synthetic scene-biased world; see README.md for the other configs.

import os
import sys
from pathlib import Path

from snakemake import __version__ as snakemake_version
from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")


# This checkout's folder: the package, scripts, schema and envs are read from here, also when another workflow uses
# this one as a module (the working directory is then the host's folder). A remote snakefile (github(...), a URL)
# has no folder on disk for the scripts and the package.
try:
    SCENEBIAS_DIR = Path(workflow.current_basedir)
except TypeError:
    raise WorkflowError(
        "scenebias runs from a local checkout: give `module scenebias:` the path of its Snakefile in a clone or "
        "git submodule, not a URL (README: Using scenebias inside your own workflow)"
    ) from None
sys.path.insert(0, str(SCENEBIAS_DIR))

from scenebias.config import ConfigError, read_yaml
from scenebias.launch import job_environment
from scenebias.provenance import SNAKEMAKE_ENV
from scenebias.summary import run_summary

# Every job inherits this process's environment: set once here what each job should start with (the allocator
# keeps freed memory instead of faulting it in again every training step; scenebias/launch.py says why), and the
# Snakemake that ran it (scenebias.provenance records it; a job's own env need not have Snakemake).
os.environ.update(job_environment())
os.environ[SNAKEMAKE_ENV] = snakemake_version

# Used as a module (`module scenebias: ... config: ...`), the host passes the config and nothing is read from its
# folder. Run directly, one config at a time: config.yaml is the default run; `--configfile FILE [FILE ...]`
# replaces it (several files are merged in the order given) and `--config KEY=VALUE` overrides either. Keys left
# out take the schema's defaults. Each file is read again here: Snakemake's own message for a YAML syntax error
# names neither the file nor the line, and it lets a key given twice silently keep its last value.
IS_MODULE = (
    Path(workflow.main_snakefile).resolve() != SCENEBIAS_DIR.resolve() / "Snakefile"
)
for _file in workflow.overwrite_configfiles or [
    f for f in ["config.yaml"] if Path(f).is_file() and not IS_MODULE
]:
    try:
        read_yaml(_file)
    except ConfigError as exc:
        raise WorkflowError(f"invalid config: {exc}") from None


if not workflow.overwrite_configfiles and not IS_MODULE:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/synth.smk"
include: "rules/manifest.smk"
include: "rules/frames.smk"
include: "rules/fetch.smk"
include: "rules/prepare.smk"
include: "rules/humans.smk"
include: "rules/scene.smk"
include: "rules/train.smk"
include: "rules/bias.smk"
include: "rules/recompose.smk"
include: "rules/sheets.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
    localrule: True


# Every run ends with what it left out per dataset (missing or undecodable videos) and where the details are.
# (Snakemake's logger: on the console and in .snakemake/log/.)
onsuccess:
    logger.info(run_summary(RESULTS, list(config["datasets"]), list(SWEEP)))


onerror:
    logger.info(run_summary(RESULTS, list(config["datasets"]), list(SWEEP)))
