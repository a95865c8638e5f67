"""The pixel operations of the recomposed sets (NumPy and OpenCV, on uint8 frames (T, H, W, 3) and bool masks
(T, H, W)): the actor's coverage, the background with the actor removed, and the composites."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def dilate(masks: np.ndarray, px: int) -> np.ndarray:
    """Masks grown by px pixels (3 x 3 steps): a detector's mask hugs the person, and its halo of person-coloured
    pixels would otherwise stay in the background (or leave the actor's edge behind)."""
    if px <= 0 or not masks.any():
        return masks
    kernel = np.ones((3, 3), np.uint8)
    return np.stack([cv2.dilate(m.astype(np.uint8), kernel, iterations=px).astype(bool) for m in masks])


def coverage(masks: np.ndarray) -> float:
    """The actor's mean share of the frame over the video."""
    return float(masks.mean()) if masks.size else 0.0


@dataclass
class Background:
    """A video with its actor removed, and how: `method` "median" (the camera is still: the actor's pixels come
    from the per-pixel median over the frames where they are free) or "mean" (each frame's actor pixels take the
    mean colour of its other pixels); `motion` the camera-motion statistic that decided it (median over frames of
    the mean absolute difference, 0-255, of the actor-free pixels from their temporal median); `unseen` the share
    of actor pixels that no frame shows free (filled with the frame mean even in "median" mode); `still` the
    median image itself (median mode) or None."""

    frames: np.ndarray
    method: str
    motion: float
    unseen: float
    still: np.ndarray | None


def sample_frames(n: int, max_frames: int) -> np.ndarray:
    """At most max_frames evenly spaced frame indices of n."""
    return np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))


def masked_median(frames: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel the median colour (H, W, 3) over the frames where it is not covered, and where no frame shows it
    free (H, W). One sort of uint16 values, the covered ones pushed past 255 to the end."""
    free = ~masks
    values = np.where(free[..., None], frames.astype(np.uint16), np.uint16(65535))
    values.sort(axis=0)
    count = free.sum(0)
    low = np.clip((count - 1) // 2, 0, None)[None, :, :, None]
    high = np.clip(count // 2, 0, len(frames) - 1)[None, :, :, None]
    median = (np.take_along_axis(values, low, 0)[0].astype(np.float32) + np.take_along_axis(values, high, 0)[0]) / 2
    never = count == 0
    median[never] = 0.0
    return median, never


def frame_means(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per frame the mean colour of its pixels outside the actor (of the whole frame where the actor fills it)."""
    out = np.empty((len(frames), 3), np.float32)
    for t, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        free = (~mask).astype(np.uint8)
        out[t] = cv2.mean(np.ascontiguousarray(frame), mask=free if free.any() else None)[:3]
    return out


def camera_motion(frames: np.ndarray, masks: np.ndarray, median: np.ndarray, never: np.ndarray) -> float:
    """The median over frames of the mean absolute difference (0-255, over channels and actor-free pixels) between
    a frame and the temporal median: near the noise level for a still camera, large when it moves."""
    if len(frames) < 2:
        return float("inf")  # one frame: no evidence of a still camera
    reference = np.round(median).astype(np.uint8)
    diffs = []
    for frame, mask in zip(frames, masks, strict=True):
        free = (~mask & ~never).astype(np.uint8)
        if free.any():
            diffs.append(float(np.mean(cv2.mean(cv2.absdiff(np.ascontiguousarray(frame), reference), mask=free)[:3])))
    return float(np.median(diffs)) if diffs else float("inf")


def remove_actor(frames: np.ndarray, masks: np.ndarray, still_threshold: float, max_frames: int) -> Background:
    """The background-only video: the actor's pixels filled from the temporal median where the camera is still,
    else with the frame's mean colour."""
    means = frame_means(frames, masks)
    pick = sample_frames(len(frames), max_frames)
    median, never = masked_median(frames[pick], masks[pick])
    motion = camera_motion(frames[pick], masks[pick], median, never)
    method = "median" if motion <= still_threshold else "mean"
    fill = np.broadcast_to(np.round(means)[:, None, None, :].astype(np.uint8), frames.shape)
    unseen, still = 1.0, None
    if method == "median":
        fill = np.where(never[None, :, :, None], fill, np.round(median).astype(np.uint8)[None])
        actor = masks.sum()
        unseen = float((masks & never[None]).sum() / actor) if actor else 0.0
        still = np.where(never[:, :, None], means.mean(0), median).round().clip(0, 255).astype(np.uint8)
    out = np.where(masks[..., None], fill, frames)
    return Background(out, method, motion, unseen, still)


def actor_only(frames: np.ndarray, masks: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Every pixel outside the actor set to `mean` (the dataset's mean colour, rounded)."""
    return np.where(masks[..., None], frames, np.round(mean).astype(np.uint8)).astype(np.uint8)


def fit(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames (T, H, W, 3) resized to (w, h) when they differ (area when shrinking, bilinear when enlarging)."""
    w, h = size
    if frames.shape[1:3] == (h, w):
        return frames
    shrink = frames.shape[1] * frames.shape[2] > h * w
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=mode) for f in frames])


def paste_actor(frames: np.ndarray, masks: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The actor (masks) of `frames` over `background`: a video (looped or cut to the actor's length, resized to
    the actor's frame size) or a single still image (H, W, 3)."""
    h, w = frames.shape[1:3]
    if background.ndim == 3:
        background = background[None]
    background = fit(background, (w, h))
    loop = background[np.arange(len(frames)) % len(background)]
    return np.where(masks[..., None], frames, loop).astype(np.uint8)


def actor_free_frame(frames: np.ndarray, masks: np.ndarray) -> np.ndarray | None:
    """The middle one of the frames where no person was found, or None."""
    free = np.flatnonzero(~masks.any((1, 2)))
    return frames[free[len(free) // 2]] if len(free) else None


def encode_jpeg(frame: np.ndarray, quality: int, chroma: int) -> bytes:
    """One RGB frame as JPEG bytes at the given quality, with 4:4:4 or 4:2:0 chroma like the frame stage's."""
    sampling = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if chroma == 444 else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG frame")
    return data.tobytes()
