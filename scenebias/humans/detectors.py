"""Image person detectors: torchvision's Mask R-CNN / Faster R-CNN and a thin Detectron2 adapter.

Both return, per frame, an (M, 5) array of person boxes (x1, y1, x2, y2, score) in the frame's pixels. Boxes
below `min_score` are dropped here; the paper's masking threshold (0.3) is applied later, by the masking rule,
so the threshold can change without rerunning detection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from scenebias.device import resolve_device
from scenebias.humans.boxes import empty_boxes

log = logging.getLogger(__name__)

COCO_PERSON_TORCHVISION = 1  # torchvision's COCO models use the 91-index category ids; 0 is background
COCO_PERSON_DETECTRON2 = 0  # Detectron2's COCO models use 80 contiguous classes; person is 0
TORCHVISION_MODELS = ("maskrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn")


class BackendUnavailable(RuntimeError):
    """A backend cannot run on this machine; the message says how to install it or what to pick instead."""


pick_device = resolve_device  # the detectors' device setting: auto | cpu | cuda


# ---------------------------------------------------------------------------------------------------------
# torchvision


def build_torchvision_detector(name: str, weights_path: str | None, short_side: int, min_score: float):
    """A torchvision detection model with COCO weights loaded strictly from a local state-dict file.

    weights_path None gives random weights: only for tests and benchmarks of speed, never for real labels.
    """
    from torchvision.models import detection

    if name not in TORCHVISION_MODELS:
        raise ValueError(f"unknown torchvision detector {name!r}; expected one of {TORCHVISION_MODELS}")
    model = getattr(detection, name)(
        weights=None,
        weights_backbone=None,
        num_classes=91,
        min_size=short_side,
        max_size=int(short_side * 1333 / 800),
        box_score_thresh=min_score,
    )
    if weights_path is not None:
        from scenebias.models.common import read_weights

        state = read_weights(weights_path, "state dict")
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        if not isinstance(state, dict):
            raise ValueError(f"{weights_path}: not a state dict (got {type(state).__name__})")
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches raise even with strict=False
            raise ValueError(f"{weights_path} does not match torchvision's {name}: {exc}") from exc
        if missing or unexpected:
            raise ValueError(
                f"{weights_path} does not match torchvision's {name}: missing keys {missing[:5]}"
                f"{'...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
                f"{'...' if len(unexpected) > 5 else ''}"
            )
    else:
        log.warning("torchvision detector %s runs with RANDOM weights (no weights file given)", name)
    return model.eval()


def torchvision_detect(model, device: str, half: bool, batch_size: int) -> Callable[[np.ndarray], list[np.ndarray]]:
    """A function frames (T, H, W, 3) uint8 -> per-frame person boxes, batched, fp16 on GPU when asked."""
    import torch

    device = pick_device(device)
    use_half = half and device.startswith("cuda")
    model = model.to(device)
    if use_half:
        model = model.half()

    @torch.inference_mode()
    def detect(frames: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(frames), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(device)
            images = batch.permute(0, 3, 1, 2).to(torch.float16 if use_half else torch.float32) / 255.0
            for result in model(list(images)):
                person = result["labels"] == COCO_PERSON_TORCHVISION
                boxes = result["boxes"][person].float().cpu().numpy()
                scores = result["scores"][person].float().cpu().numpy()
                out.append(np.concatenate([boxes, scores[:, None]], 1).astype(np.float32).reshape(-1, 5))
        return out

    return detect


# ---------------------------------------------------------------------------------------------------------
# Detectron2 (optional; not on PyPI)

DETECTRON2_HELP = (
    "the detectron2 backend needs the detectron2 package, which is not on PyPI: create the env in "
    "envs/detectron2.yaml (`snakemake --sdm conda` does it for the human-box rule) or install it with "
    "`pip install 'git+https://github.com/facebookresearch/detectron2.git'`; or set humans.backend to "
    "'torchvision' (same COCO Mask R-CNN family, weights from a file) or 'motion' (offline)"
)


def build_detectron2_predictor(
    config_name: str, weights: str | None, device: str, short_side: int, min_score: float
):  # pragma: no cover - exercised only where detectron2 is installed
    """Detectron2's DefaultPredictor for a model-zoo config (e.g. COCO Mask R-CNN R50-FPN)."""
    try:
        from detectron2 import model_zoo
        from detectron2.config import get_cfg
        from detectron2.engine import DefaultPredictor
    except ImportError as exc:
        raise BackendUnavailable(DETECTRON2_HELP) from exc
    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file(config_name))
    cfg.MODEL.WEIGHTS = weights or model_zoo.get_checkpoint_url(config_name)
    cfg.MODEL.DEVICE = pick_device(device)
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = min_score
    cfg.INPUT.MIN_SIZE_TEST = short_side
    cfg.INPUT.MAX_SIZE_TEST = int(short_side * 1333 / 800)
    return DefaultPredictor(cfg)


def detectron2_detect(predictor) -> Callable[[np.ndarray], list[np.ndarray]]:
    """Adapter: Detectron2 predictor outputs (`instances.pred_boxes`, `scores`, `pred_classes`) -> our boxes.

    DefaultPredictor takes one BGR uint8 image (H, W, 3) and returns {"instances": Instances}.
    """

    def detect(frames: np.ndarray) -> list[np.ndarray]:
        out = []
        for frame in frames:
            instances = predictor(np.ascontiguousarray(frame[:, :, ::-1]))["instances"].to("cpu")
            person = np.asarray(instances.pred_classes) == COCO_PERSON_DETECTRON2
            if not person.any():
                out.append(empty_boxes())
                continue
            boxes = np.asarray(instances.pred_boxes.tensor)[person]
            scores = np.asarray(instances.scores)[person]
            out.append(np.concatenate([boxes, scores[:, None]], 1).astype(np.float32))
        return out

    return detect
