"""The decision-boundary map drawn in text, shared by the headless printer and the app.

Colours follow TensorFlow Playground: orange ``#f59322`` for -1, light grey
``#e8eaeb`` for 0, blue ``#0877bd`` for +1, in 31 steps.  In colour each
character cell holds two pixels, one above the other (``▀`` in the top pixel's
colour on the bottom pixel's), so a grid of ``2R × C`` values fills ``R`` lines:
twice the resolution of one colour per cell, and square pixels, since a cell is
about twice as tall as wide.  Data points are letters on their cell.  Without
colour (not a terminal, ``NO_COLOR``) each cell is one plain ASCII shade of its
two pixels, so the map still reads in a CI log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

ORANGE = (0xF5, 0x93, 0x22)
GREY = (0xE8, 0xEA, 0xEB)
BLUE = (0x08, 0x77, 0xBD)
STEPS = 31
EXTENT = (-6.0, 6.0, -6.0, 6.0)

#: ASCII shading from strong -1 to strong +1; the middle one is "undecided".
ASCII_SHADES = "=-. +#"
#: The upper half block: its colour is the top pixel, the cell's background the bottom one.
HALF = "\u2580"
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
    """The palette step of one value (plain floats: it runs once per point on every map drawn)."""
    v = float(value)
    if not math.isfinite(v):
        return (STEPS - 1) // 2
    t = (min(max(v, lo), hi) - lo) / (hi - lo)
    return int(round(t * (STEPS - 1)))


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def ascii_shade(value: float, lo: float = -1.0, hi: float = 1.0) -> str:
    import numpy as np

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
    import numpy as np

    if not regression:
        return -1.0, 1.0
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 1.0
    m = max(m, 1e-6)
    return -m, m


def cell_rows(values: np.ndarray) -> int:
    """Text lines a grid of pixel rows fills (two pixels to a line; an odd last row fills one)."""
    return (values.shape[0] + 1) // 2


def pixel_pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (top, bottom) pixel of every cell, as float64 (an odd last row is its own bottom)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] % 2:
        v = np.vstack([v, v[-1:]])
    return v[0::2], v[1::2]


def cell_values(values: np.ndarray) -> np.ndarray:
    """One value per cell, the mean of its two pixels: the ASCII shade and the background of a point."""
    import numpy as np

    top, bottom = pixel_pairs(values)
    with np.errstate(invalid="ignore"):
        return (top + bottom) / 2


def discretize(values: np.ndarray, regression: bool) -> np.ndarray:
    """The playground's "discretize output": each pixel at the strong end of its side.

    Classes become exactly -1 or +1 (the boundary with no shading); a regression
    map keeps its range but in 5 bands, so its level lines show.
    """
    import numpy as np

    if not regression:
        return np.where(np.isfinite(values), np.where(values >= 0, 1.0, -1.0), values).astype(values.dtype)
    lo, hi = value_range(values, regression)
    bands = 5
    with np.errstate(invalid="ignore"):
        t = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
        out = lo + (np.minimum(np.floor(t * bands), bands - 1) + 0.5) / bands * (hi - lo)
    return np.where(np.isfinite(values), out, values).astype(values.dtype)


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
    """Which cells hold a point, with its mark and label; validation points drawn last win.

    The cells are found with numpy (the same arithmetic as ``_cell``, point by
    point), since the app draws the map several times a second.
    """
    import numpy as np

    x_lo, x_hi, y_lo, y_hi = extent
    marks: dict[tuple[int, int], tuple[str, float]] = {}
    for group in sorted(points, key=lambda g: g.split == "val"):
        pts = np.asarray(group.points, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(group.labels, dtype=np.float64).reshape(-1)
        x, y = pts[:, 0], pts[:, 1]
        inside = (x_lo <= x) & (x <= x_hi) & (y_lo <= y) & (y <= y_hi)
        x, y, labels = x[inside], y[inside], labels[inside]
        cs = np.minimum(cols - 1, ((x - x_lo) / (x_hi - x_lo) * cols).astype(np.int64)).tolist()
        rs = np.minimum(rows - 1, ((y_hi - y) / (y_hi - y_lo) * rows).astype(np.int64)).tolist()
        positive, negative = MARKS[(group.split, 1)], MARKS[(group.split, -1)]
        for r, c, label in zip(rs, cs, labels.tolist(), strict=True):
            marks[(r, c)] = (positive if label >= 0 else negative, label)
    return marks


def render_ascii(values: np.ndarray, points: list[MapPoints] | None = None, *, regression: bool = False,
                 extent: tuple[float, float, float, float] = EXTENT) -> list[str]:
    """Plain-text lines, one per cell row: shading characters with point marks on top."""
    cells = cell_values(values)
    rows, cols = cells.shape
    lo, hi = value_range(values, regression)
    marks = point_marks(points or [], rows, cols, regression, extent)
    lines = []
    for r in range(rows):
        chars = []
        for c in range(cols):
            mark = marks.get((r, c))
            chars.append(mark[0] if mark else ascii_shade(cells[r, c], lo, hi))
        lines.append("".join(chars))
    return lines


def mark_colour(label: float, lo: float, hi: float) -> str:
    """A point's letter: its class colour a quarter of the way to black, to stand out on any shade."""
    return hex_colour(_mix(palette_rgb(value_step(label, lo, hi)), (0, 0, 0), 0.25))


def render_rich(values: np.ndarray, points: list[MapPoints] | None = None, *, regression: bool = False,
                extent: tuple[float, float, float, float] = EXTENT) -> Text:
    """Coloured map, two pixels per cell; points as dark letters in their class colour.

    This is the reference drawing, value by value; the app's ``map_segments``
    makes the same thing with numpy (a test holds them equal).
    """
    top, bottom = pixel_pairs(values)
    cells = cell_values(values)
    rows, cols = cells.shape
    lo, hi = value_range(values, regression)
    marks = point_marks(points or [], rows, cols, regression, extent)
    text = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        for c in range(cols):
            mark = marks.get((r, c))
            if mark:
                char, label = mark
                # Train marks bold, like the playground's white outline.
                bg = hex_colour(palette_rgb(value_step(cells[r, c], lo, hi)))
                text.append(char, Style(color=mark_colour(label, lo, hi), bgcolor=bg, bold=char.isupper()))
                continue
            up = hex_colour(palette_rgb(value_step(top[r, c], lo, hi)))
            down = hex_colour(palette_rgb(value_step(bottom[r, c], lo, hi)))
            if up == down:
                text.append(" ", Style(bgcolor=down))
            else:
                text.append(HALF, Style(color=up, bgcolor=down))
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
