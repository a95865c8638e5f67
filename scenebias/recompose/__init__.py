"""Recomposed test sets: scene bias measured directly on a dataset's own test videos (docs/design.md §7).

From each chosen test video and the pipeline's own person masks (scenebias.humans.masks), the `recompose` stage
writes one frame pack per set (scenebias.recompose.build):

- original          the video itself, re-encoded like the others (the control for re-encoding)
- actor_only        every pixel outside the actor set to the dataset's mean colour (HAT's human-only videos)
- background_only   the actor filled from the temporal-median background where the camera is still, else with the
                    frame's mean colour (HAT's background-only videos, without a learned inpainter)
- action_swap       video A's masked actor over video B's background-only frames, B of another class (HAT)
- scuba             the actor over a still background from another video of another class: an actor-free frame,
                    else that video's median background (SCUBA of Li et al. 2023)
- action_swap_true  synthetic world only: action_swap with the same pairs, from the world's true actor masks

Measured per model (scenebias.recompose.measure), each with the paper's video-level protocol on the set's index:
accuracy against A's label on every set, for action_swap also the rate of predicting B's label, SCUFO (each
window of the SCUBA video reduced to its first frame, as our static-clip measure does) and the contrasted
accuracy: right on SCUBA and wrong on SCUFO (Li et al. 2023).

This module names the sets and measures (light: the workflow and the report import it).
"""

# The recomposed sets, in the order they are built and shown; TRUTH_SETS only where the world's truth exists.
SETS = ("original", "actor_only", "background_only", "action_swap", "scuba")
TRUTH_SETS = ("action_swap_true",)
SET_TITLES = {
    "original": "original (re-encoded)",
    "actor_only": "actor only",
    "background_only": "background only",
    "action_swap": "action swap",
    "scuba": "SCUBA (actor on another still background)",
    "action_swap_true": "action swap, true masks",
}

# The measures of one model (columns of measures.csv), in the report's column order, with their titles;
# ↓ = lower is less scene-biased.
MEASURES = {
    "original_acc": "original",
    "actor_only_acc": "actor only",
    "background_only_acc": "background only ↓",
    "action_swap_acc": "action swap",
    "action_swap_b_rate": "swap → B's label ↓",
    "scuba_acc": "SCUBA",
    "scufo_acc": "SCUFO ↓",
    "contrasted_acc": "contrasted",
    "action_swap_true_acc": "action swap (true masks)",
    "action_swap_true_b_rate": "swap → B (true masks) ↓",
}
# Compared with the baseline run by run (paired Δ with its 95 % interval).
HEADLINE = ("actor_only_acc", "background_only_acc", "action_swap_acc", "action_swap_b_rate", "contrasted_acc")
