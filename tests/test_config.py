import copy
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, tool
from scenebias.config import ConfigError, check_on_disk, load_config, read_yaml, validate_config


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


def test_an_overlay_given_alone_is_refused_with_how_to_give_it(tmp_path, venv_env):
    """Each shipped overlay, given on its own as a user might (`snakemake -n --configfile configs/mimetics.yaml`):
    one error naming the missing source dataset and how overlays are given, before any job."""
    for name in OVERLAYS:
        proc = run_snakemake(tmp_path, venv_env, "-n", "--configfile", str(REPO / "configs" / name))
        assert proc.returncode != 0
        message = proc.stderr + proc.stdout
        assert "config key 'pretrain.dataset': 'source' is not in datasets" in message, message[-2000:]
        assert "goes after the config it extends: --configfile configs/paper.yaml configs/mimetics.yaml" in message


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
    (tmp_path / "ucf" / "UCF-101").mkdir(parents=True, exist_ok=True)
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
    (tmp_path / "mine" / "videos").mkdir(parents=True)
    (tmp_path / "mine" / "list.csv").write_text("path,label,split1,split2\njump/a.mp4,jump,train,test\n")
    config = smoke()
    config["datasets"]["mine"] = {"kind": "videos", "root": str(tmp_path / "mine"), "options": {"list": "list.csv"}}
    config["finetune"] = {"targets": {"mine": {"splits": [1, 2]}}}
    check_on_disk(validate_config(copy.deepcopy(config)))
    config["finetune"]["targets"]["mine"]["splits"] = [3]
    with pytest.raises(ConfigError, match=r"'finetune.targets.mine.splits': dataset 'mine' has no split 3 .*\[1, 2\]"):
        check_on_disk(validate_config(config))


def test_a_missing_video_folder_names_its_option_before_any_job(tmp_path):
    """HMDB51 unpacked without its `videos/` folder (or under another name): the check names
    datasets.<name>.options.video_dir and its default, before the first job; setting the option fixes it."""
    root = tmp_path / "hmdb"
    (root / "testTrainMulti_7030_splits").mkdir(parents=True)
    (root / "hmdb51_org").mkdir()
    config = smoke()
    config["datasets"]["hmdb"] = {"kind": "hmdb51", "root": str(root), "options": {"splits": [1]}}
    config["finetune"] = {"targets": {"hmdb": {"splits": [1]}}}
    with pytest.raises(
        ConfigError, match=r"config key 'datasets.hmdb.options.video_dir': the video folder .*hmdb/videos does not "
        r"exist \(root \+ options.video_dir, default 'videos'\)"
    ):  # fmt: skip
        check_on_disk(validate_config(copy.deepcopy(config)))
    config["datasets"]["hmdb"]["options"]["video_dir"] = "hmdb51_org"
    check_on_disk(validate_config(config))


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("frames:\n  short_side: 32\n   jpeg_qscale: 2\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:3:\d+: not valid YAML"):
        load_config(path)


def test_a_key_given_twice_is_refused_with_file_line_and_key(tmp_path):
    """YAML keeps the last of two equal keys without a word; a config file that has one is refused, naming the file,
    both lines and the key, in the top level and in a nested section."""
    path = tmp_path / "twice.yaml"
    path.write_text("frames:\n  short_side: 32\nworld:\n  seed: 0\nframes:\n  jpeg_qscale: 3\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:5: key 'frames' is given twice .*first on line 1"):
        load_config(path)
    path.write_text("frames:\n  short_side: 32\n  jpeg_qscale: 2\n  short_side: 48\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:4: key 'short_side' is given twice .*line 2"):
        load_config(path)
    path.write_text("datasets:\n  a: {kind: synthetic}\n  b: {kind: synthetic}\n")  # equal values, other keys: fine
    assert set(read_yaml(path)["datasets"]) == {"a", "b"}


def test_the_reserved_name_scratch_gets_a_plain_message():
    config = smoke()
    config["pretrain"]["variants"]["scratch"] = {"seeds": [0]}
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    message = str(err.value)
    assert message.startswith("config key 'pretrain.variants': 'scratch' is a reserved name: it names the fine-tuning")
    assert "should not be valid" not in message and "const" not in message and "choose another name" in message


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


def test_snakemake_refuses_a_key_given_twice_in_a_configfile(tmp_path, venv_env):
    config = real_dataset_config(tmp_path, splits=[1])
    assert config["results"] == "results"
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump(config) + "results: elsewhere\n")  # `results` again
    proc = run_snakemake(tmp_path, venv_env, "-n", "--configfile", str(tmp_path / "twice.yaml"))
    output = proc.stderr + proc.stdout
    assert proc.returncode != 0
    assert "invalid config:" in output and "twice.yaml:" in output and "key 'results' is given twice" in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "elsewhere").exists()


def test_snakemake_names_line_of_a_yaml_error_in_config_yaml(tmp_path, venv_env):
    (tmp_path / "config.yaml").write_text("frames:\n  short_side: 32\n   jpeg_qscale: 2\n")
    proc = run_snakemake(tmp_path, venv_env, "-n")
    assert proc.returncode != 0
    assert "config.yaml:3:" in proc.stderr + proc.stdout and "not valid YAML" in proc.stderr + proc.stdout


# ---------------------------------------------------------------------------------------------------------
# `python -m scenebias.config`: the config and overlays merged as --configfile merges them, errors without tracebacks


def config_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "scenebias.config", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)  # fmt: skip


def paper_tree(base: Path, diving48_versions=("V2",)) -> None:
    """Dataset folders where configs/paper.yaml's roots point, each with the video folders the kinds look for
    (empty but Diving48's lists)."""
    for name in ("kinetics", "ucf101", "hmdb51", "diving48"):
        for video_dir in ("UCF-101", "videos", "rgb"):  # any root may stand for any kind in these tests
            (base / "data" / name / video_dir).mkdir(parents=True, exist_ok=True)
    for version in diving48_versions:
        prefix = "Diving48_V2_" if version == "V2" else "Diving48_"
        for part in ("train", "test"):
            (base / "data" / "diving48" / f"{prefix}{part}.json").write_text("[]")
    (base / "data" / "diving48" / "Diving48_vocab.json").write_text("[]")


def test_config_cli_merges_overlays_like_configfile(tmp_path):
    paper_tree(tmp_path, ("V1", "V2"))
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("frames: {short_side: 160}\ndatasets: {ucf101: {root: data/hmdb51}}\n")
    proc = config_cli(str(REPO / "configs" / "paper.yaml"), str(overlay), "--config", "results=elsewhere",
                      "--directory", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    merged = yaml.safe_load(proc.stdout)
    assert merged["frames"]["short_side"] == 160 and merged["frames"]["jpeg_qscale"] == 2  # deep: siblings kept
    assert merged["datasets"]["ucf101"] == {"kind": "ucf101", "root": "data/hmdb51", "options": {}}
    assert merged["datasets"]["diving48"]["options"] == {"version": "V1"} and merged["results"] == "elsewhere"
    assert merged["scene"]["kmeans"]["k"] == 8  # a default filled in
    assert "usage: python -m scenebias.config" in config_cli("--help").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["nowhere.yaml"], "nowhere.yaml: no such config file"),
        (["configs/smoke.yaml", "--config", "frames={shortside: 3}"], "unknown key(s) 'shortside'"),
        (["configs/smoke.yaml", "--config", "frames={short_side: 3}"], "'frames.short_side': '3' is not of type"),
        (["configs/smoke.yaml", "--config", "notakeyvalue"], "expected KEY=VALUE"),
        (["configs/smoke.yaml", "--config", "humans={backend: released}"], "'humans.released.detections'"),
    ],
)
def test_config_cli_reports_a_mistake_without_a_traceback(args, message):
    proc = config_cli(*args)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_paper_config_over_diving48_v2_files_fails_at_planning(tmp_path, venv_env):
    """configs/paper.yaml reads Diving48 V1: over a folder with only the V2 lists, both the config check and
    Snakemake's planning stop before any job, naming the option and the file (and the version that is there)."""
    paper_tree(tmp_path, ("V2",))
    paper = str(REPO / "configs" / "paper.yaml")
    proc = config_cli(paper, "--directory", str(tmp_path))
    run = run_snakemake(tmp_path, venv_env, "-n", "--configfile", paper)
    for text in (proc.stderr, run.stdout + run.stderr):
        assert "'datasets.diving48.options.version'" in text and "Diving48_train.json does not exist" in text, text
        assert "set options.version: V2" in text and "Traceback" not in text
    assert run.returncode != 0 and not (tmp_path / "results-paper").exists()


@pytest.mark.parametrize(
    "edit, key, message",
    [
        (lambda c: c["humans"].update(backend="released", released={"detections": "x", "missing": "skip"}),
         "humans.released.missing", "leave every video of ['source', 'fine', 'ucf101']"),
        (lambda c: c["humans"].update(backend="released", released={"detections": "x", "missing": "released"}),
         "humans.released.missing", "is the chosen humans.backend itself"),
        (lambda c: c["scene"].update(backend="released", released={"labels": "x", "missing": "kmeans"}),
         "scene.released.missing", "cannot be merged or compared"),
        (lambda c: c["scene"].update(agreement="kmeans"), "scene.agreement", "is the chosen scene.backend itself"),
        (lambda c: c["humans"].update(agreement="nothing"), "humans.agreement", "not a humans backend"),
        (lambda c: c["humans"].update(backend="released"), "humans.released.detections", "name their folder"),
    ],
)  # fmt: skip
def test_released_and_agreement_settings_are_checked(tmp_path, edit, key, message):
    config = real_dataset_config(tmp_path, splits=[1])
    edit(config)
    with pytest.raises(ConfigError, match=rf"'{re.escape(key)}'.*{re.escape(message)}"):
        validate_config(config)


def test_released_files_are_looked_for_on_disk(tmp_path):
    config = smoke()
    config["humans"] = {"backend": "released", "released": {"detections": str(tmp_path / "dets"), "missing": "motion"}}
    (tmp_path / "dets").mkdir()
    config = validate_config(config)
    with pytest.raises(ConfigError, match=r"'humans.released.detections': the folder .*dets holds no file matching"):
        check_on_disk(config)
    (tmp_path / "dets" / "detection_train_merged_rearranged.npy").write_bytes(b"")
    check_on_disk(config)
