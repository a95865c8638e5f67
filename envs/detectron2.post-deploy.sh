#!/usr/bin/env bash
# Snakemake runs this inside the env of envs/detectron2.yaml right after creating it (`--sdm conda`; Snakemake's
# post-deploy convention: the env file's name with .post-deploy.sh). torch and detectron2's dependencies are
# already there (the yaml), so detectron2 is built from its git repository at the pinned commit against that torch,
# without build isolation (its setup.py imports torch). Needs internet and a C++ compiler. envs/detectron2-venv.sh
# runs this same script for a plain venv; DETECTRON2_SOURCE may name a wheel built from the same commit instead.
# docs/detectron2.md.
set -euo pipefail
DETECTRON2_COMMIT=02b5c4e295e990042a714712c21dc79b731e8833
python -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  "${DETECTRON2_SOURCE:-git+https://github.com/facebookresearch/detectron2.git@$DETECTRON2_COMMIT}"
# The adapter's whole import chain (model_zoo needs pkg_resources: setuptools < 82) and the compiled ops.
python -c '
import detectron2, detectron2._C
from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.data import transforms
from detectron2.modeling import build_model
print("detectron2", detectron2.__version__, "from", detectron2.__file__)
'
