"""Training: resume after a kill, DDP on CPU, every loss option, strict model round trip."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import REPO
from scenebias.train import Trainable, TrainSettings, load_model, save_model

SCRIPT = REPO / "scripts" / "train.py"


def settings(**overrides) -> dict:
    base = TrainSettings(model="small3d", model_kwargs={"widths": [4, 8, 8, 8]}, clip_frames=8, crop=32,
                         optimizer="adam", lr=3e-3, schedule="onecycle", epochs=3, batch_size=8, seed=0)  # fmt: skip
    return {**asdict(base), **overrides}


def train_cmd(data: dict, out: Path, ckpt: Path, values: dict, launcher=(sys.executable,)) -> list[str]:
    return [
        *launcher, str(SCRIPT), "--settings", json.dumps(values),
        "--manifest", str(data["manifest"]), "--frames", str(data["frames"]),
        "--train-roles", "train", "--val-roles", "test",
        "--scene-labels", str(data["scene"]), "--boxes", str(data["boxes"]),
        "--out-dir", str(out), "--ckpt-dir", str(ckpt),
    ]  # fmt: skip


def run_ok(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def without_time(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.drop(columns=["seconds"])


def test_resume_after_kill_gives_identical_metrics(tiny_source, tmp_path):
    values = settings(epochs=5, scene_weight=0.3, scene_lambda_schedule="dann", mask_weight=1.0)
    run_ok(train_cmd(tiny_source, tmp_path / "whole", tmp_path / "ckpt_whole", values))

    cmd = train_cmd(tiny_source, tmp_path / "killed", tmp_path / "ckpt_killed", values)
    log = tmp_path / "killed.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while "epoch 2:" not in log.read_text() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "training finished before it could be killed: " + log.read_text()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (tmp_path / "ckpt_killed" / "last.pt").is_file()
    assert not (tmp_path / "killed" / "metrics.json").exists()
    resumed = run_ok(cmd)
    assert "resumed from" in resumed.stderr
    whole = pd.read_csv(tmp_path / "whole" / "log.csv")
    again = pd.read_csv(tmp_path / "killed" / "log.csv")
    pd.testing.assert_frame_equal(without_time(whole), without_time(again))
    a, _ = load_model(tmp_path / "whole" / "model.pt")
    b, _ = load_model(tmp_path / "killed" / "model.pt")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert not (tmp_path / "ckpt_killed" / "last.pt").exists()  # a finished run removes its checkpoint


def test_checkpoint_with_other_settings_is_not_resumed(tiny_source, tmp_path):
    run_ok(train_cmd(tiny_source, tmp_path / "a", tmp_path / "ckpt", settings(epochs=1)))
    # Leave a stale checkpoint behind by copying one in place from a different run's settings.
    stale = {"fingerprint": "0" * 16}
    torch.save(stale, tmp_path / "ckpt" / "last.pt")
    proc = run_ok(train_cmd(tiny_source, tmp_path / "b", tmp_path / "ckpt", settings(epochs=1)))
    assert "ignoring" in proc.stderr and "resumed" not in proc.stderr


@pytest.mark.parametrize(
    "overrides",
    [
        {"optimizer": "sgd", "lr": 0.01, "nesterov": True, "schedule": "plateau", "plateau_patience": 0},
        {"scene_weight": 1.0, "scene_soft": False, "schedule": "cosine"},
        {"mask_weight": 1.0, "mask_form": "code", "mask_batch": "separate", "schedule": "constant"},
        {"mask_weight": 0.5, "mask_form": "paper", "mask_batch": "separate", "warmup_epochs": 1},
    ],
)
def test_every_option_trains(tiny_source, tmp_path, overrides):
    values = settings(epochs=2, **overrides)
    run_ok(train_cmd(tiny_source, tmp_path / "out", tmp_path / "ckpt", values))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and 0 <= metrics["final"]["val_acc"] <= 1
    if overrides.get("mask_weight"):
        assert metrics["n_valid_for_mask"] > 0
        log = pd.read_csv(tmp_path / "out" / "log.csv")
        assert (log["train_mask_loss"] < 0).any()  # minus entropy: the loss is negative once it is used


def test_ddp_two_cpu_processes(tiny_source, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = train_cmd(tiny_source, tmp_path / "out", tmp_path / "ckpt", settings(epochs=1, mask_weight=1.0),
                    launcher=(str(torchrun), "--standalone", "--nproc_per_node", "2"))  # fmt: skip
    run_ok(cmd, timeout=300)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    per_rank = math.ceil(metrics["n_train"] / 2)
    assert metrics["steps_per_epoch"] == math.ceil(per_rank / 8)  # each rank sees half the videos
    load_model(tmp_path / "out" / "model.pt")


def test_saved_model_round_trip_is_strict(tmp_path):
    from scenebias.models import build_model

    s = TrainSettings(**settings(scene_weight=0.3))
    trainable = Trainable(build_model(s.model, 5, **s.model_kwargs), n_scenes=4, settings=s)
    save_model(tmp_path / "m.pt", trainable, s, {})
    net, record = load_model(tmp_path / "m.pt")
    x = torch.randn(2, 3, 8, 32, 32)
    trainable.eval()
    assert torch.equal(net(x)[0], trainable.net(x)[0])
    assert set(record["heads"]) == {"scene"}
    record["state_dict"]["fc.extra"] = torch.zeros(1)
    torch.save(record, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="fc.extra"):
        load_model(tmp_path / "bad.pt")


# ---------------------------------------------------------------------------------------------------------
# The loss of one batch (scenebias.train.batch_losses), on a tiny network and hand-made clips


def one_batch(n: int = 4, has_mask=(True, False, True, True), n_scenes: int = 3) -> dict:
    g = torch.Generator().manual_seed(0)
    clip = torch.randint(0, 255, (n, 8, 32, 32, 3), generator=g, dtype=torch.uint8)
    scene = torch.softmax(torch.randn(n, n_scenes, generator=g), 1)
    return {
        "clip": clip,
        "label": torch.tensor([0, 1, 2, 0])[:n],
        "masked": torch.zeros_like(clip),
        "has_mask": torch.tensor(has_mask),
        "scene": scene,
    }


def trainable_of(**overrides) -> tuple[Trainable, TrainSettings]:
    from scenebias.models import build_model

    s = TrainSettings(**settings(**overrides))
    torch.manual_seed(0)
    net = build_model(s.model, 3, **s.model_kwargs)
    return Trainable(net, 3, s).eval(), s  # eval: batch norm treats every clip alone, so sub-batches compare


def test_batch_loss_without_debiasing_is_the_cross_entropy():
    from scenebias.train import batch_losses

    model, s = trainable_of()
    batch = one_batch()
    losses = batch_losses(model, batch, s, "cpu", scene_lambda=1.0)
    from scenebias.data import normalize

    logits, _ = model.net(normalize(batch["clip"], s.mean, s.std))
    assert losses.total.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, batch["label"]).item())
    assert losses.scene.item() == 0 and losses.mask.item() == 0
    assert losses.logits.shape == (4, 3)


def test_batch_loss_adds_weighted_scene_and_mask_terms_on_masked_clips_only():
    from scenebias.losses import mask_confusion_loss, scene_adversarial_loss
    from scenebias.train import batch_losses

    model, s = trainable_of(scene_weight=0.3, mask_weight=2.0)
    batch = one_batch()
    losses = batch_losses(model, batch, s, "cpu", scene_lambda=0.5)
    assert losses.total.item() == pytest.approx((losses.ce + 0.3 * losses.scene + 2.0 * losses.mask).item(), rel=1e-6)
    assert losses.scene.item() > 0 and losses.mask.item() < 0  # the paper form: minus the entropy
    # The mask term is the entropy loss of the 3 clips that have a human mask (the second has none).
    from scenebias.data import normalize

    masked_logits, _ = model.net(normalize(batch["masked"][batch["has_mask"]], s.mean, s.std))
    assert losses.mask.item() == pytest.approx(mask_confusion_loss(masked_logits).item(), rel=1e-5)
    scene_logits = model.scene_head(model.net(normalize(batch["clip"], s.mean, s.std))[1], 0.5)
    expected_scene = scene_adversarial_loss(scene_logits, batch["scene"], s.scene_soft)
    assert losses.scene.item() == pytest.approx(expected_scene.item(), rel=1e-5)
    # No masked clip in the batch: no mask term at all.
    none = batch_losses(model, {**batch, "has_mask": torch.zeros(4, dtype=torch.bool)}, s, "cpu", 0.5)
    assert none.mask.item() == 0
    assert none.total.item() == pytest.approx((none.ce + 0.3 * none.scene).item(), rel=1e-6)


def test_batch_loss_reverses_the_scene_gradient_into_the_backbone():
    """Minimising the total trains the scene head to predict the scene and the backbone against it: with the
    action loss switched off (lr-free check), the backbone's gradient flips sign with the reversal strength."""
    from scenebias.train import batch_losses

    model, s = trainable_of(scene_weight=1.0)
    batch = one_batch()

    def backbone_grad(lam: float) -> torch.Tensor:
        model.zero_grad()
        batch_losses(model, batch, s, "cpu", scene_lambda=lam).scene.backward()
        return next(p for n, p in model.net.named_parameters() if not n.startswith("fc.")).grad.clone()

    plus, minus = backbone_grad(1.0), backbone_grad(-1.0)
    assert plus.abs().sum() > 0
    assert torch.allclose(plus, -minus, atol=1e-7)
