"""Pixel rendering of the synthetic world: procedural scenes and an articulated stick figure.

Everything here is pure NumPy and deterministic given a `numpy.random.Generator`. Images are float32 RGB in
[0, 1], shape (H, W, 3); clips are (T, H, W, 3). Coordinates are in pixels of the rendered size, y pointing down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Texture families of the procedural backgrounds; scene i uses TEXTURES[i % 4] with its own parameters.
TEXTURES = ("stripes", "checker", "blobs", "gradient")


@dataclass(frozen=True)
class Scene:
    """A procedural background: a two-colour palette blended by a texture drawn on an oversized canvas."""

    index: int
    canvas: np.ndarray  # (S + 2*margin, S + 2*margin, 3) float32
    margin: int

    def view(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """A randomly shifted crop of the canvas with a random brightness, as one video's background."""
        dy, dx = rng.integers(0, 2 * self.margin + 1, size=2)
        brightness = rng.uniform(0.8, 1.2)
        crop = self.canvas[dy : dy + size, dx : dx + size]
        return np.clip(crop * brightness, 0.0, 1.0).astype(np.float32)


def _palette(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two clearly different colours: random hue, the second shifted around the colour wheel."""
    hue = rng.uniform(0, 1)
    shift = rng.uniform(0.25, 0.5)
    sat = rng.uniform(0.45, 0.9, size=2)
    val = rng.uniform(0.35, 0.95, size=2)
    return _hsv_to_rgb(hue, sat[0], val[0]), _hsv_to_rgb((hue + shift) % 1.0, sat[1], val[1])


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.asarray(rgb, dtype=np.float32)


def _texture(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """A blend weight map in [0, 1] of shape (n, n)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(6, 16)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        return (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    if kind == "checker":
        cell = int(rng.integers(5, 12))
        return (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    if kind == "blobs":
        w = np.zeros((n, n), np.float32)
        for _ in range(int(rng.integers(6, 12))):
            cy, cx = rng.uniform(0, n, size=2)
            sigma = rng.uniform(3, 8)
            w += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        return np.clip(w, 0, 1)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        return (u - u.min()) / (u.max() - u.min())
    raise ValueError(f"unknown texture {kind!r}; expected one of {TEXTURES}")


def make_scenes(seed: int, n_scenes: int, size: int, margin: int) -> list[Scene]:
    """The world's fixed set of backgrounds; scene i is the same for a given seed whatever else changes."""
    scenes = []
    for index in range(n_scenes):
        rng = np.random.default_rng([seed, 1000 + index])
        n = size + 2 * margin
        weight = _texture(TEXTURES[index % len(TEXTURES)], rng, n)[..., None]
        a, b = _palette(rng)
        canvas = (1 - weight) * a + weight * b
        scenes.append(Scene(index=index, canvas=canvas.astype(np.float32), margin=margin))
    return scenes


# ---------------------------------------------------------------------------------------------------------
# Stick figure


@dataclass(frozen=True)
class Pose:
    """Joint angles (radians; 0 = pointing straight down, positive = towards +x) and the hip position."""

    hip_x: float
    hip_y: float
    left_arm: float
    right_arm: float
    left_thigh: float
    right_thigh: float
    left_knee: float  # bend of the shin relative to the thigh
    right_knee: float


# Limb lengths in pixels at 64 px and scale 1; the figure is ~38 px tall at scale 1 (~50 px at the mean scale 1.3).
# Shorter limbs (9 / 3 / 8 / 6.5 / 6.5) left too little of the actor after the resize to 32 px (docs/design.md §6).
TORSO, HEAD_R, ARM, THIGH, SHIN = 11.0, 3.6, 9.0, 8.0, 8.0


def figure_segments(pose: Pose, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (N, 2, 2) as ((x0, y0), (x1, y1)) and the head circle (cx, cy, r)."""

    def tip(origin, angle, length):
        return origin + scale * length * np.array([np.sin(angle), np.cos(angle)], np.float32)

    hip = np.array([pose.hip_x, pose.hip_y], np.float32)
    neck = hip - np.array([0, scale * TORSO], np.float32)
    shoulder = neck + np.array([0, scale * 1.5], np.float32)
    segs = [(hip, neck)]
    for arm in (pose.left_arm, pose.right_arm):
        segs.append((shoulder, tip(shoulder, arm, ARM)))
    for thigh, knee in ((pose.left_thigh, pose.left_knee), (pose.right_thigh, pose.right_knee)):
        k = tip(hip, thigh, THIGH)
        segs.append((hip, k))
        segs.append((k, tip(k, thigh - knee, SHIN)))
    head = np.array([neck[0], neck[1] - scale * HEAD_R, scale * HEAD_R], np.float32)
    return np.asarray(segs, np.float32), head


def figure_coverage(segments: np.ndarray, heads: np.ndarray, size: int, thickness: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of the figure in each frame, (T, size, size); pixel centres at +0.5.

    `segments` is (T, N, 2, 2) and `heads` (T, 3). Distances are computed only inside the box that holds the
    figure in every frame, which is what keeps rendering the default world to seconds.
    """
    pad = thickness + 2
    lo = np.floor(np.minimum(segments.reshape(-1, 2).min(0), (heads[:, :2] - heads[:, 2:]).min(0)) - pad)
    hi = np.ceil(np.maximum(segments.reshape(-1, 2).max(0), (heads[:, :2] + heads[:, 2:]).max(0)) + pad)
    x0, y0 = np.clip(lo, 0, size).astype(int)
    x1, y1 = np.clip(hi, 0, size).astype(int)
    cover = np.zeros((len(segments), size, size), np.float32)
    if x1 <= x0 or y1 <= y0:
        return cover
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5)[None, None, None, :]
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5)[None, None, :, None]
    ax, ay = segments[:, :, 0, 0, None, None], segments[:, :, 0, 1, None, None]
    bx, by = segments[:, :, 1, 0, None, None], segments[:, :, 1, 1, None, None]
    abx, aby = bx - ax, by - ay
    t = np.clip(((xs - ax) * abx + (ys - ay) * aby) / np.maximum(abx * abx + aby * aby, 1e-6), 0, 1)
    d2 = ((xs - ax - t * abx) ** 2 + (ys - ay - t * aby) ** 2).min(1)
    hx, hy, hr = (heads[:, i, None, None] for i in range(3))
    head_dist = np.sqrt((xs[:, 0] - hx) ** 2 + (ys[:, 0] - hy) ** 2) - hr
    dist = np.minimum(np.sqrt(d2) - thickness / 2, head_dist)
    cover[:, y0:y1, x0:x1] = np.clip(0.5 - dist, 0.0, 1.0)
    return cover


def actor_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight box (x1, y1, x2, y2), x2/y2 exclusive, of a boolean mask; (0, 0, 0, 0) when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def fill_box_with_mean(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The paper's masking rule on one frame: the box is filled with that frame's mean colour."""
    out = frame.copy()
    x1, y1, x2, y2 = box
    out[y1:y2, x1:x2] = frame.reshape(-1, frame.shape[-1]).mean(0)
    return out
