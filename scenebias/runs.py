"""From the config to the list of training runs and each run's complete settings.

Shared by the workflow (which jobs exist), the training script (what each job does) and the report (what to
expect), so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scenebias.datasets import DATASET_KINDS
from scenebias.settings import TrainSettings, amp_mode
from scenebias.synth.naming import sweep_dataset_name

RUN_KEYS = ("seeds", "init_from", "splits")  # keys of a variant / target entry that are not training settings


@dataclass(frozen=True)
class FinetuneRun:
    target: str
    init: str  # a pretraining variant, or "scratch"
    split: int
    seed: int


def base_settings(config: dict) -> dict:
    """Settings shared by every run: backbone, clip, normalisation, loader and compute."""
    clip, loader, compute = config["clip"], config["loader"], config["compute"]
    return {
        "model": config["model"]["name"],
        "model_kwargs": config["model"]["kwargs"],
        "clip_frames": clip["frames"],
        "crop": clip["crop"],
        "scales": clip["scales"],
        "flip": clip["flip"],
        "mean": clip["mean"],
        "std": clip["std"],
        "workers": loader["workers"],
        "pin_memory": loader["pin_memory"],
        "persistent_workers": loader["persistent_workers"],
        "cache_frames": loader["cache_frames"],
        "device": compute["device"],
        "amp": amp_mode(compute["amp"]),
        "channels_last": compute["channels_last"],
        "cudnn_benchmark": compute["cudnn_benchmark"],
        "global_batch": compute["global_batch"],
        "tensorboard": compute["tensorboard"],
        "threads": compute["threads"],
        "mask_threshold": config["humans"]["score_threshold"],
        "valid_ratio": config["humans"]["valid_ratio"],
    }


def _settings(config: dict, *layers: dict, seed: int) -> dict:
    merged = base_settings(config)
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k not in RUN_KEYS})
    merged["seed"] = seed
    return asdict(TrainSettings.from_dict(merged))


def pretrain_runs(config: dict) -> list[tuple[str, int]]:
    return [(name, seed) for name, v in config["pretrain"]["variants"].items() for seed in v["seeds"]]


def pretrain_settings(config: dict, variant: str, seed: int) -> dict:
    pre = config["pretrain"]
    return _settings(config, pre["defaults"], pre["variants"][variant], seed=seed)


def init_seeds(config: dict, init: str) -> list[int]:
    if init == "scratch":
        return list(config["finetune"]["scratch_seeds"])
    return list(config["pretrain"]["variants"][init]["seeds"])


def finetune_inits(config: dict) -> list[str]:
    inits = list(config["pretrain"]["variants"])
    if config["finetune"]["scratch_seeds"]:
        inits.append("scratch")
    return inits


def finetune_runs(config: dict) -> list[FinetuneRun]:
    runs = []
    for target, spec in config["finetune"]["targets"].items():
        for init in finetune_inits(config):
            for split in spec["splits"]:
                for seed in init_seeds(config, init):
                    runs.append(FinetuneRun(target, init, split, seed))
    return runs


def finetune_settings(config: dict, target: str, seed: int) -> dict:
    fine = config["finetune"]
    return _settings(config, fine["defaults"], fine["targets"][target], seed=seed)


# ---------------------------------------------------------------------------------------------------------
# The p_bias sweep: each point is a re-rendered source set named source_pbNNN (NNN = 100 x p_bias)


def sweep_datasets(config: dict) -> dict[str, float]:
    """Sweep dataset name -> p_bias; empty unless the source is rendered from the world settings."""
    source = config["pretrain"]["dataset"]
    if not DATASET_KINDS[config["datasets"][source]["kind"]].rendered:
        return {}
    return {sweep_dataset_name(p): p for p in config["sweep"]["p_bias"]}


def sweep_variants(config: dict) -> list[str]:
    return list(config["sweep"]["variants"] or config["pretrain"]["variants"])


def sweep_pretrain_runs(config: dict) -> list[tuple[str, str, int]]:
    """(dataset, variant, seed) of every sweep model, with the variants they are staged from (init_from)."""
    variants = config["pretrain"]["variants"]
    needed: list[str] = []
    for name in sweep_variants(config):
        chain = [name]
        while variants[chain[-1]].get("init_from"):
            chain.append(variants[chain[-1]]["init_from"])
        needed += [v for v in reversed(chain) if v not in needed]
    return [(ds, v, seed) for ds in sweep_datasets(config) for v in needed for seed in config["sweep"]["seeds"]]
