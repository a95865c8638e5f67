"""Debiasing losses of Choi et al. (docs/design.md §2, §2b): gradient reversal, the scene adversary with
soft pseudo labels, and the human-mask confusion (entropy) loss in the paper's form and in the official code's form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

LambdaSchedule = Callable[[float], float]


# ----------------------------------------------------------------------------------------------------------------
# gradient reversal


class GradReverse(torch.autograd.Function):
    """Identity in the forward pass, ``-lambd * grad`` in the backward pass (Ganin & Lempitsky's GRL).

    Lets one backward pass train a head to *minimise* its loss while the backbone below the GRL *maximises* it,
    the min-max of the scene adversary (docs/design.md §2).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = float(lambd)
        return x.view_as(x)  # a view, so autograd records this node even though the values are unchanged

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lambd * grad_output, None


def grad_reverse(x: torch.Tensor, lambd: float) -> torch.Tensor:
    return GradReverse.apply(x, lambd)


def dann_lambda(progress: float, max_lambda: float, gamma: float = 10.0) -> float:
    """DANN ramp ``max_lambda * (2 / (1 + exp(-gamma * p)) - 1)``: 0 at p = 0, close to ``max_lambda`` at p = 1.

    The full-strength adversary from the first step collapsed training in the prototype (docs/design.md §6), so the
    reversed gradient grows with training progress ``p`` (clamped to [0, 1]).
    """
    p = min(max(float(progress), 0.0), 1.0)
    return max_lambda * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


def lambda_schedule(kind: Literal["constant", "dann"], max_lambda: float, gamma: float = 10.0) -> LambdaSchedule:
    """λ as a function of training progress in [0, 1]: ``constant`` (the official code) or the ``dann`` ramp."""
    if kind == "constant":
        return lambda progress: float(max_lambda)
    if kind == "dann":
        return lambda progress: dann_lambda(progress, max_lambda, gamma)
    raise ValueError(f"lambda schedule must be 'constant' or 'dann', got {kind!r}")


# ----------------------------------------------------------------------------------------------------------------
# heads


def mlp_head(in_dim: int, hidden: int, n_hidden: int, out_dim: int) -> nn.Sequential:
    """``n_hidden`` × [Linear, BatchNorm1d, ReLU] then Linear (the official code's place_mlp / hm_mlp).

    BatchNorm1d needs more than one sample per batch in training mode.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_hidden):
        layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class SceneAdversary(nn.Module):
    """Scene classifier behind a GRL: it learns to predict the pseudo scene label from the pooled feature while the
    reversed gradient pushes the backbone to make the scene unpredictable (docs/design.md §2: 3 × [Linear 512→512,
    BN, ReLU] + Linear 512→K_scene; λ = 1.0 in the scene-only stage, 0.5 in the full model)."""

    def __init__(self, feature_dim: int, n_scenes: int, hidden: int = 512, n_hidden: int = 3) -> None:
        super().__init__()
        self.mlp = mlp_head(feature_dim, hidden, n_hidden, n_scenes)

    def forward(self, feature: torch.Tensor, lambd: float) -> torch.Tensor:
        return self.mlp(grad_reverse(feature, lambd))


class MaskConfusionHead(nn.Module):
    """The official code's human-mask head (``hm_mlp``): GRL(λ_hm) → 1 × [Linear, BN, ReLU] → Linear to classes.

    Difference from the paper (docs/design.md §2b): the paper maximises the entropy of the *action classifier*
    ``fc`` on human-masked clips (apply :func:`mask_confusion_loss` to the model's logits; no GRL, gradients reach
    ``fc`` and the backbone). The code applies the same loss to this separate head instead: minimising
    −entropy pushes the head toward *high* entropy, while the backbone, through the GRL, is pushed toward *lower*
    head entropy (a minimax-entropy game), and ``fc`` gets no gradient from it. docs/design.md §2 makes the paper's form
    the default and this one a named option.
    """

    def __init__(self, feature_dim: int, num_classes: int, hidden: int = 512, n_hidden: int = 1) -> None:
        super().__init__()
        self.mlp = mlp_head(feature_dim, hidden, n_hidden, num_classes)

    def forward(self, feature: torch.Tensor, lambd: float) -> torch.Tensor:
        return self.mlp(grad_reverse(feature, lambd))


# ----------------------------------------------------------------------------------------------------------------
# losses


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Batch mean of ``-Σ_k target_k log softmax(logits)_k``; soft pseudo scene labels beat hard ones in the paper's
    ablation (docs/design.md §2)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def scene_adversarial_loss(logits: torch.Tensor, target: torch.Tensor, soft: bool = True) -> torch.Tensor:
    """Scene-head loss against per-video scene distributions ``target`` (B, K): soft CE, or hard CE on its argmax."""
    if soft:
        return soft_cross_entropy(logits, target)
    return F.cross_entropy(logits, target.argmax(dim=1))


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample entropy (nats) of ``softmax(logits)``, shape (B,)."""
    log_probs = F.log_softmax(logits, dim=1)
    return -(log_probs.exp() * log_probs).sum(dim=1)


def mask_confusion_loss(logits: torch.Tensor) -> torch.Tensor:
    """``-mean entropy``: minimising it maximises the prediction entropy on human-masked clips.

    With no actor left, the right answer is "cannot tell"; a confident prediction can only come from the scene.
    Paper form: pass the action classifier's logits on the masked clip. Code form: pass
    :class:`MaskConfusionHead`'s logits (same formula, the official ``HLoss(is_maximization=True)``).
    """
    return -entropy(logits).mean()
