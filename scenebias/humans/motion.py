"""Offline human boxes from motion: temporal-median background subtraction for a static camera.

Per video: the background is the per-pixel median over the sampled frames; a pixel is foreground where its
colour differs from the background by more than `diff_threshold` (0..1 scale, max over channels); the foreground
is cleaned by a morphological opening and dilation, split into connected components, and each component of at
least `min_area` (fraction of the frame) becomes a box, padded by `pad` pixels. The score is the component's mean
foreground strength, diff / (2 * diff_threshold) clipped to [0.5, 1], so every kept box passes the paper's 0.3.

This needs no weights and works on any static-camera footage (people walking past a fixed camera); it cannot see
a person who does not move, which the quality JSON of the synthetic world makes visible (actor-pixel recall). On a
moving camera everything moves and the box covers the whole frame: the stage drops boxes larger than `max_area`
of the frame (no detection on that frame) and counts them in quality.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from scenebias.humans.boxes import empty_boxes


@dataclass(frozen=True)
class MotionSettings:
    """The `humans.motion` config section; the defaults are the schema's (tests/test_structure.py checks)."""

    diff_threshold: float = 0.06
    min_area: float = 0.004
    open_px: int = 0
    dilate_px: int = 1
    merge_px: int = 3
    pad: int = 1
    max_area: float = 0.95  # boxes covering more of the frame are dropped by the stage (scenebias.humans.stage)


def foreground(frames: np.ndarray, settings: MotionSettings) -> tuple[np.ndarray, np.ndarray]:
    """Boolean foreground (T, H, W) and the per-pixel difference strength, from uint8 frames (T, H, W, 3)."""
    x = frames.astype(np.float32) / 255.0
    background = np.median(x, axis=0, keepdims=True)
    diff = np.abs(x - background).max(-1)
    fg = diff > settings.diff_threshold
    structure = np.ones((1, 3, 3), bool)
    if settings.open_px:
        fg = ndimage.binary_opening(fg, structure=structure, iterations=settings.open_px)
    if settings.dilate_px:
        fg = ndimage.binary_dilation(fg, structure=structure, iterations=settings.dilate_px)
    return fg, diff


def motion_boxes(frames: np.ndarray, settings: MotionSettings) -> list[np.ndarray]:
    """One (M, 5) box array per frame."""
    return motion_instances(frames, settings)[0]


def motion_instances(frames: np.ndarray, settings: MotionSettings) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per frame: the (M, 5) boxes and the (M, H, W) foreground pixels of each box's component (its person mask)."""
    t, h, w = frames.shape[:3]
    if t < 2:  # a single frame has no motion to see
        return [empty_boxes() for _ in range(t)], [np.zeros((0, h, w), bool) for _ in range(t)]
    fg, diff = foreground(frames, settings)
    strength = np.clip(diff / (2 * settings.diff_threshold), 0.5, 1.0)
    min_pixels = max(1, int(round(settings.min_area * h * w)))
    out, instances = [], []
    # Group foreground pieces closer than merge_px (the moving limbs of one person) before boxing them.
    grouped = fg
    if settings.merge_px:
        grouped = ndimage.binary_dilation(fg, structure=np.ones((1, 3, 3), bool), iterations=settings.merge_px)
    for i in range(t):
        labels, _ = ndimage.label(grouped[i])
        labels = labels * fg[i]
        boxes, masks = [], []
        for index, region in enumerate(ndimage.find_objects(labels), start=1):
            if region is None:
                continue
            component = labels[region] == index
            if component.sum() < min_pixels:
                continue
            ys, xs = np.nonzero(component)
            y0, x0 = region[0].start, region[1].start
            score = float(strength[i][region][component].mean())
            boxes.append(
                [
                    max(0, x0 + xs.min() - settings.pad),
                    max(0, y0 + ys.min() - settings.pad),
                    min(w, x0 + xs.max() + 1 + settings.pad),
                    min(h, y0 + ys.max() + 1 + settings.pad),
                    score,
                ]
            )
            masks.append(labels == index)
        out.append(np.array(boxes, np.float32).reshape(-1, 5))
        instances.append(np.array(masks, bool).reshape(-1, h, w))
    return out, instances
