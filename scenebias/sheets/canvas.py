"""Drawing contact sheets with OpenCV: a grid of tiles under lines of text, frames fitted into tiles, boxes drawn
with their scores. Colours are RGB (the frames' order); a sheet is converted to OpenCV's BGR only when encoded."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND = (28, 28, 28)
EMPTY_TILE = (64, 64, 64)  # a tile with no frame (a short video, a small cluster) or a letterbox margin
TEXT = (235, 235, 235)
KEPT_BOX = (0, 230, 0)  # score >= threshold: filled in the masked copy
WEAK_BOX = (255, 150, 0)  # below the threshold: left alone
VALID = (90, 220, 90)
INVALID = (255, 90, 90)

FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_SCALE = 0.45
SCORE_SCALE = 0.35
LINE = 17  # height of a header line and of a row's strip (px)
MARGIN = 8
GAP = 4  # between tiles
GROUP_GAP = 14  # between a frame's pair of tiles and the next pair
BOX_THICKNESS = 2  # coloured rings drawn inward from the box's outermost pixels, then one dark ring (contrast)
BOX_INNER = (0, 0, 0)


@dataclass(frozen=True)
class Grid:
    """Where the tiles of a sheet go: `rows` x `cols` tiles of `tile` (h, w) below `header_lines` of text, each row
    under a strip of text; columns come in groups of `group` with a wider gap between groups."""

    rows: int
    cols: int
    tile: tuple[int, int]
    header_lines: int
    group: int = 1
    text_width: int = 0  # the widest line of text (header or strip), which may be wider than the tiles

    @property
    def header(self) -> int:
        return MARGIN + self.header_lines * LINE

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of a tile."""
        th, tw = self.tile
        x = MARGIN + col * (tw + GAP) + (col // self.group) * (GROUP_GAP - GAP)
        y = self.header + row * (LINE + th + GAP) + LINE
        return x, y

    def strip(self, row: int) -> tuple[int, int]:
        """(x, y) of the text baseline of a row's strip."""
        return MARGIN, self.header + row * (LINE + self.tile[0] + GAP) + LINE - 5

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the sheet."""
        th, tw = self.tile
        groups = math.ceil(self.cols / self.group)
        width = 2 * MARGIN + self.cols * tw + (self.cols - groups) * GAP + max(groups - 1, 0) * GROUP_GAP
        height = self.header + self.rows * (LINE + th + GAP) - (GAP if self.rows else 0) + MARGIN
        return height, max(width, 2 * MARGIN + self.text_width)


def tile_size(frame_sizes: Sequence[tuple[int, int]], height: int) -> tuple[int, int]:
    """(h, w) of a sheet's tiles: `height` tall, as wide as the widest frame (w, h) shown, at most twice as wide."""
    aspect = max((w / h for w, h in frame_sizes), default=1.0)
    return height, int(round(height * min(max(aspect, 0.5), 2.0)))


def fit_tile(frame: np.ndarray, tile: tuple[int, int]) -> tuple[np.ndarray, float, float, int, int]:
    """A frame scaled to fit a tile (h, w), centred on EMPTY_TILE: (tile image, x scale, y scale, x offset,
    y offset). Upscaling is nearest-neighbour (the pixels the network sees, not a smoothed guess), downscaling
    area-averaged."""
    th, tw = tile
    h, w = frame.shape[:2]
    scale = min(th / h, tw / w)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    interpolation = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
    resized = cv2.resize(np.ascontiguousarray(frame), (nw, nh), interpolation=interpolation)
    out = np.full((th, tw, 3), EMPTY_TILE, np.uint8)
    ox, oy = (tw - nw) // 2, (th - nh) // 2
    out[oy : oy + nh, ox : ox + nw] = resized
    return out, nw / w, nh / h, ox, oy


def box_rectangle(
    box: Sequence[float], sx: float, sy: float, ox: int, oy: int, tile: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Tile pixels (x0, y0, x1, y1), inclusive, of the outermost pixels a box covers: a box is (x1, y1, x2, y2) in
    frame pixels with x2, y2 exclusive, so frame column x maps to tile columns [x * sx, (x + 1) * sx)."""
    th, tw = tile
    x0 = ox + int(math.floor(box[0] * sx))
    y0 = oy + int(math.floor(box[1] * sy))
    x1 = ox + int(math.ceil(box[2] * sx)) - 1
    y1 = oy + int(math.ceil(box[3] * sy)) - 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, tw - 1), min(y1, th - 1)
    if x1 < x0 or y1 < y0:
        return None
    return x0, y0, x1, y1


def draw_boxes(tile: np.ndarray, boxes: np.ndarray, threshold: float, sx: float, sy: float, ox: int, oy: int) -> None:
    """Boxes and their scores on a tile, in place: kept boxes (score >= threshold) green, weaker ones orange, each
    lined inside with a dark ring so that it shows on any scene; the score sits above the box (below it, or inside,
    where there is no room)."""
    shape = tile.shape[:2]
    for box in sorted(boxes.tolist(), key=lambda b: b[4]):  # strongest last, on top
        rect = box_rectangle(box, sx, sy, ox, oy, shape)
        if rect is None:
            continue
        x0, y0, x1, y1 = rect
        colour = KEPT_BOX if box[4] >= threshold else WEAK_BOX
        for inset in range(BOX_THICKNESS + 1):
            if x1 - x0 < 2 * inset or y1 - y0 < 2 * inset:
                break
            ring = colour if inset < BOX_THICKNESS else BOX_INNER
            cv2.rectangle(tile, (x0 + inset, y0 + inset), (x1 - inset, y1 - inset), ring, 1, cv2.LINE_8)
        text = f"{box[4]:.2f}"
        (w, h), base = cv2.getTextSize(text, FONT, SCORE_SCALE, 1)
        if y0 - 2 - h - base >= 0:
            top = y0 - 2 - h - base  # above the box, leaving the row just outside it free
        elif y1 + 2 + h + base < shape[0]:
            top = y1 + 2
        else:
            top = y0 + BOX_THICKNESS + 2
        left = min(max(x0, 0), max(shape[1] - w - 2, 0))
        cv2.rectangle(tile, (left, top), (left + w + 1, top + h + base - 1), (0, 0, 0), -1)
        cv2.putText(tile, text, (left + 1, top + h), FONT, SCORE_SCALE, colour, 1, cv2.LINE_AA)


Segments = Sequence[tuple[str, tuple[int, int, int]]]


def text_width(lines: Sequence[Segments]) -> int:
    """Width (px) of the widest line, each line a sequence of (text, colour) pieces."""
    return max((sum(cv2.getTextSize(t, FONT, TEXT_SCALE, 1)[0][0] for t, _ in line) for line in lines), default=0)


def put_segments(sheet: np.ndarray, origin: tuple[int, int], segments: Segments) -> None:
    """Text pieces of different colours on one line, from a baseline origin (x, y)."""
    x, y = origin
    for text, colour in segments:
        cv2.putText(sheet, text, (x, y), FONT, TEXT_SCALE, colour, 1, cv2.LINE_AA)
        x += cv2.getTextSize(text, FONT, TEXT_SCALE, 1)[0][0]


def blank_sheet(grid: Grid, header: Sequence[str]) -> np.ndarray:
    sheet = np.full((*grid.size, 3), BACKGROUND, np.uint8)
    for i, line in enumerate(header):
        put_segments(sheet, (MARGIN, MARGIN + (i + 1) * LINE - 5), [(line, TEXT)])
    return sheet


def new_sheet(
    header: Sequence[str],
    strips: Sequence[Segments],
    cols: int,
    frame_sizes: Sequence[tuple[int, int]],
    tile_height: int,
    group: int = 1,
) -> tuple[Grid, np.ndarray]:
    """The grid of a sheet with one row per strip, its tiles sized for `frame_sizes` (w, h), wide enough for every
    line of text; and the blank sheet with the header drawn."""
    grid = Grid(
        rows=len(strips),
        cols=cols,
        tile=tile_size(frame_sizes, tile_height),
        header_lines=len(header),
        group=group,
        text_width=text_width([[(line, TEXT)] for line in header] + list(strips)),
    )
    return grid, blank_sheet(grid, header)


def empty_tile(grid: Grid) -> np.ndarray:
    return np.full((*grid.tile, 3), EMPTY_TILE, np.uint8)


def paste(sheet: np.ndarray, grid: Grid, row: int, col: int, tile: np.ndarray) -> None:
    x, y = grid.origin(row, col)
    sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
