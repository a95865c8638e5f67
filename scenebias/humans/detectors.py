"""Image person detectors: torchvision's Mask R-CNN / Faster R-CNN and a thin Detectron2 adapter.

Both return, per frame, an (M, 5) array of person boxes (x1, y1, x2, y2, score) in the frame's pixels. Boxes
below `min_score` are dropped here; the paper's thresholds (0.3: boxes at or above it are masked, a frame with a
box above it counts for the 70 % rule) are applied later, by the masking rules in scenebias.humans.boxes, so they
can change without rerunning detection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scenebias.device import resolve_device

log = logging.getLogger(__name__)

COCO_PERSON_TORCHVISION = 1  # torchvision's COCO models use the 91-index category ids; 0 is background
COCO_PERSON_DETECTRON2 = 0  # Detectron2's COCO models use 80 contiguous classes; person is 0
TORCHVISION_MODELS = ("maskrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn")


class BackendUnavailable(RuntimeError):
    """A backend cannot run on this machine; the message says how to install it or what to pick instead."""


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


def torchvision_detect(model, device: str, half: bool, batch_size: int, with_masks: bool = False) -> Callable:
    """A function frames (T, H, W, 3) uint8 -> per-frame person boxes, batched, fp16 on GPU when asked; with_masks
    (Mask R-CNN) -> (boxes, per-frame (M, H, W) bool person masks: the mask head's probability > 0.5, at the
    frame's size, aligned with the boxes)."""
    import torch

    device = resolve_device(device)
    use_half = half and device.startswith("cuda")
    model = model.to(device)
    if use_half:
        model = model.half()

    @torch.inference_mode()
    def detect(frames: np.ndarray):
        out: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        h, w = frames.shape[1:3]
        for start in range(0, len(frames), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(device)
            images = batch.permute(0, 3, 1, 2).to(torch.float16 if use_half else torch.float32) / 255.0
            for result in model(list(images)):
                person = result["labels"] == COCO_PERSON_TORCHVISION
                boxes = result["boxes"][person].float().cpu().numpy()
                scores = result["scores"][person].float().cpu().numpy()
                out.append(np.concatenate([boxes, scores[:, None]], 1).astype(np.float32).reshape(-1, 5))
                if with_masks:
                    if "masks" not in result:
                        raise ValueError("this torchvision detector gives no masks (Faster R-CNN): use Mask R-CNN")
                    masks.append((result["masks"][person][:, 0] > 0.5).cpu().numpy().reshape(-1, h, w))
        return (out, masks) if with_masks else out

    return detect


# ---------------------------------------------------------------------------------------------------------
# Detectron2 (optional; not on PyPI). Checked against facebookresearch/detectron2 at DETECTRON2_COMMIT
# (docs/detectron2.md): get_cfg + model-zoo config, build_model, DetectionCheckpointer, ResizeShortestEdge as
# DefaultPredictor uses it, `pred_boxes.tensor` XYXY in the pixels of the image given, COCO person = class 0.

DETECTRON2_COMMIT = "02b5c4e295e990042a714712c21dc79b731e8833"
DETECTRON2_HELP = (
    "the detectron2 backend needs the detectron2 package, which is not on PyPI: with `--sdm conda` Snakemake "
    "builds it for the human-box rule (envs/detectron2.yaml, then envs/detectron2.post-deploy.sh); in a plain "
    "venv run `bash envs/detectron2-venv.sh .venv .venv-detectron2` and put .venv-detectron2/bin first on PATH "
    "(it installs 'setuptools<82' and detectron2's dependencies, then `pip install --no-build-isolation "
    f"'git+https://github.com/facebookresearch/detectron2.git@{DETECTRON2_COMMIT}'`; docs/detectron2.md). "
    "Or set humans.backend to 'torchvision' (same COCO Mask R-CNN family, weights from a file) or 'motion' "
    "(offline)"
)
DETECTRON2_WEIGHTS_FORMAT = (
    "a detectron2 checkpoint of that config: a model-zoo .pkl (e.g. model_final_f10217.pkl for "
    "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml) or a .pth written by detectron2's "
    "DetectionCheckpointer ({'model': state dict with detectron2's names, e.g. backbone.bottom_up.stem.conv1.weight})"
    "; a torchvision state dict goes with humans.backend: torchvision"
)


def import_detectron2() -> dict:
    """The detectron2 pieces the adapter uses, or BackendUnavailable: saying how to install it when it is absent,
    and showing the real import error when it is installed but broken (e.g. setuptools >= 82, which removed the
    pkg_resources that detectron2's model_zoo imports)."""
    try:
        import detectron2
    except ModuleNotFoundError as exc:
        if exc.name != "detectron2":
            raise BackendUnavailable(f"detectron2 cannot be imported: {type(exc).__name__}: {exc}") from exc
        raise BackendUnavailable(DETECTRON2_HELP) from exc
    try:
        from detectron2 import model_zoo
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.config import get_cfg
        from detectron2.data import transforms
        from detectron2.modeling import build_model
    except ImportError as exc:
        hint = ""
        if getattr(exc, "name", None) == "pkg_resources":
            hint = (
                " detectron2's model_zoo imports pkg_resources, which setuptools 82 removed: install "
                "'setuptools<82' into that environment (envs/detectron2.yaml and envs/detectron2-venv.sh pin it)."
            )
        raise BackendUnavailable(
            f"detectron2 is installed ({Path(detectron2.__file__).parent}) but cannot be imported: "
            f"{type(exc).__name__}: {exc}.{hint}"
        ) from exc
    return {
        "model_zoo": model_zoo,
        "DetectionCheckpointer": DetectionCheckpointer,
        "get_cfg": get_cfg,
        "transforms": transforms,
        "build_model": build_model,
    }


@dataclass
class Detectron2Detector:
    """A detectron2 model in eval mode and what DefaultPredictor would do around it (input format, resizing)."""

    model: object
    input_format: str  # "BGR" for the model-zoo R-CNNs
    resize: object  # detectron2.data.transforms.ResizeShortestEdge


def build_detectron2_detector(
    config_name: str, weights: str | None, short_side: int, min_score: float
) -> Detectron2Detector:
    """A detectron2 model-zoo model (e.g. COCO Mask R-CNN R50-FPN) with its weights loaded strictly.

    weights None takes the model zoo's URL for that config (detectron2 downloads it; needs internet). Every
    tensor of the model must come from the file: detectron2's own loader only warns about missing or unexpected
    keys and leaves those layers random, so a wrong file (e.g. torchvision's) would "detect" noise.
    """
    d2 = import_detectron2()
    cfg = d2["get_cfg"]()
    cfg.merge_from_file(d2["model_zoo"].get_config_file(config_name))
    cfg.MODEL.DEVICE = "cpu"  # moved to the chosen device by detectron2_detect
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = min_score
    cfg.INPUT.MIN_SIZE_TEST = short_side
    cfg.INPUT.MAX_SIZE_TEST = int(short_side * 1333 / 800)
    model = d2["build_model"](cfg)
    source = weights or d2["model_zoo"].get_checkpoint_url(config_name)
    load_detectron2_weights(d2["DetectionCheckpointer"], model, source, config_name)
    resize = d2["transforms"].ResizeShortestEdge([short_side, short_side], cfg.INPUT.MAX_SIZE_TEST)
    return Detectron2Detector(model.eval(), cfg.INPUT.FORMAT, resize)


def load_detectron2_weights(checkpointer_class, model, path: str, config_name: str) -> None:
    """detectron2's DetectionCheckpointer.load (model-zoo .pkl, Caffe2 names, `{'model': ...}` .pth), then a
    ValueError naming the file if any tensor of the model was not in it or the file held tensors the model
    does not have. detectron2's own exemptions stay (pixel_mean/pixel_std come from the config; old
    checkpoints' anchor buffers)."""
    if "://" not in path and not Path(path).is_file():
        raise FileNotFoundError(f"detectron2 weights file {path} does not exist")

    class StrictCheckpointer(checkpointer_class):
        incompatible = None

        def _log_incompatible_keys(self, incompatible):  # fvcore's hook, called by load() with the key report
            self.incompatible = incompatible
            super()._log_incompatible_keys(incompatible)

    checkpointer = StrictCheckpointer(model)
    try:
        checkpointer.load(path)
    except Exception as exc:  # unreadable file, not a dict, a pickle of something else: all name the file
        raise ValueError(
            f"{path} cannot be loaded as detectron2 weights for {config_name} ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); "
            f"expected {DETECTRON2_WEIGHTS_FORMAT}"
        ) from exc
    bad = checkpointer.incompatible
    if bad is None:
        raise ValueError(
            f"{path}: detectron2 reported nothing about the keys it loaded; expected {DETECTRON2_WEIGHTS_FORMAT}"
        )
    shapes = [f"{k} {tuple(a)} in the file, {tuple(b)} in the model" for k, a, b in bad.incorrect_shapes]
    if bad.missing_keys or bad.unexpected_keys or shapes:
        raise ValueError(
            f"{path} does not match detectron2's {config_name}: missing keys {_few(bad.missing_keys)} "
            f"({len(bad.missing_keys)} in all), unexpected keys {_few(bad.unexpected_keys)} "
            f"({len(bad.unexpected_keys)} in all), wrong shapes {_few(shapes)}; expected {DETECTRON2_WEIGHTS_FORMAT}"
        )


def _few(items: list, n: int = 5) -> str:
    return f"{list(items)[:n]}{'...' if len(items) > n else ''}"


def detectron2_detect(detector: Detectron2Detector, device: str, batch_size: int, with_masks: bool = False) -> Callable:
    """A function frames (T, H, W, 3) RGB uint8 -> per-frame person boxes (x1, y1, x2, y2, score) in the frame's
    pixels, `batch_size` frames per forward pass on `device`.

    Each frame goes in as DefaultPredictor prepares it (channels in the model's INPUT.FORMAT, resized by
    ResizeShortestEdge to the configured short side, float32 CHW, with its original height and width so that
    detectron2 maps the boxes back to the frame). with_masks: (boxes, per-frame (M, H, W) bool person masks of
    `pred_masks`, which detectron2 pastes back at the frame's size), for Mask R-CNN configs.
    """
    import torch

    device = resolve_device(device)
    model = detector.model.to(device)

    @torch.inference_mode()
    def detect(frames: np.ndarray):
        out: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        for start in range(0, len(frames), batch_size):
            inputs = []
            for frame in frames[start : start + batch_size]:
                image = frame[:, :, ::-1] if detector.input_format == "BGR" else frame
                h, w = image.shape[:2]
                image = detector.resize.get_transform(image).apply_image(np.ascontiguousarray(image))
                tensor = torch.as_tensor(image.astype("float32").transpose(2, 0, 1)).to(device)
                inputs.append({"image": tensor, "height": h, "width": w})
            for result in model(inputs):
                instances = result["instances"].to("cpu")
                person = instances.pred_classes == COCO_PERSON_DETECTRON2
                boxes = instances.pred_boxes.tensor[person].float().numpy()
                scores = instances.scores[person].float().numpy()
                out.append(np.concatenate([boxes, scores[:, None]], 1).astype(np.float32).reshape(-1, 5))
                if with_masks:
                    if not instances.has("pred_masks"):
                        raise ValueError("this detectron2 config gives no masks (MODEL.MASK_ON is off)")
                    h, w = frames.shape[1:3]
                    masks.append(instances.pred_masks[person].numpy().astype(bool).reshape(-1, h, w))
        return (out, masks) if with_masks else out

    return detect
