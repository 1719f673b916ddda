"""Is the sharper (half-block) map as fast to draw as the one-colour-per-cell map it replaced?

One command:

    python benchmarks/bench_map.py [--repeats 200]

The app redraws the boundary map several times a second while training, on the
UI thread that shares the GIL with the training thread, so drawing it must stay
cheap.  Since issue 10 each character cell holds two pixels (``▀`` in the top
pixel's colour on the bottom pixel's), twice the pixels of the map before at
the same size.  This draws the same boundary at the map sizes the app has at
80x24, 120x40 and 200x60 with both:

* the reference: the numpy renderer as it was before (one value per cell,
  copied here unchanged as ``reference_segments``), on a rows x 2*rows grid;
* ``map_segments`` today, on a 2*rows x 2*rows grid (same cells, twice the pixels);

and, for scale, ``mapview.render_rich`` (the value-by-value reference drawing).
It prints the median milliseconds per frame of each, the pixels drawn, and the
ratio today / before, with its target: no slower than the map it replaced
(ratio <= 1.0; machines are noisy, so only the ratio of one run counts).
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import lru_cache

import numpy as np
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from tui_trainer.app.boundary import map_points, map_segments
from tui_trainer.core import mapview
from tui_trainer.core.config import default_config
from tui_trainer.core.mapview import MapPoints
from tui_trainer.data.datasets import load_dataset

#: Cell rows of the map widget at each terminal size (from the app's layouts).
SIZES = {"80x24": 16, "120x40": 14, "200x60": 27}
TARGET = 1.0


# -- the renderer before issue 10, unchanged: one value per cell ------------------------------------
def reference_steps(values: np.ndarray, regression: bool) -> np.ndarray:
    lo, hi = mapview.value_range(values, regression)
    finite = np.isfinite(values)
    clipped = np.clip(np.where(finite, values, 0.0), lo, hi).astype(np.float64)
    steps = np.rint((clipped - lo) / (hi - lo) * (mapview.STEPS - 1)).astype(np.int64)
    steps[~finite] = (mapview.STEPS - 1) // 2
    return steps


@lru_cache(maxsize=mapview.STEPS)
def _bg_style(step: int) -> Style:
    return Style(bgcolor=mapview.hex_colour(mapview.palette_rgb(step)))


@lru_cache(maxsize=1024)
def _mark_style(label_step: int, bg_step: int, bold: bool) -> Style:
    fg = tuple(round(x * 0.75) for x in mapview.palette_rgb(label_step))
    return Style(color=mapview.hex_colour(fg), bgcolor=mapview.hex_colour(mapview.palette_rgb(bg_step)), bold=bold)


def reference_segments(values: np.ndarray, points: list[MapPoints], regression: bool) -> list[list[Segment]]:
    rows, cols = values.shape
    steps = reference_steps(values, regression)
    lo, hi = mapview.value_range(values, regression)
    marks = mapview.point_marks(points, rows, cols, regression)
    out = []
    for r in range(rows):
        row = steps[r].tolist()
        segments: list[Segment] = []
        run_start = 0
        for c in range(cols + 1):
            mark = marks.get((r, c)) if c < cols else None
            if c == cols or mark is not None or row[c] != row[run_start]:
                if c > run_start:
                    segments.append(Segment(" " * (c - run_start), _bg_style(row[run_start])))
                run_start = c
            if mark is not None:
                char, label = mark
                segments.append(Segment(char, _mark_style(mapview.value_step(label, lo, hi), row[c], char.isupper())))
                run_start = c + 1
        out.append(segments)
    return out


# -- the benchmark ---------------------------------------------------------------------------------
def boundary(rows: int, cols: int) -> np.ndarray:
    """A half-trained circle boundary: smooth shading with a ring where the sign changes."""
    xs = np.linspace(-6, 6, cols)
    ys = np.linspace(6, -6, rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.tanh(1.5 * (np.hypot(gx, gy) - 3.2) + 0.3 * np.sin(gx)).astype(np.float32) * -1


def median_ms(draw, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        draw()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    points = map_points(load_dataset(default_config()))
    console = Console(width=200, color_system="truecolor", file=open("/dev/null", "w"))  # noqa: SIM115
    print(f"{'terminal':<9}{'cells':>8}  {'before px':>9} {'ms':>7}   {'today px':>9} {'ms':>7}   "
          f"{'render_rich ms':>14}   ratio today/before")
    ratios = []
    for name, rows in SIZES.items():
        cols = 2 * rows
        before_values = boundary(rows, cols)
        today_values = boundary(2 * rows, cols)
        # Warm the style caches of both, as a running app has.
        reference_segments(before_values, points, False)
        map_segments(today_values, points, False)
        before = median_ms(lambda v=before_values: reference_segments(v, points, False), args.repeats)
        today = median_ms(lambda v=today_values: map_segments(v, points, False), args.repeats)
        rich = median_ms(lambda v=today_values: console.render_lines(mapview.render_rich(v, points)),
                         max(5, args.repeats // 20))
        ratio = today / before
        ratios.append(ratio)
        print(f"{name:<9}{rows:>4}x{cols:<3}  {rows * cols:>9} {before:>7.3f}   {2 * rows * cols:>9} {today:>7.3f}   "
              f"{rich:>14.2f}   {ratio:.2f}")
    worst = max(ratios)
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"\ntwice the pixels; worst ratio today/before {worst:.2f} (target <= {TARGET:.1f}): {verdict}")


if __name__ == "__main__":
    main()
