"""Training: pretraining variants (baseline, scene adversarial, mask confusion, both) and fine-tuning.

One readable loop in the style of torchvision's references/video_classification; `train` (scenebias.train.recipe)
reads as its recipe: `setup_process` → `build_trainable` → `build_loaders` → `wrap_distributed` →
`build_optimisation` → `resume` → per epoch `train_one_epoch`, `clip_validation`, the scheduler, `epoch_row`,
`write_checkpoint` → `write_outputs`. The modules:

- `trainable`: the action network with its debiasing heads (one forward for DDP), built and initialised;
- `loop`: one batch (`batch_losses`, the paper's method), one epoch, one validation;
- `loaders`: the run's data and its loaders; `optim`: optimisers, schedules, the fp16 scaler;
- `distributed`: process group, device, seeds, sums over ranks; `state`: checkpoint, log.csv, outputs;
- `progress`: progress within an epoch and the per-epoch report. Saving and loading a trained model (model.pt)
  is scenebias.models's (`save_model`, `load_model`).

What the paper's method adds:
- a scene adversary behind a gradient reversal layer, trained with (soft) cross-entropy against pseudo scene
  labels; its λ is constant or ramps up as in DANN (docs/design.md §6: full strength from step one collapses training);
- a human-mask confusion loss on the human-masked clip: the paper's form maximises the entropy of the action
  classifier; the official code's form puts the entropy on a separate head behind its own reversal layer. The
  masked clip shares the clean clip's forward pass, or comes as a separate batch with its own optimiser step
  (the official code's way).

Resumable: a checkpoint with everything needed to continue (weights, optimiser, scheduler, log, RNG states) is
written after every epoch into a folder outside the job's declared outputs; a rerun with the same settings
continues from it and ends with the same metrics as an uninterrupted run (augmentation randomness is a function
of seed, epoch and index only — see scenebias.data). Several GPUs (or CPU processes) through torchrun.

At the paper's scale (docs/benchmarks.md, README "Compute"): validation runs through DataLoader workers, sharded
across DDP ranks, every `val_every` epochs, optionally on a fixed subset of clips; its loss and accuracy are
summed over ranks, so every rank steps a plateau schedule on the same number and learning rates and weights stay
identical. `batch_size` is the job's batch, split across ranks (`global_batch`), so the learning rate does not
change with the number of GPUs. Mixed precision: bf16, or fp16 with a gradient scaler. log.csv grows by one row
per epoch while the job runs; the job log gets one line per epoch with an ETA (and progress lines every minute
when stderr is not a terminal, instead of a progress bar).
"""

from scenebias.settings import TrainSettings
from scenebias.train.distributed import Dist
from scenebias.train.loaders import RunData, build_loaders, val_indices
from scenebias.train.loop import autocast_context, batch_losses
from scenebias.train.optim import make_scaler, optimizer_step
from scenebias.train.progress import tensorboard_writer
from scenebias.train.recipe import train
from scenebias.train.trainable import Trainable, build_trainable

__all__ = [
    "Dist",
    "RunData",
    "TrainSettings",
    "Trainable",
    "autocast_context",
    "batch_losses",
    "build_loaders",
    "build_trainable",
    "make_scaler",
    "optimizer_step",
    "tensorboard_writer",
    "train",
    "val_indices",
]
