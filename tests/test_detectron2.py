"""The detectron2 human-box backend against the real library (docs/detectron2.md): detectron2 at the pinned commit
in its own env (tests/detectron2_env.py), random weights in detectron2's own checkpoint format, the human-box
script and the paper's 70 % rule; strict weights; and the two ways an install goes wrong (absent, broken)."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from detectron2_env import (
    BICYCLE,
    D2_VENV,
    MODEL,
    PERSON,
    detectron2_python,
    run_in_detectron2_env,
    write_biased_checkpoint,
)
from PIL import Image
from test_humans import walking_video

from conftest import REPO
from scenebias.framepack import write_pack
from scenebias.humans.boxes import load_boxes
from scenebias.humans.detectors import DETECTRON2_COMMIT, BackendUnavailable, build_detectron2_detector
from scenebias.humans.masks import load_masks

SCRIPT = str(REPO / "scripts" / "human_boxes.py")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("detectron2_weights")
    return {
        "person": write_biased_checkpoint(root / "person" / "model_person.pth", PERSON),
        "bicycle": write_biased_checkpoint(root / "bicycle" / "model_bicycle.pth", BICYCLE),
    }


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    """A shard of frame packs as the frames stage writes it: two 7-frame videos and one that failed to extract."""
    root = tmp_path_factory.mktemp("detectron2_shard")
    rows = []
    for seed, vid in enumerate(("walk_a", "walk_b")):
        frames, _ = walking_video(seed=seed, n=7)
        jpegs = []
        for i, frame in enumerate(frames):
            jpegs.append(root / "jpg" / vid / f"{i:06d}.jpg")
            jpegs[-1].parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(jpegs[-1], quality=95)
        write_pack(jpegs, root / "packs" / f"{vid}.zip")
        rows.append({"video_id": vid, "status": "ok", "n_frames": 7, "pack": f"{vid}.zip", "w": 128, "h": 96})
    rows.append({"video_id": "bad", "status": "failed", "n_frames": 0, "pack": "", "w": 0, "h": 0})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    return root


def settings(**over) -> str:
    base = {"config": MODEL, "short_side": 96, "batch_size": 3, "min_score": 0.05, "device": "cpu"}
    return json.dumps({**base, **over})


def human_boxes(python: str, shard, out, *args: str, env=None) -> subprocess.CompletedProcess:
    """scripts/human_boxes.py on the shard with backend detectron2, as the human_boxes rule runs it."""
    cmd = [python, SCRIPT, "--index", str(shard / "index.csv"), "--packs", str(shard / "packs"),
           "--backend", "detectron2", "--out", str(out), *args]  # fmt: skip
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)


# ---------------------------------------------------------------------------------------------------------
# The real library


IMPORT_CHAIN = """
import json, detectron2, detectron2._C, setuptools
from scenebias.humans.detectors import import_detectron2
found = import_detectron2()
print(json.dumps({"file": detectron2.__file__, "setuptools": setuptools.__version__, "pieces": sorted(found)}))
"""


def test_detectron2_import_chain_in_its_env():
    """The adapter's imports (model_zoo, which needs pkg_resources; config; checkpoint; transforms; modeling) and
    the compiled ops, from the env's own detectron2, with the setuptools the env pins."""
    proc = run_in_detectron2_env("-c", IMPORT_CHAIN)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["file"].startswith(str(D2_VENV))
    assert int(found["setuptools"].split(".")[0]) < 82
    assert found["pieces"] == ["DetectionCheckpointer", "build_model", "get_cfg", "model_zoo", "transforms"]


SAME_AS_DEFAULT_PREDICTOR = """
import json, sys
import numpy as np
from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.engine import DefaultPredictor
from scenebias.humans.detectors import build_detectron2_detector, detectron2_detect

config, weights = sys.argv[1], sys.argv[2]
frames = np.random.default_rng(0).integers(0, 256, (3, 48, 64, 3), dtype=np.uint8)
ours = detectron2_detect(build_detectron2_detector(config, weights, 64, 0.05), "cpu", batch_size=2)(frames)
cfg = get_cfg()
cfg.merge_from_file(model_zoo.get_config_file(config))
cfg.MODEL.DEVICE, cfg.MODEL.WEIGHTS, cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = "cpu", weights, 0.05
cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 64, int(64 * 1333 / 800)
predictor = DefaultPredictor(cfg)
theirs = []
for frame in frames:
    instances = predictor(np.ascontiguousarray(frame[:, :, ::-1]))["instances"]  # DefaultPredictor takes BGR
    person = instances.pred_classes == 0
    theirs.append(np.concatenate([instances.pred_boxes.tensor[person].numpy(),
                                  instances.scores[person].numpy()[:, None]], 1).tolist())
print(json.dumps({"ours": [b.tolist() for b in ours], "theirs": theirs}))
"""


def test_batched_adapter_matches_default_predictor(checkpoints):
    """Our batched path (2 + 1 frames) gives DefaultPredictor's boxes: same channel order, resizing, and boxes in
    the frame's own pixels."""
    proc = run_in_detectron2_env("-c", SAME_AS_DEFAULT_PREDICTOR, MODEL, str(checkpoints["person"]))
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(found["ours"]) == len(found["theirs"]) == 3
    for ours, theirs in zip(found["ours"], found["theirs"], strict=True):
        assert len(ours) >= 1 and len(ours) == len(theirs)
        assert np.allclose(ours, theirs, atol=1e-2)
        boxes = np.array(ours)
        assert (boxes[:, [0, 2]] <= 64).all() and (boxes[:, [1, 3]] <= 48).all() and (boxes[:, :4] >= 0).all()


@pytest.mark.parametrize("favoured, expected_valid", [("person", 2), ("bicycle", 0)])
def test_human_box_stage_and_the_70_percent_rule(checkpoints, shard, tmp_path, favoured, expected_valid):
    """scripts/human_boxes.py with backend detectron2 (stride 2, batches of 3) on weights that call everything a
    person / a bicycle, then scripts/merge_human_boxes.py's quality report with the paper's 0.3 / 70 % rule."""
    out, masks = tmp_path / "humans" / "0000.npz", tmp_path / "humans" / "masks" / "0000.npz"
    proc = human_boxes(detectron2_python(), shard, out, "--settings", settings(), "--stride", "2",
                       "--weights", str(checkpoints[favoured]), "--masks", str(masks))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    videos = load_boxes(out)
    person = load_masks([masks])  # Mask R-CNN's person masks beside the boxes, at the frames' size
    assert sorted(person) == sorted(videos) and all(m.shape == (7, 96, 128) for m in person.values())
    masked_frames = 0
    for vid, video in videos.items():  # masks only where there is a person at >= 0.3, inside its boxes (random box
        for frame_boxes, mask in zip(video.frames, person[vid], strict=True):  # regression makes some boxes
            kept = frame_boxes[frame_boxes[:, 4] >= 0.3]  # zero pixels wide: those have empty masks)
            inside = np.zeros_like(mask)
            for x1, y1, x2, y2, _ in kept:
                inside[int(y1) : int(np.ceil(y2)) + 1, int(x1) : int(np.ceil(x2)) + 1] = True
            assert not (mask & ~inside).any(), vid
            masked_frames += bool(mask.any())
    assert masked_frames >= (5 if favoured == "person" else 0) and (favoured == "person" or masked_frames == 0)
    hparams = json.loads(out.with_suffix(".hparams.json").read_text())
    assert hparams["params"]["backend"] == "detectron2"
    assert hparams["params"]["files"]["weights"] == str(checkpoints[favoured])
    quality = tmp_path / "quality.json"
    merge = subprocess.run([sys.executable, str(REPO / "scripts" / "merge_human_boxes.py"), str(out), "--out",
                            str(tmp_path / "boxes.npz"), "--quality", str(quality), "--score-threshold", "0.3",
                            "--valid-ratio", "0.7"], capture_output=True, text=True)  # fmt: skip
    assert merge.returncode == 0, merge.stderr[-2000:]
    report = json.loads(quality.read_text())
    assert report["videos"] == 2 and report["valid_videos"] == expected_valid


# ---------------------------------------------------------------------------------------------------------
# Strict weights


def torchvision_weights(path):
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    torch.save(maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), path)


@pytest.mark.parametrize(
    "write, says",
    [
        (torchvision_weights, "does not match detectron2's " + MODEL),
        (lambda p: p.write_text("<html>Forbidden</html>"), "cannot be loaded as detectron2 weights"),
    ],
    ids=["torchvision-state-dict", "html"],
)
def test_wrong_weights_file_stops_the_job(shard, tmp_path, write, says):
    """detectron2's own loader would only warn and keep random layers; the job stops and names the file and the
    format it expects, and writes no boxes."""
    weights = tmp_path / "maskrcnn_resnet50_fpn_coco.pth"
    write(weights)
    out = tmp_path / "humans" / "0000.npz"
    proc = human_boxes(detectron2_python(), shard, out, "--settings", settings(), "--weights", str(weights))
    assert proc.returncode != 0
    error = proc.stderr.strip().splitlines()[-1]  # one line
    assert error.startswith(f"error: {weights} ") and says in error, proc.stderr[-3000:]
    assert "DetectionCheckpointer" in error and "humans.backend: torchvision" in error
    if "does not match" in says:  # almost nothing in common: torchvision's names, 91 classes instead of 80 + 1
        missing, unexpected = (int(n) for n in re.findall(r"\((\d+) in all\)", error))
        assert missing > 150 and unexpected > 150, error
        assert "'roi_heads.box_predictor.cls_score.weight (91, 1024) in the file, (81, 1024) in the model'" in error
    assert not out.exists()


def test_missing_weights_file_is_named(shard, tmp_path):
    out = tmp_path / "0000.npz"
    proc = human_boxes(detectron2_python(), shard, out, "--settings", settings(), "--weights", str(tmp_path / "x.pkl"))
    assert proc.returncode != 0 and f"detectron2 weights file {tmp_path / 'x.pkl'} does not exist" in proc.stderr


# ---------------------------------------------------------------------------------------------------------
# Installs that go wrong


def test_detectron2_absent_says_how_to_install(shard, tmp_path, monkeypatch):
    """In .venv (no detectron2) the script stops with the install recipe, not a traceback."""
    if importlib.util.find_spec("detectron2") is None:
        proc = human_boxes(sys.executable, shard, tmp_path / "0000.npz", "--settings", settings())
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        message = proc.stderr.strip().splitlines()[-1]
    else:  # someone installed detectron2 into .venv: hide it from this process only
        monkeypatch.setitem(sys.modules, "detectron2", None)
        with pytest.raises(BackendUnavailable) as info:
            build_detectron2_detector(MODEL, None, 96, 0.05)
        message = str(info.value)
    assert "not on PyPI" in message and "envs/detectron2.yaml" in message and "envs/detectron2-venv.sh" in message
    assert f"--no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git@{DETECTRON2_COMMIT}'" in (
        message
    )
    assert "'torchvision'" in message and "'motion'" in message


def test_broken_detectron2_shows_the_real_cause(shard, tmp_path):
    """detectron2 installed into an env whose setuptools has no pkg_resources (>= 82, as .venv's): the error is
    the real ImportError with the fix, not "detectron2 is not installed"."""
    proc = subprocess.run([sys.executable, "-c", "import pkg_resources"], capture_output=True, text=True)
    assert proc.returncode != 0, "this test needs .venv's setuptools without pkg_resources (>= 82)"
    site = run_in_detectron2_env("-c", "import detectron2, pathlib; print(pathlib.Path(detectron2.__file__).parent"
                                 ".parent)").stdout.strip()  # fmt: skip
    # the env's site-packages without its own setuptools: detectron2 + its dependencies on .venv's interpreter
    overlay = tmp_path / "site"
    overlay.mkdir()
    for entry in os.listdir(site):
        if not entry.startswith(("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence")) and (
            not entry.endswith(".pth")
        ):
            (overlay / entry).symlink_to(os.path.join(site, entry))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(overlay), str(REPO)])}
    proc = human_boxes(sys.executable, shard, tmp_path / "0000.npz", "--settings", settings(), env=env)
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()[-1]
    assert f"detectron2 is installed ({overlay / 'detectron2'}) but cannot be imported" in message, proc.stderr
    assert "ModuleNotFoundError: No module named 'pkg_resources'" in message
    assert "'setuptools<82'" in message and "not on PyPI" not in message


# ---------------------------------------------------------------------------------------------------------
# The install recipes (the conda one cannot run here: no conda channels, no git; `make detectron2-env` runs the
# same post-deploy script on the yaml's pip list for the test env)


def test_install_recipes_agree():
    """One pinned commit everywhere (the adapter's help, the post-deploy script); built without build isolation;
    setuptools < 82 in the yaml; the venv recipe takes its packages from the yaml and runs the post-deploy script."""
    from test_envs import env_packages

    post_deploy = (REPO / "envs" / "detectron2.post-deploy.sh").read_text()
    assert re.search(rf"^DETECTRON2_COMMIT={DETECTRON2_COMMIT}$", post_deploy, re.M)
    assert "git+https://github.com/facebookresearch/detectron2.git@$DETECTRON2_COMMIT" in post_deploy
    assert "--no-build-isolation" in post_deploy and "--no-deps" in post_deploy
    packages = env_packages(REPO / "envs" / "detectron2.yaml")
    assert packages["setuptools"] == "<82" and packages["detectron2"] == ""
    assert packages["torch"] == "==2.14.1"  # test_envs checks every pin against pyproject.toml
    for name in ("fvcore", "iopath", "yacs", "omegaconf", "hydra-core", "pycocotools", "termcolor"):
        assert name in packages, name
    venv_recipe = (REPO / "envs" / "detectron2-venv.sh").read_text()
    assert "detectron2.yaml" in venv_recipe and 'bash "$here/detectron2.post-deploy.sh"' in venv_recipe


def test_test_env_has_what_the_yaml_asks_for():
    """The env `make detectron2-env` built: every pip package of envs/detectron2.yaml at a version its spec
    allows, setuptools < 82 first on the path, detectron2 from the pinned commit's version."""
    from test_envs import env_packages

    specs = {k: v for k, v in env_packages(REPO / "envs" / "detectron2.yaml").items() if k != "python"}
    code = (
        "import json, sys\nfrom importlib.metadata import version, PackageNotFoundError\nout = {}\n"
        "for name in sys.argv[1:]:\n    try: out[name] = version(name)\n    except PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    found = json.loads(run_in_detectron2_env("-c", code, *specs).stdout.strip().splitlines()[-1])
    from packaging.specifiers import SpecifierSet

    for name, spec in specs.items():
        if name in ("cxx-compiler", "ninja", "pip"):  # conda build tools
            continue
        assert name in found, f"{name} is not installed in {D2_VENV}"
        assert SpecifierSet(spec.replace("=", "==") if spec.startswith("=") and not spec.startswith("==") else spec
                            ).contains(found[name], prereleases=True), (name, spec, found[name])  # fmt: skip
    assert found["detectron2"] == "0.6"
