"""The detectron2 test env: `.venv-detectron2`, built by `make detectron2-env` (envs/detectron2-venv.sh) on top of
.venv, with detectron2 at the pinned commit. The tests run detectron2 there, in subprocesses, as the human-box job
runs in its own env in the workflow; the rest of the suite stays in .venv with its own pins.

Outside CI a missing env is a skip that says how to build it; in CI (CI=true) it is a failure."""

import json
import os
import subprocess
from pathlib import Path

from conftest import REPO, require

D2_VENV = Path(os.environ.get("SCENEBIAS_DETECTRON2_VENV", REPO / ".venv-detectron2"))
MODEL = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"  # the schema's default config
PERSON, BICYCLE = 0, 1  # detectron2's 80 contiguous COCO classes


def detectron2_python() -> str:
    python = D2_VENV / "bin" / "python"
    require(
        python.is_file() and (D2_VENV / ".installed").is_file(),
        f"the detectron2 test env {D2_VENV} (`make detectron2-env`: detectron2 from its git repository, needs "
        "internet and a C++ compiler; or `make detectron2-env DETECTRON2_SOURCE=<a wheel of that commit>`)",
    )
    return str(python)


def run_in_detectron2_env(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """`<env python> ARGS` from the repository root; kwargs go to subprocess.run."""
    proc = subprocess.run([detectron2_python(), *args], cwd=kwargs.pop("cwd", REPO), capture_output=True, text=True,
                          **kwargs)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


# Random weights in detectron2's own checkpoint format (DetectionCheckpointer.save: {"model": state dict}), with
# the box classifier set to call every proposal one class with score ~1 (softmax of 12 against 80 zeros: 0.998)
# and the mask head to fill each box.
WRITE_CHECKPOINT = """
import json, sys
from pathlib import Path
import torch
from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_model

config, out, favoured = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
cfg = get_cfg()
cfg.merge_from_file(model_zoo.get_config_file(config))
cfg.MODEL.DEVICE = "cpu"
torch.manual_seed(0)
model = build_model(cfg)
cls_score = model.roi_heads.box_predictor.cls_score  # 80 classes + background
with torch.no_grad():  # the random box features are large (hundreds): a bias alone would not outweigh them
    cls_score.weight.zero_()
    cls_score.bias.zero_()
    cls_score.bias[favoured] = 12.0
    if hasattr(model.roi_heads, "mask_head"):  # masks filling their boxes, so a person has a mask in every frame
        model.roi_heads.mask_head.predictor.weight.zero_()
        model.roi_heads.mask_head.predictor.bias.fill_(8.0)
out.parent.mkdir(parents=True, exist_ok=True)
DetectionCheckpointer(model, save_dir=str(out.parent)).save(out.stem)
print(json.dumps({"tensors": len(model.state_dict())}))
"""


def write_biased_checkpoint(path: Path, favoured: int = PERSON, config: str = MODEL) -> Path:
    """A .pth as detectron2's DetectionCheckpointer writes it, randomly initialised, favouring class `favoured`."""
    proc = run_in_detectron2_env("-c", WRITE_CHECKPOINT, config, str(path), str(favoured))
    assert json.loads(proc.stdout.strip().splitlines()[-1])["tensors"] > 100
    assert path.is_file(), proc.stderr[-2000:]
    return path
