"""Actions of the synthetic world, defined by motion so that a single frame is ambiguous.

An action is a combination of a leg program (stand, walk, squat down, stand up), an arm program (idle, swing,
raise, lower, windmill clockwise / counter-clockwise) and a horizontal direction. The four source pairs are
time reversals of each other (walk left/right, circle cw/ccw, squat down/stand up, raise/lower arms), so one
frame cannot tell the two members of a pair apart: only the motion can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenebias.synth.render import SHIN, THIGH, Pose


@dataclass(frozen=True)
class Action:
    name: str
    legs: str = "stand"  # stand | walk | squat_down | stand_up
    arms: str = "idle"  # idle | swing | raise | lower | circle_cw | circle_ccw
    direction: int = 0  # -1 left, +1 right, 0 in place


SOURCE_ACTIONS = (
    Action("walk_left", legs="walk", arms="swing", direction=-1),
    Action("walk_right", legs="walk", arms="swing", direction=1),
    Action("circle_cw", arms="circle_cw"),
    Action("circle_ccw", arms="circle_ccw"),
    Action("squat_down", legs="squat_down"),
    Action("stand_up", legs="stand_up"),
    Action("raise_arms", arms="raise"),
    Action("lower_arms", arms="lower"),
)

# Diving48-like target: the same two walking directions crossed with three arm programs.
FINE_ACTIONS = tuple(
    Action(f"walk_{side}_{arm}", legs="walk", arms=arm_program, direction=sign)
    for side, sign in (("left", -1), ("right", 1))
    for arm, arm_program in (("raise", "raise"), ("lower", "lower"), ("circle", "circle_cw"))
)

ACTIONS_BY_NAME = {a.name: a for a in SOURCE_ACTIONS + FINE_ACTIONS}

SQUAT_MAX = np.deg2rad(70.0)  # knee angle at the bottom of a squat (docs/design.md §6)
WALK_SPEED = 4.1  # hip translation in px/frame at 64 px and speed 1 (world.walk_speed)
CIRCLE_TURNS = 0.9  # windmill turns per clip at speed 1 (world.circle_turns)
WALK_SWING = 0.45  # thigh swing amplitude (rad)


def _progress(k: np.ndarray, n_frames: int, speed: float, start: float) -> np.ndarray:
    """Monotonic progress in [0, 1] for one-way actions (squat, raise): faster actors cover more of it."""
    return np.clip(start + 0.8 * speed * k / max(n_frames - 1, 1), 0.0, 1.0)


def poses(
    action: Action,
    n_frames: int,
    size: int,
    speed: float,
    phase: float,
    start: float,
    hip_x: float,
    hip_y: float,
    scale: float,
    walk_speed: float = WALK_SPEED,
    circle_turns: float = CIRCLE_TURNS,
) -> list[Pose]:
    """The figure's pose in each frame. `phase` in [0, 1) offsets cyclic motions; `start` offsets one-way ones.
    `walk_speed` is the hip's travel in px per frame at 64 px, `circle_turns` the windmill's turns per clip."""
    k = np.arange(n_frames, dtype=np.float64)
    px = size / 64.0
    cycle = 2 * np.pi * (phase + speed * k / n_frames)  # one gait / windmill cycle per clip at speed 1

    # Legs: thigh angles and knee bends per frame, and the hip's vertical offset.
    left_thigh, right_thigh = np.full(n_frames, 0.12), np.full(n_frames, -0.12)
    left_knee = right_knee = np.zeros(n_frames)
    drop = np.zeros(n_frames)
    if action.legs == "walk":
        swing = WALK_SWING * np.sin(cycle)
        left_thigh, right_thigh = swing, -swing
        left_knee, right_knee = 0.5 * np.maximum(0, np.sin(cycle)), 0.5 * np.maximum(0, -np.sin(cycle))
    elif action.legs in ("squat_down", "stand_up"):
        p = _progress(k, n_frames, speed, start)
        bend = SQUAT_MAX * (p if action.legs == "squat_down" else 1 - p)
        # Thigh forward by `bend`, shin back by `bend`: the foot stays under the hip while the hip sinks.
        left_thigh, right_thigh = bend + 0.08, bend - 0.08
        left_knee = right_knee = 2 * bend
        drop = (THIGH + SHIN) * scale * px * (1 - np.cos(bend))
    elif action.legs != "stand":
        raise ValueError(f"unknown leg program {action.legs!r}")

    # Arms: angle of each arm (0 = hanging down).
    if action.arms == "idle":
        left_arm, right_arm = np.full(n_frames, -0.3), np.full(n_frames, 0.3)
    elif action.arms == "swing":
        left_arm, right_arm = -0.5 * np.sin(cycle), 0.5 * np.sin(cycle)
    elif action.arms in ("raise", "lower"):
        p = _progress(k, n_frames, speed, start)
        lift = 0.2 + (np.pi - 0.4) * (p if action.arms == "raise" else 1 - p)
        left_arm, right_arm = -lift, lift
    elif action.arms in ("circle_cw", "circle_ccw"):
        # Angles grow from "down" towards +x; on screen (y down) that turns counter-clockwise.
        turn = (1.0 if action.arms == "circle_ccw" else -1.0) * circle_turns * cycle
        left_arm, right_arm = turn, turn + np.pi
    else:
        raise ValueError(f"unknown arm program {action.arms!r}")

    travel = action.direction * walk_speed * px * speed
    x0 = hip_x - travel * (n_frames - 1) / 2  # centre the walk on the sampled hip position
    return [
        Pose(
            hip_x=float(x0 + travel * i),
            hip_y=float(hip_y + drop[i]),
            left_arm=float(left_arm[i]),
            right_arm=float(right_arm[i]),
            left_thigh=float(left_thigh[i]),
            right_thigh=float(right_thigh[i]),
            left_knee=float(left_knee[i]),
            right_knee=float(right_knee[i]),
        )
        for i in range(n_frames)
    ]
