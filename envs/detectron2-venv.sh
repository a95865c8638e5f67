#!/usr/bin/env bash
# The plain-venv twin of envs/detectron2.yaml + envs/detectron2.post-deploy.sh (docs/detectron2.md):
#
#   bash envs/detectron2-venv.sh BASE_VENV NEW_VENV [DETECTRON2_SOURCE]
#
# NEW_VENV sees every package of BASE_VENV (torch, torchvision, snakemake, the editable scenebias, ...) through a
# .pth file, so nothing is installed twice and BASE_VENV stays exactly as it is; NEW_VENV's own site-packages
# comes first and holds setuptools < 82 and the pip packages of envs/detectron2.yaml that BASE_VENV lacks. Then
# envs/detectron2.post-deploy.sh builds detectron2 in it, from its git repository at the pinned commit (internet
# and a C++ compiler) or from DETECTRON2_SOURCE (a wheel built from that commit). Use it with NEW_VENV/bin first
# on PATH, so that the workflow's `python` is NEW_VENV's.
set -euo pipefail

usage="usage: $0 BASE_VENV NEW_VENV [DETECTRON2_SOURCE]"
base=${1:?$usage}
dest=${2:?$usage}
export DETECTRON2_SOURCE=${3:-${DETECTRON2_SOURCE:-}}
[ -n "$DETECTRON2_SOURCE" ] || unset DETECTRON2_SOURCE
here=$(cd "$(dirname "$0")" && pwd)
base=$(cd "$base" && pwd)
[ -x "$base/bin/python" ] || { echo "error: $base/bin/python does not exist (make venv builds .venv)" >&2; exit 1; }
[ "$(realpath -m "$dest")" != "$base" ] || { echo "error: NEW_VENV must differ from BASE_VENV" >&2; exit 1; }

# setuptools (a conda package in the yaml) and the yaml's pip list, one per line.
mapfile -t requirements < <("$base/bin/python" - "$here/detectron2.yaml" <<'PY'
import sys
import yaml

env = yaml.safe_load(open(sys.argv[1]))
for dep in env["dependencies"]:
    if isinstance(dep, dict):
        print("\n".join(dep["pip"]))
    elif dep.split()[0] == "setuptools":
        print(dep.replace(" ", ""))
PY
)

rm -rf "$dest"
"$base/bin/python" -m venv --without-pip "$dest"
dest=$(cd "$dest" && pwd)
site=$("$dest/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
base_site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# addsitedir, not a bare path, so that BASE_VENV's own .pth files (the editable install) apply too.
echo "import site; site.addsitedir('$base_site')" >"$site/_base_venv.pth"

pip=("$dest/bin/python" -m pip --quiet --disable-pip-version-check)  # BASE_VENV's pip, installing into NEW_VENV
setuptools=() others=()
for requirement in "${requirements[@]}"; do
  if [[ $requirement == setuptools* ]]; then setuptools+=("$requirement"); else others+=("$requirement"); fi
done
# setuptools into NEW_VENV only: --ignore-installed leaves BASE_VENV's newer one alone
"${pip[@]}" install --ignore-installed --no-deps "${setuptools[@]}"
"${pip[@]}" install "${others[@]}"
PATH="$dest/bin:$PATH" bash "$here/detectron2.post-deploy.sh"
