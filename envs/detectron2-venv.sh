#!/usr/bin/env bash
# A virtual environment with detectron2 for the human-box backend, layered on the project's .venv (the plain-venv
# twin of envs/detectron2.yaml + envs/detectron2.post-deploy.sh; docs/detectron2.md).
#
#   bash envs/detectron2-venv.sh BASE_VENV NEW_VENV [DETECTRON2_SOURCE]
#
# NEW_VENV sees every package of BASE_VENV (torch, torchvision, snakemake, ...) through a .pth file, so nothing
# is installed twice and BASE_VENV is left exactly as it was; its own site-packages comes first and holds only
# detectron2, the dependencies detectron2 adds, and setuptools < 82 (detectron2's model_zoo imports
# pkg_resources, which setuptools 82 removed). DETECTRON2_SOURCE defaults to detectron2's git repository at the
# pinned commit below (needs internet and a C++ compiler); a built wheel of that commit works the same way.
# detectron2's setup.py imports torch, so it is built without build isolation, against BASE_VENV's torch.
set -euo pipefail

DETECTRON2_COMMIT=02b5c4e295e990042a714712c21dc79b731e8833
base=${1:?usage: $0 BASE_VENV NEW_VENV [DETECTRON2_SOURCE]}
dest=${2:?usage: $0 BASE_VENV NEW_VENV [DETECTRON2_SOURCE]}
source=${3:-git+https://github.com/facebookresearch/detectron2.git@$DETECTRON2_COMMIT}
base=$(cd "$base" && pwd)

# What detectron2 imports at run time beyond what BASE_VENV has (its setup.py also asks for tensorboard and
# black, used only by its training loop and its config dumps; left out on purpose).
DEPENDENCIES=(
  "setuptools<82"
  "fvcore>=0.1.5,<0.1.6"
  "iopath>=0.1.7,<0.1.10"
  "yacs>=0.1.8"
  "omegaconf>=2.1,<2.4"
  "hydra-core>=1.1"
  "pycocotools>=2.0.2"
  "termcolor>=1.1"
  "tabulate"
  "cloudpickle"
  "portalocker"
)

rm -rf "$dest"
"$base/bin/python" -m venv --without-pip "$dest"
dest=$(cd "$dest" && pwd)
site=$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
base_site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# addsitedir (not a bare path) so that BASE_VENV's own .pth files (the editable scenebias install) apply too.
echo "import site; site.addsitedir('$base_site')" >"$site/_base_venv.pth"

pip=("$dest/bin/python" -m pip --quiet --disable-pip-version-check)
# setuptools first, into NEW_VENV only (--ignore-installed: BASE_VENV's newer setuptools is never touched).
"${pip[@]}" install --ignore-installed --no-deps "${DEPENDENCIES[0]}"
"${pip[@]}" install "${DEPENDENCIES[@]:1}"
"${pip[@]}" install --no-build-isolation --no-deps "$source"

# The whole import chain the adapter uses, compiled ops included.
"$dest/bin/python" -c '
import detectron2, detectron2._C
from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from detectron2.checkpoint import DetectionCheckpointer
print("detectron2", detectron2.__version__, "from", detectron2.__file__)
'
