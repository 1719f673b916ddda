"""The decision-boundary map drawn in text, shared by the headless printer and the app.

Colours follow TensorFlow Playground: orange ``#f59322`` for -1, light grey
``#e8eaeb`` for 0, blue ``#0877bd`` for +1, in 31 steps.  Without colour
(not a terminal, ``NO_COLOR``) the sign and strength are drawn with plain ASCII
characters, so the map still reads in a CI log.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rich.style import Style
from rich.text import Text

ORANGE = (0xF5, 0x93, 0x22)
GREY = (0xE8, 0xEA, 0xEB)
BLUE = (0x08, 0x77, 0xBD)
STEPS = 31
EXTENT = (-6.0, 6.0, -6.0, 6.0)

#: ASCII shading from strong -1 to strong +1; the middle one is "undecided".
ASCII_SHADES = "=-. +#"
#: Point marks: (train, validation) for the positive and the negative class.
MARKS = {("train", 1): "O", ("train", -1): "X", ("val", 1): "o", ("val", -1): "x"}


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


@lru_cache(maxsize=64)
def palette_rgb(step: int) -> tuple[int, int, int]:
    """Colour of step 0..STEPS-1 (0 = -1 orange, middle = grey, last = +1 blue)."""
    v = -1.0 + 2.0 * step / (STEPS - 1)
    return _mix(GREY, BLUE, v) if v >= 0 else _mix(GREY, ORANGE, -v)


def value_step(value: float, lo: float = -1.0, hi: float = 1.0) -> int:
    if not np.isfinite(value):
        return (STEPS - 1) // 2
    t = (float(np.clip(value, lo, hi)) - lo) / (hi - lo)
    return int(round(t * (STEPS - 1)))


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def ascii_shade(value: float, lo: float = -1.0, hi: float = 1.0) -> str:
    if not np.isfinite(value):
        return "?"
    t = (float(np.clip(value, lo, hi)) - lo) / (hi - lo)  # 0..1
    centred = 2 * t - 1
    if abs(centred) < 0.15:
        return ASCII_SHADES[2] if centred < 0 else ASCII_SHADES[3]
    if centred < 0:
        return ASCII_SHADES[0] if centred < -0.6 else ASCII_SHADES[1]
    return ASCII_SHADES[5] if centred > 0.6 else ASCII_SHADES[4]


@dataclass(frozen=True)
class MapPoints:
    """Points to draw over the map: raw (x1, x2) coordinates and their labels."""

    points: np.ndarray  # (n, 2)
    labels: np.ndarray  # (n,), ±1 for classes, real values for regression
    split: str = "train"  # "train" or "val"


def value_range(values: np.ndarray, regression: bool) -> tuple[float, float]:
    """Classification maps are fixed to [-1, 1]; regression maps span their values symmetrically."""
    if not regression:
        return -1.0, 1.0
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 1.0
    m = max(m, 1e-6)
    return -m, m


def _cell(point: np.ndarray, rows: int, cols: int, extent: tuple[float, float, float, float]) -> tuple[int, int] | None:
    x_lo, x_hi, y_lo, y_hi = extent
    x, y = float(point[0]), float(point[1])
    if not (x_lo <= x <= x_hi and y_lo <= y <= y_hi):
        return None
    c = min(cols - 1, int((x - x_lo) / (x_hi - x_lo) * cols))
    r = min(rows - 1, int((y_hi - y) / (y_hi - y_lo) * rows))
    return r, c


def point_marks(points: list[MapPoints], rows: int, cols: int, regression: bool,
                extent: tuple[float, float, float, float] = EXTENT) -> dict[tuple[int, int], tuple[str, float]]:
    """Which cells hold a point, with its mark and label; validation points drawn last win."""
    marks: dict[tuple[int, int], tuple[str, float]] = {}
    for group in sorted(points, key=lambda g: g.split == "val"):
        for p, label in zip(group.points, np.asarray(group.labels).reshape(-1), strict=True):
            cell = _cell(p, rows, cols, extent)
            if cell is None:
                continue
            sign = 1 if label >= 0 else -1
            marks[cell] = (MARKS[(group.split, sign)], float(label))
    return marks


def render_ascii(values: np.ndarray, points: list[MapPoints] | None = None, *, regression: bool = False) -> list[str]:
    """Plain-text lines: shading characters with point marks on top."""
    rows, cols = values.shape
    lo, hi = value_range(values, regression)
    marks = point_marks(points or [], rows, cols, regression)
    lines = []
    for r in range(rows):
        chars = []
        for c in range(cols):
            mark = marks.get((r, c))
            chars.append(mark[0] if mark else ascii_shade(values[r, c], lo, hi))
        lines.append("".join(chars))
    return lines


def render_rich(values: np.ndarray, points: list[MapPoints] | None = None, *, regression: bool = False) -> Text:
    """Coloured map: each cell a background shade; points as dark/white marks in their class colour."""
    rows, cols = values.shape
    lo, hi = value_range(values, regression)
    marks = point_marks(points or [], rows, cols, regression)
    text = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        for c in range(cols):
            bg = hex_colour(palette_rgb(value_step(values[r, c], lo, hi)))
            mark = marks.get((r, c))
            if mark:
                char, label = mark
                label_rgb = palette_rgb(value_step(label, lo, hi))
                # Strong class colour for the mark itself; train marks bold like the playground's white outline.
                fg = hex_colour(_mix(label_rgb, (0, 0, 0), 0.25))
                text.append(char, Style(color=fg, bgcolor=bg, bold=char.isupper()))
            else:
                text.append(" ", Style(bgcolor=bg))
        if r < rows - 1:
            text.append("\n")
    return text


def legend(color: bool, regression: bool = False) -> str:
    if regression:
        shade = "orange = low, blue = high" if color else f"'{ASCII_SHADES[0]}' low .. '{ASCII_SHADES[5]}' high"
        return f"{shade}; O/X training points, o/x validation points (sign of the target)"
    shade = "orange = -1, blue = +1, paler = less sure" if color else (
        f"'{ASCII_SHADES[0]}' '{ASCII_SHADES[1]}' = -1 side, '{ASCII_SHADES[4]}' '{ASCII_SHADES[5]}' = +1 side, "
        f"'{ASCII_SHADES[2]}'/'{ASCII_SHADES[3]}' near 0"
    )
    return f"{shade}; O = train +1, X = train -1, o = val +1, x = val -1"
