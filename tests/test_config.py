import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tool
from scenebias.config import ConfigError, load_config, validate_config


def smoke() -> dict:
    return yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


def test_defaults_are_filled():
    config = validate_config({})
    assert config["frames"]["short_side"] == 32
    assert config["frames"]["on_bad_video"] == "skip"
    assert config["world"]["source"]["train"] == 1200
    assert set(config["datasets"]) == {"source", "fine", "speed", "newscene"}
    assert config["world"]["targets"]["fine"]["scene"] == 8


def test_shipped_configs_are_valid():
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
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
