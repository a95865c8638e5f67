"""The trainable module: the action network with its debiasing heads, built and initialised for a run."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from scenebias.losses import MaskConfusionHead, SceneAdversary
from scenebias.models import ActionNet, build_model, load_hara_checkpoint, load_model, load_state_dict_strict
from scenebias.settings import TrainSettings
from scenebias.train.distributed import Dist
from scenebias.train.loaders import RunData

log = logging.getLogger(__name__)


class Trainable(nn.Module):
    """The action network with its debiasing heads, so one (DDP-wrapped) forward yields every logit."""

    def __init__(self, net: ActionNet, n_scenes: int, settings: TrainSettings):
        super().__init__()
        self.net = net
        self.scene_head = None
        self.mask_head = None
        if settings.scene_weight > 0:
            self.scene_head = SceneAdversary(net.feature_dim, n_scenes, settings.scene_hidden, settings.scene_layers)
        if settings.mask_weight > 0 and settings.mask_form == "code":
            num_classes = net.fc.out_features
            self.mask_head = MaskConfusionHead(net.feature_dim, num_classes, settings.mask_hidden, settings.mask_layers)

    def forward(self, x: torch.Tensor, n_clean: int, scene_lambda: float, mask_lambda: float) -> dict:
        """x holds n_clean clean clips followed by masked clips (possibly none)."""
        logits, feature = self.net(x)
        out = {"logits": logits[:n_clean], "masked_logits": logits[n_clean:]}
        if self.scene_head is not None and n_clean:
            out["scene_logits"] = self.scene_head(feature[:n_clean], scene_lambda)
        if self.mask_head is not None and len(x) > n_clean:
            out["mask_head_logits"] = self.mask_head(feature[n_clean:], mask_lambda)
        return out

    def heads(self) -> dict[str, nn.Module]:
        """The debiasing heads this run has, by the name model.pt stores them under."""
        named = (("scene", self.scene_head), ("mask", self.mask_head))
        return {name: head for name, head in named if head is not None}

    def new_layers(self) -> list[nn.Parameter]:
        params = list(self.net.fc.parameters())
        for head in self.heads().values():
            params += list(head.parameters())
        return params


def init_from(trainable: Trainable, path: Path, new_classifier: bool) -> None:
    """Initialise from a trained model: backbone (and classifier unless replaced) strictly; heads when present.

    Fine-tuning replaces the classifier (new label set) and drops the heads; pretraining stages (baseline ->
    scene_adv -> sdn, docs/design.md §2) keep the classifier and reuse a head the previous stage trained.
    """
    source, record = load_model(path)
    if source.fc.out_features != trainable.net.fc.out_features and not new_classifier:
        raise ValueError(f"{path}: {source.fc.out_features} classes, this run has {trainable.net.fc.out_features}")
    state = source.state_dict()
    if new_classifier:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        state.update({f"fc.{k}": v for k, v in trainable.net.fc.state_dict().items()})
    load_state_dict_strict(trainable.net, state)
    if not new_classifier:
        for name, head in trainable.heads().items():
            if name in record["heads"]:
                try:
                    load_state_dict_strict(head, record["heads"][name])
                except ValueError:
                    log.warning("the %s head of %s does not fit this run; it starts fresh", name, path)


def build_trainable(
    settings: TrainSettings, data: RunData, init: Path | None, new_classifier: bool, device: str
) -> Trainable:
    net = build_model(settings.model, data.num_classes, **settings.model_kwargs)
    trainable = Trainable(net, data.n_scenes, settings)
    if init is not None:
        init_from(trainable, init, new_classifier)
    elif settings.init_checkpoint:
        # The file's label set is not this run's (e.g. Kinetics-400 weights for Mini-Kinetics-200): the
        # classifier starts fresh, everything else must match strictly.
        info = load_hara_checkpoint(net, settings.init_checkpoint, drop_fc=True)
        log.info("initialised from %s (%s)", settings.init_checkpoint, {k: info[k] for k in sorted(info)[:4]})
    trainable.to(device)
    if settings.channels_last and device.startswith("cuda"):
        trainable.to(memory_format=torch.channels_last_3d)
    return trainable


def wrap_distributed(trainable: Trainable, ctx: Dist, device: str) -> nn.Module:
    """DDP around the trainable module with several processes (a head may get no gradient in a step: unused
    parameters are allowed then), the module itself with one."""
    if ctx.world_size == 1:
        return trainable
    return nn.parallel.DistributedDataParallel(
        trainable,
        device_ids=[device] if device.startswith("cuda") else None,
        find_unused_parameters=bool(trainable.heads()),
    )
