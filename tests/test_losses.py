"""Gradient reversal, λ schedules, the scene adversary and the human-mask confusion loss (paper and code forms)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from scenebias.losses import (
    MaskConfusionHead,
    SceneAdversary,
    dann_lambda,
    entropy,
    grad_reverse,
    lambda_schedule,
    mask_confusion_loss,
    scene_adversarial_loss,
    soft_cross_entropy,
)
from scenebias.models import Small3DNet


def test_grad_reverse_is_identity_forward_and_minus_lambda_backward() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    upstream = torch.randn(3, 4)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    y.backward(upstream)
    assert torch.equal(x.grad, -0.7 * upstream)

    x.grad = None
    grad_reverse(x, 0.0).backward(upstream)
    assert torch.count_nonzero(x.grad) == 0


def test_dann_lambda_ramp() -> None:
    assert dann_lambda(0.0, 0.5) == 0.0
    values = [dann_lambda(p / 20, 0.5) for p in range(21)]
    assert all(b > a for a, b in zip(values[:-1], values[1:], strict=True))
    assert values[-1] == pytest.approx(0.5 * (2 / (1 + math.exp(-10)) - 1))
    assert 0.4999 < values[-1] < 0.5
    assert dann_lambda(1.0, 0.5, gamma=50.0) == pytest.approx(0.5)
    assert dann_lambda(1.7, 0.5) == dann_lambda(1.0, 0.5)  # progress is clamped
    assert dann_lambda(-0.3, 0.5) == 0.0


def test_lambda_schedule() -> None:
    constant = lambda_schedule("constant", 0.5)
    assert constant(0.0) == constant(0.9) == 0.5
    ramp = lambda_schedule("dann", 1.0)
    assert ramp(0.0) == 0.0 and ramp(0.3) == pytest.approx(dann_lambda(0.3, 1.0))
    with pytest.raises(ValueError, match="constant"):
        lambda_schedule("linear", 1.0)  # type: ignore[arg-type]


def test_soft_cross_entropy_matches_hard_for_one_hot_targets() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 4)
    labels = torch.tensor([0, 3, 1, 1, 2])
    one_hot = F.one_hot(labels, 4).float()
    assert torch.allclose(soft_cross_entropy(logits, one_hot), F.cross_entropy(logits, labels))
    assert torch.allclose(scene_adversarial_loss(logits, one_hot, soft=True), F.cross_entropy(logits, labels))
    soft_target = torch.softmax(torch.randn(5, 4), dim=1)
    assert torch.allclose(
        scene_adversarial_loss(logits, soft_target, soft=False), F.cross_entropy(logits, soft_target.argmax(1))
    )
    assert not torch.allclose(scene_adversarial_loss(logits, soft_target, soft=True), F.cross_entropy(logits, labels))


def test_soft_cross_entropy_gradient_is_softmax_minus_target_over_batch() -> None:
    torch.manual_seed(1)
    logits = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    target = torch.softmax(torch.randn(6, 5, dtype=torch.float64), dim=1)
    soft_cross_entropy(logits, target).backward()
    expected = (torch.softmax(logits.detach(), dim=1) - target) / 6
    assert torch.allclose(logits.grad, expected, atol=1e-12)


def test_entropy_of_uniform_is_log_k_and_the_confusion_loss_pushes_toward_uniform() -> None:
    assert torch.allclose(entropy(torch.zeros(3, 7)), torch.full((3,), math.log(7)))
    assert torch.allclose(entropy(torch.tensor([[100.0, 0.0, 0.0]])), torch.zeros(1), atol=1e-6)

    logits = torch.tensor([[3.0, 0.0, -1.0, 0.5], [0.0, 2.0, 0.0, -2.0]], requires_grad=True)
    before = entropy(logits).detach()
    loss = mask_confusion_loss(logits)
    assert loss.item() == pytest.approx(-before.mean().item())
    loss.backward()
    with torch.no_grad():
        after = entropy(logits - 0.1 * logits.grad)
    assert (after > before).all()


def grad_reaching_input(head: torch.nn.Module, feature: torch.Tensor, target: torch.Tensor, lambd: float | None):
    """Gradient of the head's loss w.r.t. its input feature; ``lambd=None`` bypasses the GRL (plain head)."""
    x = feature.clone().requires_grad_(True)
    logits = head.mlp(x) if lambd is None else head(x, lambd)
    soft_cross_entropy(logits, target).backward()
    head_grads = [p.grad.clone() for p in head.parameters()]
    head.zero_grad()
    return x.grad, head_grads


@pytest.mark.parametrize("head_class", [SceneAdversary, MaskConfusionHead])
@pytest.mark.parametrize("lambd", [0.5, 1.0])
def test_heads_reverse_the_gradient_reaching_the_feature(head_class: type, lambd: float) -> None:
    torch.manual_seed(2)
    head = head_class(16, 5, hidden=8).double()
    feature = torch.randn(6, 16, dtype=torch.float64)
    target = torch.softmax(torch.randn(6, 5, dtype=torch.float64), dim=1)
    plain_grad, plain_head_grads = grad_reaching_input(head, feature, target, None)
    reversed_grad, head_grads = grad_reaching_input(head, feature, target, lambd)
    assert plain_grad.abs().sum() > 0
    assert torch.allclose(reversed_grad, -lambd * plain_grad, atol=1e-12)
    # The head itself still descends its own loss: its gradients do not depend on the GRL.
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(head_grads, plain_head_grads, strict=True))


def test_head_depths() -> None:
    def n_linear(head: torch.nn.Module) -> int:
        return sum(isinstance(m, torch.nn.Linear) for m in head.modules())

    assert n_linear(SceneAdversary(512, 365)) == 4  # 3 hidden blocks + output, as in the official place_mlp
    assert n_linear(MaskConfusionHead(512, 200)) == 2  # 1 hidden block + output, as in hm_mlp
    assert SceneAdversary(512, 365)(torch.randn(2, 512), 0.5).shape == (2, 365)


def tiny_backbone() -> Small3DNet:
    torch.manual_seed(3)
    return Small3DNet(num_classes=4, widths=(4, 8)).double()


def masked_clip() -> torch.Tensor:
    return torch.randn(4, 3, 4, 16, 16, dtype=torch.float64)


def test_paper_form_trains_the_action_classifier() -> None:
    model = tiny_backbone()
    logits, _ = model(masked_clip())
    mask_confusion_loss(logits).backward()
    assert model.fc.weight.grad is not None and model.fc.weight.grad.abs().sum() > 0
    assert model.blocks[0][0].weight.grad.abs().sum() > 0


def test_code_form_leaves_the_action_classifier_alone() -> None:
    model = tiny_backbone()
    head = MaskConfusionHead(model.feature_dim, 4, hidden=8).double()
    _, feature = model(masked_clip())
    mask_confusion_loss(head(feature, 1.0)).backward()
    assert model.fc.weight.grad is None
    assert model.blocks[0][0].weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())


def head_entropy_after_step(model: Small3DNet, head: MaskConfusionHead, x: torch.Tensor, step_module: str) -> float:
    """One small SGD step on either the head or the backbone, then the head's mean entropy (eval-mode BN)."""
    model.eval()
    head.eval()
    _, feature = model(x)
    mask_confusion_loss(head(feature, 1.0)).backward()
    params = head.parameters() if step_module == "head" else model.blocks.parameters()
    with torch.no_grad():
        for p in params:
            p -= 1e-3 * p.grad
        return entropy(head(model(x)[1], 1.0)).mean().item()


def test_code_form_is_a_minimax_on_the_head_entropy() -> None:
    x = masked_clip()
    model = tiny_backbone()
    head = MaskConfusionHead(model.feature_dim, 4, hidden=8).double()
    model.eval()
    head.eval()
    with torch.no_grad():
        start = entropy(head(model(x)[1], 1.0)).mean().item()
    # The head is pushed toward high entropy; the backbone, through the GRL, toward low (each stepped alone).
    assert head_entropy_after_step(copy.deepcopy(model), copy.deepcopy(head), x, "head") > start
    assert head_entropy_after_step(copy.deepcopy(model), copy.deepcopy(head), x, "backbone") < start
