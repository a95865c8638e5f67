"""Backbones (Hara 3D-ResNet, torchvision video ResNets, the small default CNN) and checkpoint helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from scenebias.models import (
    MODEL_NAMES,
    HaraResNet,
    Small3DNet,
    build_model,
    count_macs,
    count_parameters,
    load_hara_checkpoint,
    load_state_dict_strict,
    save_checkpoint,
)
from scenebias.models.hara_resnet import STAGE_BLOCKS, ZeroPadShortcut


def conv_params(c_in: int, c_out: int, kernel: int) -> int:
    return c_in * c_out * kernel**3


def bn_params(channels: int) -> int:
    return 2 * channels  # weight and bias; running stats are buffers


def derived_hara_params(depth: int, width: int, num_classes: int, shortcut: str) -> int:
    """Parameter count of Hara's 3D-ResNet worked out from the architecture, independently of the module code."""
    total = conv_params(3, width, 7) + bn_params(width)
    c_in = width
    for stage, n_blocks in enumerate(STAGE_BLOCKS[depth]):
        c_out = width * 2**stage
        for block in range(n_blocks):
            total += conv_params(c_in, c_out, 3) + bn_params(c_out) + conv_params(c_out, c_out, 3) + bn_params(c_out)
            if block == 0 and c_in != c_out and shortcut == "B":
                total += conv_params(c_in, c_out, 1) + bn_params(c_out)
            c_in = c_out
    return total + c_in * num_classes + num_classes


def derived_small3d_params(widths: tuple[int, ...], num_classes: int) -> int:
    channels = (3, *widths)
    convs = sum(conv_params(a, b, 3) + bn_params(b) for a, b in zip(channels[:-1], channels[1:], strict=True))
    return convs + widths[-1] * num_classes + num_classes


def run_eval(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        return model(x)


# ---------------------------------------------------------------------------------------------------------------
# shapes and sizes


def test_registry_names_and_errors() -> None:
    assert set(MODEL_NAMES) == {"hara_resnet", "r3d_18", "r2plus1d_18", "small3d"}
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet50", 10)
    with pytest.raises(TypeError):
        build_model("small3d", 10, depth=18)
    with pytest.raises(ValueError, match="depth"):
        build_model("hara_resnet", 10, depth=50)
    with pytest.raises(ValueError, match="shortcut"):
        build_model("hara_resnet", 10, shortcut="C")


def test_hara18_forward_shapes() -> None:
    torch.manual_seed(0)
    model = build_model("hara_resnet", 7, depth=18, shortcut="A", width=16)
    logits, feature = run_eval(model, torch.randn(2, 3, 16, 112, 112))
    assert model.feature_dim == 8 * 16
    assert logits.shape == (2, 7)
    assert feature.shape == (2, 128)
    assert torch.isfinite(logits).all()
    assert torch.allclose(model.fc(feature), logits)


def test_hara18_default_width_matches_the_paper_backbone() -> None:
    model = build_model("hara_resnet", 400, depth=18, shortcut="A")
    assert model.feature_dim == 512
    n_params = count_parameters(model)
    assert n_params == derived_hara_params(18, 64, 400, "A")
    assert n_params == pytest.approx(33.2e6, rel=0.005)
    # docs/design.md §2: ~8.3 GMACs per 16x112x112 clip (torchvision's r3d_18 is ~40.7 G: never confuse the two).
    assert count_macs(model, (1, 3, 16, 112, 112)) / 1e9 == pytest.approx(8.3, rel=0.01)


@pytest.mark.parametrize("depth", [10, 18, 34])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_hara_param_counts_match_derivation(depth: int, shortcut: str) -> None:
    model = HaraResNet(num_classes=5, depth=depth, shortcut=shortcut, width=8)
    assert count_parameters(model) == derived_hara_params(depth, 8, 5, shortcut)


def test_hara_shortcut_a_is_parameter_free_and_b_is_a_projection() -> None:
    model_a = HaraResNet(num_classes=3, depth=18, shortcut="A", width=8)
    shortcuts_a = [block.downsample for layer in (model_a.layer2, model_a.layer3, model_a.layer4) for block in layer]
    shortcuts_a = [s for s in shortcuts_a if s is not None]
    assert len(shortcuts_a) == 3 and all(isinstance(s, ZeroPadShortcut) for s in shortcuts_a)
    assert all(sum(p.numel() for p in s.parameters()) == 0 for s in shortcuts_a)
    assert not any("downsample" in key for key in model_a.state_dict())
    assert model_a.layer1[0].downsample is None

    keys_b = set(HaraResNet(num_classes=3, depth=18, shortcut="B", width=8).state_dict())
    assert {"layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var"} <= keys_b


def test_hara_shortcut_b_and_depth34_run() -> None:
    x = torch.randn(2, 3, 8, 32, 32)
    for depth, shortcut in [(34, "B"), (10, "A")]:
        logits, feature = run_eval(HaraResNet(num_classes=4, depth=depth, shortcut=shortcut, width=8), x)
        assert logits.shape == (2, 4) and feature.shape == (2, 64)


def test_hara_state_dict_follows_the_checkpoint_layout() -> None:
    keys = list(HaraResNet(num_classes=3, depth=18, width=8).state_dict())
    for key in ["conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
                "layer1.1.conv2.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"]:  # fmt: skip
        assert key in keys
    assert keys[0] == "conv1.weight"
    conv1 = HaraResNet(num_classes=3, width=8).conv1
    assert conv1.kernel_size == (7, 7, 7) and conv1.stride == (1, 2, 2) and conv1.padding == (3, 3, 3)
    assert conv1.bias is None


def test_zero_pad_shortcut_values_and_legacy_gradient_cut() -> None:
    x = torch.randn(1, 2, 4, 4, 4, requires_grad=True)
    out = ZeroPadShortcut(out_channels=5, stride=2)(x)
    assert out.shape == (1, 5, 2, 2, 2)
    assert torch.equal(out[:, :2], x[:, :, ::2, ::2, ::2])
    assert torch.count_nonzero(out[:, 2:]) == 0
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # Hara's original concatenates out.data: no gradient passes the shortcut. detach=True reproduces that.
    legacy = ZeroPadShortcut(out_channels=5, stride=2, detach=True)(x)
    assert not legacy.requires_grad


def test_small3d_shapes_and_size() -> None:
    model = build_model("small3d", 8)
    logits, feature = run_eval(model, torch.randn(2, 3, 8, 32, 32))
    assert logits.shape == (2, 8) and feature.shape == (2, 64) and model.feature_dim == 64
    assert count_parameters(model) == derived_small3d_params((16, 32, 64, 64), 8) == 181_880
    strides = [block[0].stride for block in model.blocks]
    assert strides == [(1, 1, 1), (1, 2, 2), (1, 2, 2), (2, 2, 2)]
    custom = Small3DNet(num_classes=3, widths=(4, 8, 12), temporal_stride_last=False)
    logits, feature = run_eval(custom, torch.randn(2, 3, 2, 16, 16))
    assert logits.shape == (2, 3) and feature.shape == (2, 12)


def test_small3d_pool_form_keeps_resolution_in_convolutions_and_pools_between_blocks() -> None:
    """downsample='pool' (the default run): stride-1 convolutions, max-pool (1,2,2) then (2,2,2) between blocks; the
    same parameters as the strided form (pools have none); maps 8x32x32 -> 8x16x16 -> 4x8x8 -> 2x4x4."""
    model = build_model("small3d", 8, downsample="pool")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    assert [c.stride for c in convs] == [(1, 1, 1)] * 4
    pools = [m.kernel_size for m in model.blocks if isinstance(m, nn.MaxPool3d)]
    assert pools == [(1, 2, 2), (2, 2, 2), (2, 2, 2)]
    assert count_parameters(model) == derived_small3d_params((16, 32, 64, 64), 8)
    shapes = []
    hooks = [c.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[2:]))) for c in convs]
    logits, feature = run_eval(model, torch.randn(2, 3, 8, 32, 32))
    for hook in hooks:
        hook.remove()
    assert shapes == [(8, 32, 32), (8, 16, 16), (4, 8, 8), (2, 4, 4)]
    assert logits.shape == (2, 8) and feature.shape == (2, 64)
    logits, _ = run_eval(model, torch.randn(1, 3, 1, 8, 8))  # one frame, a tiny crop: pools stop at size 1
    assert logits.shape == (1, 8)
    with pytest.raises(ValueError, match="downsample"):
        build_model("small3d", 8, downsample="avg")
    with pytest.raises(ValueError, match="stem_stride"):
        build_model("small3d", 8, downsample="pool", stem_stride=2)


@pytest.mark.parametrize("name", ["r3d_18", "r2plus1d_18"])
def test_torchvision_models_follow_the_interface(name: str) -> None:
    model = build_model(name, 6)
    logits, feature = run_eval(model, torch.randn(1, 3, 8, 64, 64))
    assert logits.shape == (1, 6) and feature.shape == (1, 512) and model.feature_dim == 512
    assert model.fc.out_features == 6
    assert "stem.0.weight" in model.state_dict()  # torchvision's own layout is kept


def test_count_macs_of_one_convolution_and_r3d18() -> None:
    conv = nn.Sequential(nn.Conv3d(3, 4, kernel_size=3, padding=1, bias=False))
    assert count_macs(conv, (1, 3, 2, 5, 5)) == 4 * 2 * 5 * 5 * 3 * 27
    assert count_macs(build_model("r3d_18", 400), (1, 3, 16, 112, 112)) / 1e9 == pytest.approx(40.7, rel=0.01)


# ---------------------------------------------------------------------------------------------------------------
# checkpoints


def tiny_model(num_classes: int = 5) -> nn.Module:
    return Small3DNet(num_classes=num_classes, widths=(4, 8))


def test_checkpoint_round_trip_is_exact(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = tiny_model()
    model.train()
    model(torch.randn(4, 3, 4, 16, 16))  # move the BN running statistics away from their initial values
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", model, {"epoch": 3, "classes": ["a", "b"]})
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left behind

    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert saved["epoch"] == 3 and saved["classes"] == ["a", "b"]
    fresh = tiny_model()
    load_state_dict_strict(fresh, saved["state_dict"])
    x = torch.randn(2, 3, 4, 16, 16)
    for got, want in zip(run_eval(fresh, x), run_eval(model, x), strict=True):
        assert torch.equal(got, want)
    with pytest.raises(ValueError, match="state_dict"):
        save_checkpoint(tmp_path / "x.pt", model, {"state_dict": {}})


def test_strict_load_names_extra_missing_and_misshapen_keys() -> None:
    state = tiny_model().state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys: \['head.weight'\]"):
        load_state_dict_strict(tiny_model(), {**state, "head.weight": torch.zeros(1)})
    without_conv = {k: v for k, v in state.items() if k != "blocks.1.0.weight"}
    with pytest.raises(ValueError, match=r"missing keys: \['blocks.1.0.weight'\]"):
        load_state_dict_strict(tiny_model(), without_conv)
    with pytest.raises(ValueError, match="fc.weight"):
        load_state_dict_strict(tiny_model(num_classes=7), state)


def test_strict_load_strips_module_prefix() -> None:
    source = tiny_model()
    target = tiny_model()
    load_state_dict_strict(target, {f"module.{k}": v for k, v in source.state_dict().items()})
    target_state = target.state_dict()
    assert all(torch.equal(value, target_state[key]) for key, value in source.state_dict().items())


def write_fake_hara_checkpoint(path: Path, model: nn.Module) -> None:
    """The 3D-ResNets-PyTorch format: DataParallel keys, and (pre-0.4.1) no BN num_batches_tracked."""
    state = {f"module.{k}": v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"arch": "resnet-10", "state_dict": state, "epoch": 200, "optimizer": optimizer.state_dict()}, path)


def test_load_hara_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(2)
    source = HaraResNet(num_classes=5, depth=10, width=8)
    write_fake_hara_checkpoint(tmp_path / "hara.pth", source)
    target = HaraResNet(num_classes=5, depth=10, width=8)
    info = load_hara_checkpoint(target, tmp_path / "hara.pth", drop_fc=False)
    assert info == {"arch": "resnet-10", "epoch": 200}
    x = torch.randn(1, 3, 8, 32, 32)
    assert torch.equal(run_eval(target, x)[0], run_eval(source, x)[0])


def test_load_hara_checkpoint_drop_fc(tmp_path: Path) -> None:
    source = HaraResNet(num_classes=5, depth=10, width=8)
    write_fake_hara_checkpoint(tmp_path / "hara.pth", source)
    target = HaraResNet(num_classes=7, depth=10, width=8)
    own_fc = {k: v.clone() for k, v in target.fc.state_dict().items()}
    with pytest.raises(ValueError, match="fc.weight"):
        load_hara_checkpoint(target, tmp_path / "hara.pth", drop_fc=False)
    load_hara_checkpoint(target, tmp_path / "hara.pth", drop_fc=True)
    assert torch.equal(target.fc.weight, own_fc["weight"]) and torch.equal(target.fc.bias, own_fc["bias"])
    assert torch.equal(target.layer4[0].conv2.weight, source.layer4[0].conv2.weight)
    assert torch.equal(target.bn1.running_var, source.bn1.running_var)

    other_width = HaraResNet(num_classes=7, depth=10, width=16)
    with pytest.raises(ValueError, match="conv1.weight"):
        load_hara_checkpoint(other_width, tmp_path / "hara.pth", drop_fc=True)
