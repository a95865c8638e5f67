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
from scenebias.models import load_model, save_model
from scenebias.train import Trainable, TrainSettings

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
    # The job log of the killed run: one line per epoch with an ETA, no carriage returns (no progress bar in a
    # file); log.csv already holds the finished epochs.
    text = log.read_text()
    assert "\r" not in text and "ETA" in text
    live = pd.read_csv(tmp_path / "killed" / "log.csv")
    assert len(live) >= 2 and list(live["epoch"]) == list(range(1, len(live) + 1))
    saved = torch.load(tmp_path / "ckpt_killed" / "last.pt", map_location="cpu", weights_only=False)["rows"]
    resumed = run_ok(cmd)
    # the epoch it resumes after, as log.csv and the job log count epochs (from 1)
    assert f"after epoch {saved[-1]['epoch']} (as log.csv counts them)" in resumed.stderr, resumed.stderr[-2000:]
    assert saved[-1]["epoch"] == len(saved) >= len(live)
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
    assert metrics["batch_per_rank"] == 4  # global_batch: the job's batch of 8, split across 2 processes
    assert metrics["steps_per_epoch"] == math.ceil(per_rank / 4)  # each rank sees half the videos
    load_model(tmp_path / "out" / "model.pt")


def test_training_job_evaluates_its_model_as_the_evaluate_script_does(tiny_source, tmp_path):
    """The fine-tuning jobs evaluate in-process (--eval-out): the same eval.json and predictions as a separate
    scripts/evaluate.py on the saved model; under torchrun with 2 processes one of them writes the files."""
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    in_job = ["--eval-out", str(out / "eval.json"), "--predictions", str(out / "predictions.csv")]
    in_job += ["--eval-roles", "test"]
    proc = run_ok(train_cmd(tiny_source, out, ckpt, settings(epochs=2)) + in_job, timeout=300)
    assert "evaluated on test: video top-1" in proc.stdout
    separate = [sys.executable, str(REPO / "scripts" / "evaluate.py"), "--model", str(out / "model.pt"),
                "--manifest", str(tiny_source["manifest"]), "--frames", str(tiny_source["frames"]), "--roles", "test",
                "--out", str(tmp_path / "eval.json"), "--predictions", str(tmp_path / "predictions.csv")]  # fmt: skip
    run_ok(separate, timeout=300)
    ours, theirs = (json.loads(p.read_text()) for p in (out / "eval.json", tmp_path / "eval.json"))
    assert ours["n_videos"] > 0 and ours["n_videos"] == theirs["n_videos"]
    assert ours["confusion"] == theirs["confusion"] and ours["video_top1"] == theirs["video_top1"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "predictions.csv"), pd.read_csv(tmp_path / "predictions.csv"))

    torchrun = Path(sys.executable).parent / "torchrun"
    ddp_out = tmp_path / "ddp"
    cmd = train_cmd(tiny_source, ddp_out, tmp_path / "ddp_ckpt", settings(epochs=1),
                    launcher=(str(torchrun), "--standalone", "--nproc_per_node", "2"))  # fmt: skip
    proc = run_ok(cmd + ["--eval-out", str(ddp_out / "eval.json")], timeout=300)
    assert proc.stdout.count("evaluated on test") == 1
    assert json.loads((ddp_out / "eval.json").read_text())["n_videos"] == ours["n_videos"]


def test_ddp_ranks_agree_after_plateau_steps(tiny_source, tmp_path):
    """Two CPU processes, plateau schedule with patience 0 and validation every epoch: both ranks step their
    scheduler on the same all-reduced validation loss, so after the learning rate has dropped both hold the same
    learning rate and the same weights (each rank reports a hash of its parameters)."""
    torchrun = Path(sys.executable).parent / "torchrun"
    values = settings(epochs=5, optimizer="sgd", lr=0.5, schedule="plateau", plateau_patience=0, batch_size=8,
                      global_batch=False)  # fmt: skip
    cmd = train_cmd(tiny_source, tmp_path / "out", tmp_path / "ckpt", values,
                    launcher=(str(torchrun), "--standalone", "--nproc_per_node", "2"))  # fmt: skip
    run_ok(cmd, timeout=600)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    ranks = metrics["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert metrics["batch_per_rank"] == 8  # global_batch false: each process takes batch_size
    rows = pd.read_csv(tmp_path / "out" / "log.csv")
    assert rows["lr"].min() < 0.5, "the plateau schedule never stepped down: the test shows nothing"
    assert ranks[0]["lr"] == ranks[1]["lr"] == pytest.approx(rows["lr"].iloc[-1])
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert rows["val_loss"].notna().all(), rows


def test_fp16_scaler_path_trains_like_fp32_on_cpu(tiny_source, tmp_path):
    """amp fp16 runs the gradient scaler (on CPU with fp32 gradients, where autocast stays off): the loss is
    scaled by 2^16 before backward and the gradients divided by it before the step, both exact, so the run
    matches the unscaled one; the scaler's state is in the checkpoint for resuming."""
    a = settings(epochs=2, scene_weight=0.3, mask_weight=1.0, mask_batch="separate", amp="off")
    b = {**a, "amp": "fp16"}
    run_ok(train_cmd(tiny_source, tmp_path / "off", tmp_path / "ckpt_off", a))
    run_ok(train_cmd(tiny_source, tmp_path / "fp16", tmp_path / "ckpt_fp16", b))
    off, fp16 = (pd.read_csv(tmp_path / d / "log.csv") for d in ("off", "fp16"))
    pd.testing.assert_frame_equal(without_time(off), without_time(fp16))
    x, _ = load_model(tmp_path / "off" / "model.pt")
    y, _ = load_model(tmp_path / "fp16" / "model.pt")
    for (name, p), (_, q) in zip(x.state_dict().items(), y.state_dict().items(), strict=True):
        assert torch.equal(p, q), name


def test_optimizer_step_skips_inf_gradients_and_halves_the_scale():
    from scenebias.train import make_scaler, optimizer_step

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    scaler = make_scaler(TrainSettings(amp="fp16"), "cpu")
    assert scaler.is_enabled() and scaler.get_scale() == 2.0**16
    x = torch.randn(4, 3)
    reference = torch.nn.Linear(3, 1)
    reference.load_state_dict(layer.state_dict())
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    assert optimizer_step(layer(x).pow(2).mean(), opt, scaler)
    ref_opt.zero_grad()
    reference(x).pow(2).mean().backward()
    ref_opt.step()
    assert torch.allclose(layer.weight, reference.weight, atol=0, rtol=1e-6)
    before = layer.weight.detach().clone()
    assert not optimizer_step(layer(x).sum() * float("inf"), opt, scaler)  # overflow: no step
    assert torch.equal(layer.weight, before) and scaler.get_scale() == 2.0**15
    assert not make_scaler(TrainSettings(amp="bf16"), "cpu").is_enabled()


def test_amp_setting_accepts_the_older_boolean():
    assert TrainSettings(amp=True).amp == "bf16" and TrainSettings(amp=False).amp == "off"
    with pytest.raises(ValueError, match="compute.amp"):
        TrainSettings(amp="fp8")


def test_validation_every_n_epochs_on_a_fixed_subset_through_workers(tiny_source, tmp_path):
    values = settings(epochs=3, val_every=2, val_clips=5, workers=2, persistent_workers=True, schedule="plateau",
                      optimizer="sgd", lr=0.01)  # fmt: skip
    run_ok(train_cmd(tiny_source, tmp_path / "out", tmp_path / "ckpt", values))
    rows = pd.read_csv(tmp_path / "out" / "log.csv")
    assert rows["val_loss"].isna().tolist() == [True, False, False]  # epoch 2 (every 2nd) and the last
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["val_clips"] == 5


def test_validation_shares_cover_the_subset_once(tiny_source):
    from scenebias.data import load_videos
    from scenebias.train import Dist, RunData, build_loaders, val_indices

    videos = load_videos(tiny_source["manifest"], tiny_source["frames"], 1, ["test"])
    data = RunData(videos[:20], videos, 3, 0)
    s = TrainSettings(**settings(val_clips=5, workers=2))
    shares = [list(build_loaders(s, data, Dist(rank, 2), "cpu").val.sampler) for rank in (0, 1)]
    loader = build_loaders(s, data, Dist(0, 2), "cpu").val
    assert loader.num_workers == 2
    assert len(loader.dataset) > 5
    subset = val_indices(len(loader.dataset), 5)
    assert len(subset) == 5 and subset == val_indices(len(loader.dataset), 5)  # fixed
    assert sorted(shares[0] + shares[1]) == subset
    assert val_indices(5, 0) == val_indices(5, 9) == [0, 1, 2, 3, 4]


def test_tensorboard_setting_without_the_package_says_how_to_get_it(tmp_path):
    from scenebias.train import tensorboard_writer

    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="pip install tensorboard"):
            tensorboard_writer(tmp_path / "tb", 0)
    else:
        tensorboard_writer(tmp_path / "tb", 0).close()
        assert list((tmp_path / "tb").iterdir())


def official_checkpoint(path: Path, num_classes: int, **kwargs) -> dict:
    """A file in 3D-ResNets-PyTorch's format (what its train.py saves): DataParallel's `module.` keys, arch,
    epoch and the optimizer state; randomly initialised (nothing can be downloaded here)."""
    from scenebias.models import build_model

    torch.manual_seed(1)
    net = build_model("hara_resnet", num_classes, **kwargs)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 200, "arch": "resnet-18", "state_dict": state, "optimizer": opt.state_dict()}, path)
    return net.state_dict()


def test_init_checkpoint_loads_the_official_format_strictly(tmp_path):
    from scenebias.train import RunData, build_trainable

    kwargs = {"depth": 18, "shortcut": "A", "width": 4}
    source = official_checkpoint(tmp_path / "kinetics.pth", 400, **kwargs)
    s = TrainSettings(model="hara_resnet", model_kwargs=kwargs, init_checkpoint=str(tmp_path / "kinetics.pth"))
    trainable = build_trainable(s, RunData([], [], 200, 0), None, False, "cpu")
    state = trainable.net.state_dict()
    for key, value in source.items():
        if key.startswith("fc."):
            assert state[key].shape[0] == 200  # the run's own classifier, fresh
        else:
            assert torch.equal(state[key], value), key
    # Another architecture in the file: refused, naming the keys.
    official_checkpoint(tmp_path / "r34.pth", 400, **{**kwargs, "depth": 34})
    with pytest.raises(ValueError, match="layer"):
        build_trainable(TrainSettings(**{**asdict(s), "init_checkpoint": str(tmp_path / "r34.pth")}),
                        RunData([], [], 200, 0), None, False, "cpu")  # fmt: skip
    # A model.pt of ours given as init wins over init_checkpoint (staging, fine-tuning).
    without = build_trainable(TrainSettings(**{**asdict(s), "init_checkpoint": None}), RunData([], [], 200, 0),
                              None, False, "cpu")  # fmt: skip
    assert not torch.equal(without.net.state_dict()["conv1.weight"], source["conv1.weight"])


def test_saved_model_round_trip_is_strict(tmp_path):
    from scenebias.models import build_model

    s = TrainSettings(**settings(scene_weight=0.3))
    trainable = Trainable(build_model(s.model, 5, **s.model_kwargs), n_scenes=4, settings=s)
    save_model(tmp_path / "m.pt", trainable.net, {"scene": trainable.scene_head.state_dict()}, s, {})
    net, record = load_model(tmp_path / "m.pt")
    x = torch.randn(2, 3, 8, 32, 32)
    trainable.eval()
    assert torch.equal(net(x)[0], trainable.net(x)[0])
    assert set(record["heads"]) == {"scene"}
    record["state_dict"]["fc.extra"] = torch.zeros(1)
    torch.save(record, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="fc.extra"):
        load_model(tmp_path / "bad.pt")


def test_fine_tuning_init_replaces_the_classifier_and_drops_the_heads(tmp_path):
    """init_from with new_classifier (fine-tuning on a new label set): the backbone strictly from the saved model,
    a fresh classifier of the run's size, no head from the file; without it, another label set is refused."""
    from scenebias.models import build_model
    from scenebias.train import RunData, build_trainable

    s = TrainSettings(**settings(scene_weight=0.3))
    torch.manual_seed(0)
    source = Trainable(build_model(s.model, 8, **s.model_kwargs), n_scenes=4, settings=s)
    save_model(tmp_path / "m.pt", source.net, {"scene": source.scene_head.state_dict()}, s, {})
    tuned = build_trainable(s, RunData([], [], 3, 4), tmp_path / "m.pt", True, "cpu")
    for key, value in source.net.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(tuned.net.state_dict()[key], value), key
    assert tuned.net.fc.out_features == 3
    fresh, saved = tuned.scene_head.state_dict(), source.scene_head.state_dict()
    assert any(not torch.equal(fresh[k], saved[k]) for k in saved)  # the file's head is not taken over
    logits, _ = tuned.net.eval()(torch.randn(2, 3, 8, 32, 32))
    assert logits.shape == (2, 3)
    with pytest.raises(ValueError, match="8 classes, this run has 3"):
        build_trainable(s, RunData([], [], 3, 4), tmp_path / "m.pt", False, "cpu")


# ---------------------------------------------------------------------------------------------------------
# The loss of one batch (scenebias.train.loop.batch_losses), on a tiny network and hand-made clips


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
