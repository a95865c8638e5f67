"""Direct measures of scene bias (docs/design.md §7), beyond the paper's transfer table.

For a pretrained model: scene leakage (a freshly trained linear probe on frozen pooled features predicting the
pseudo scene label — an adversary beaten during training says nothing about what a new probe can find),
human-masked and static-clip accuracy, and on the synthetic world the bias-conflicting accuracy, worst-group
accuracy, the rate at which bias-conflicting predictions equal the shown scene's home action, and the mean
home-action probability on actor-masked and actor-free clips. Per dataset: B_scene = ln(acc / chance) of a
linear probe on scene features (Choi et al.), and B_scene / ln(#classes).

Caveat: the mask-confusion loss trains on human-masked clips, so human-masked accuracy is in-distribution for
the mask variants; bias-conflicting, static-clip and leakage are the independent evidence.

This module names the measures (light: the report imports it); scenebias.bias.measures computes them and
scenebias.bias.protocol applies them to one model.
"""

# The measures of one pretrained model (keys of bias/<variant>/seed<s>.json), in the report's column order, with
# their column titles; ↓ = lower is less scene-biased.
MEASURES = {
    "in_dist_acc": "in-dist. acc",
    "conflict_acc": "bias-conflicting acc",
    "worst_group_acc": "worst-group acc",
    "conflict_home_rate": "conflict → home-action rate ↓",
    "actor_masked_home_prob": "home-action prob., actor masked ↓",
    "no_actor_home_prob": "home-action prob., no actor ↓",
    "human_masked_acc": "human-masked acc*",
    "static_clip_acc": "static-clip acc",
    "scene_leakage_acc": "scene leakage (fresh probe) ↓",
}
# The measures compared with the baseline seed by seed (those that do not train on masks).
HEADLINE = ("conflict_acc", "conflict_home_rate", "actor_masked_home_prob", "static_clip_acc")
# The synthetic world's extra test sets (split roles) that the ground-truth measures read.
SYNTHETIC_SETS = ("test_conflict", "test_masked", "test_noactor")
