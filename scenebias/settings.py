"""Every hyperparameter of one training run, as a dataclass with no heavy imports.

Kept apart from scenebias.train so that the workflow can build run settings while it plans the DAG without
importing torch (which costs seconds per Snakemake invocation).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

# Multi-scale corner crop scales 2^(-k/4), k = 0..4, and the ActivityNet mean the official code subtracts.
PAPER_SCALES = (1.0, 0.84089641525, 0.7071067811865476, 0.5946035575, 0.5)
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)


AMP_MODES = ("off", "bf16", "fp16")


def amp_mode(value: bool | str | None) -> str:
    """compute.amp as one of AMP_MODES. YAML reads an unquoted `off` as false; `true` is the older spelling of
    bf16 (the only mode there was)."""
    if value is None or value is False:
        return "off"
    if value is True:
        return "bf16"
    if value not in AMP_MODES:
        raise ValueError(f"compute.amp: {value!r} is not one of {', '.join(AMP_MODES)}")
    return value


@dataclass(frozen=True)
class ClipSpec:
    """The clips a model sees: frames per clip, square crop side, corner-crop scales and horizontal flips. The
    defaults are the schema's `clip` defaults (the paper's 16 x 112 is configs/paper.yaml's; a test checks)."""

    frames: int = 8
    crop: int = 32
    scales: tuple[float, ...] = PAPER_SCALES
    flip: bool = True


@dataclass
class TrainSettings:
    """Every hyperparameter of one training run (written next to its outputs).

    The workflow builds every field from the validated config (scenebias.runs); the defaults here serve code that
    trains outside the workflow (tests, bench/) and are the schema's, field for field (tests/test_structure.py)."""

    model: str = "small3d"
    model_kwargs: dict = field(default_factory=dict)
    clip_frames: int = 8
    crop: int = 32
    scales: list[float] = field(default_factory=lambda: list(PAPER_SCALES))
    flip: bool = True
    mean: list[float] = field(default_factory=lambda: list(ACTIVITYNET_MEAN))
    std: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 1e-4
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-5
    schedule: str = "plateau"  # plateau | onecycle | cosine | constant
    plateau_patience: int = 10
    epochs: int = 100
    batch_size: int = 32
    warmup_epochs: int = 0  # epochs that train only the new layers (fc, heads) at warmup_lr
    warmup_lr: float = 1e-2
    scene_weight: float = 0.0
    scene_lambda: float = 1.0
    scene_lambda_schedule: str = "constant"  # constant | dann
    scene_soft: bool = True
    scene_hidden: int = 512
    scene_layers: int = 3
    mask_weight: float = 0.0
    mask_form: str = "paper"  # paper | code
    mask_batch: str = "shared"  # shared | separate
    mask_lambda: float = 1.0  # GRL strength of the code form's head
    mask_hidden: int = 512
    mask_layers: int = 1
    mask_threshold: float = 0.3
    valid_ratio: float = 0.7
    workers: int = 0
    pin_memory: bool = False
    persistent_workers: bool = False
    cache_frames: bool = False  # keep decoded videos in memory across epochs (small datasets)
    val_every: int = 1  # validate every N epochs (and after the last); plateau schedules step on validations
    val_clips: int = 0  # validate on a fixed subset of this many clips (0 = every clip of every video)
    init_checkpoint: str | None = None  # a 3D-ResNets-PyTorch checkpoint for runs with no other init
    amp: str = "off"  # off | bf16 | fp16 (fp16 with a gradient scaler); autocast on CUDA only
    channels_last: bool = False  # channels_last_3d on CUDA
    cudnn_benchmark: bool = True  # cuDNN picks the fastest convolution algorithms (CUDA)
    global_batch: bool = True  # batch_size is the whole job's batch, split across DDP ranks (else per rank)
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)
    device: str = "auto"
    seed: int = 0
    threads: int = 1  # torch CPU threads per process

    def __post_init__(self) -> None:
        self.amp = amp_mode(self.amp)

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return cls(**values)

    def rank_batch(self, world_size: int) -> int:
        """The batch each DDP rank takes: batch_size / world_size with global_batch, else batch_size."""
        if not self.global_batch or world_size == 1:
            return self.batch_size
        if self.batch_size % world_size:
            raise ValueError(
                f"batch_size {self.batch_size} does not split evenly across {world_size} processes "
                "(compute.global_batch: true); choose a multiple of compute.gpus, or set compute.global_batch: false"
            )
        return self.batch_size // world_size

    def clip_spec(self) -> ClipSpec:
        return ClipSpec(frames=self.clip_frames, crop=self.crop, scales=tuple(self.scales), flip=self.flip)

    def fingerprint(self, extra: dict) -> str:
        blob = json.dumps({"settings": asdict(self), **extra}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
