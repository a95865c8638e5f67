import copy
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tool
from scenebias.config import ConfigError, check_on_disk, load_config, validate_config


def smoke() -> dict:
    return yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


def test_defaults_are_filled():
    config = validate_config({})
    assert config["frames"]["short_side"] == 32
    assert config["frames"]["on_bad_video"] == "skip"
    assert config["world"]["source"]["train"] == 1200
    assert set(config["datasets"]) == {"source", "fine", "speed", "newscene"}
    assert config["world"]["targets"]["fine"]["scene"] == 8


# Shipped overlays: given after the config they extend (README), not on their own.
OVERLAYS = {"mimetics.yaml": "paper.yaml"}


def merged(base: dict, overlay: dict) -> dict:
    """Snakemake's merge of several --configfile files: nested mappings updated key by key, the later winning."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_shipped_configs_are_valid():
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        if path.name in OVERLAYS:
            base = yaml.safe_load((REPO / "configs" / OVERLAYS[path.name]).read_text())
            validate_config(merged(base, yaml.safe_load(path.read_text())))
        else:
            load_config(path)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["frames"].update(shortside=32), "frames"),
        (lambda c: c["frames"].update(short_side="big"), "frames.short_side"),
        (lambda c: c["frames"].update(short_side=2), "frames.short_side"),
        (lambda c: c["frames"].update(on_bad_video="ignore"), "frames.on_bad_video"),
        (lambda c: c["world"].update(p_bias=1.5), "world.p_bias"),
        (lambda c: c["world"]["targets"]["fine"].update(scene=12), "world.targets.fine.scene"),
        (lambda c: c["world"].update(speed=[1.3, 0.7]), "world.speed"),
        (lambda c: c["datasets"].update(ucf={"kind": "synthetic"}), "datasets.ucf"),
        (lambda c: c.update(colour="red"), "<top level>"),
        (lambda c: c["scene"].update(places365={"categories": "download:cats.txt"}), "scene.places365.categories"),
        (lambda c: c.update(downloads={"x.txt": {"url": "http://h/x.txt", "sha256": "abc"}}), "downloads.x.txt.sha256"),
        (lambda c: c.update(sweep={"variants": ["nope"]}), "sweep.variants"),
        (lambda c: c.update(sweep={"p_bias": [0.5, 0.501]}), "sweep.p_bias"),
        (lambda c: c.update(sweep={"p_bias": [1.2]}), "sweep.p_bias.0"),
        (lambda c: c.update(sheets={"videos": 0}), "sheets.videos"),
        (lambda c: c.update(sheets={"rows": 4}), "sheets"),
        (lambda c: c.update(recompose={"coverage": [0.5, 0.05]}), "recompose.coverage"),
        (lambda c: c.update(recompose={"max_videos": -1}), "recompose.max_videos"),
        (lambda c: c.update(evaluate={"datasets": ["mimetics"]}), "evaluate.datasets"),  # not a dataset of the run
        (lambda c: c.update(evaluate={"datasets": ["fine"]}), "evaluate.datasets"),  # a target, not test-only
    ],
)
def test_bad_config_names_the_key(edit, key):
    config = copy.deepcopy(smoke())
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert f"'{key}'" in str(err.value)


def test_unknown_key_message_lists_allowed_keys():
    config = smoke()
    config["frames"]["shortside"] = 32
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'shortside'.*allowed: .*short_side"):
        validate_config(config)


def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path: Path, venv_env):
    config = smoke()
    config["frames"]["jpeg_qscale"] = 99
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--configfile", str(path), "--directory",
         str(tmp_path), "--cores", "1"],
        capture_output=True, text=True, env=venv_env,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "frames.jpeg_qscale" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def real_dataset_config(tmp_path: Path, **target) -> dict:
    """The smoke config with a UCF101 dataset (a root that exists) fine-tuned with the given target settings."""
    (tmp_path / "ucf").mkdir(exist_ok=True)
    config = smoke()
    config["datasets"]["ucf101"] = {"kind": "ucf101", "root": str(tmp_path / "ucf"), "options": {"splits": [1]}}
    config["finetune"] = {"targets": {"ucf101": target}}
    return config


@pytest.mark.parametrize(
    "edit, key, message",
    [
        (lambda c: c["finetune"]["targets"]["ucf101"].update(splits=[4]), "finetune.targets.ucf101.splits", "split 4"),
        (lambda c: c["finetune"]["targets"]["ucf101"].update(splits=[2]), "finetune.targets.ucf101.splits", "split 2"),
        (lambda c: c.update(finetune={"targets": {"fine": {"splits": [2]}}}), "finetune.targets.fine.splits", ""),
        (lambda c: c["pretrain"].update(split=3), "pretrain.split", "split 3"),
        (lambda c: c["datasets"]["ucf101"]["options"].update(splits=[5]), "datasets.ucf101.options", "subset"),
        (lambda c: c["datasets"]["ucf101"]["options"].update(videodir="x"), "datasets.ucf101.options", "videodir"),
        (
            lambda c: c["datasets"].update(own={"kind": "videos", "root": "x", "options": {"list": 5}}),
            "datasets.own.options",
            "option list must be",
        ),
        (
            lambda c: c["datasets"].update(own={"kind": "videos", "root": "x", "options": {"test_fraction": 1}}),
            "datasets.own.options",
            "test_fraction",
        ),
    ],
)
def test_splits_and_options_a_dataset_lacks_name_the_key(tmp_path, edit, key, message):
    config = real_dataset_config(tmp_path, splits=[1])
    validate_config(copy.deepcopy(config))  # the unedited config is fine
    edit(config)
    with pytest.raises(ConfigError, match=rf"'{re.escape(key)}'.*{message}"):
        validate_config(config)


def test_missing_root_and_list_split_are_found_on_disk(tmp_path):
    config = validate_config(real_dataset_config(tmp_path, splits=[1]))
    check_on_disk(config)
    config["datasets"]["ucf101"]["root"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"'datasets.ucf101.root': .*nowhere is not a folder"):
        check_on_disk(config)
    # a videos dataset: the splits come from its list's header
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "list.csv").write_text("path,label,split1,split2\njump/a.mp4,jump,train,test\n")
    config = smoke()
    config["datasets"]["mine"] = {"kind": "videos", "root": str(tmp_path / "mine"), "options": {"list": "list.csv"}}
    config["finetune"] = {"targets": {"mine": {"splits": [1, 2]}}}
    check_on_disk(validate_config(copy.deepcopy(config)))
    config["finetune"]["targets"]["mine"]["splits"] = [3]
    with pytest.raises(ConfigError, match=r"'finetune.targets.mine.splits': dataset 'mine' has no split 3 .*\[1, 2\]"):
        check_on_disk(validate_config(config))


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("frames:\n  short_side: 32\n   jpeg_qscale: 2\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:3:\d+: not valid YAML"):
        load_config(path)


def run_snakemake(workdir: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "1", *args],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c, tmp: c["finetune"]["targets"]["ucf101"].update(splits=[4]), "finetune.targets.ucf101.splits"),
        (lambda c, tmp: c["datasets"]["ucf101"].update(root=str(tmp / "gone")), "datasets.ucf101.root"),
    ],
)
def test_snakemake_refuses_a_missing_split_or_root_before_any_job(tmp_path, venv_env, edit, key):
    config = real_dataset_config(tmp_path, splits=[1])
    edit(config, tmp_path)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(tmp_path, venv_env, "--configfile", str(tmp_path / "bad.yaml"))
    assert proc.returncode != 0
    assert f"invalid config: config key '{key}'" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_snakemake_names_line_of_a_yaml_error_in_config_yaml(tmp_path, venv_env):
    (tmp_path / "config.yaml").write_text("frames:\n  short_side: 32\n   jpeg_qscale: 2\n")
    proc = run_snakemake(tmp_path, venv_env, "-n")
    assert proc.returncode != 0
    assert "config.yaml:3:" in proc.stderr + proc.stdout and "not valid YAML" in proc.stderr + proc.stdout
