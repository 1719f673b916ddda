"""The map panel: the decision boundary of 2-D data, or images and a class report.

The boundary is shaded as ``mapview`` shades it for the headless printer (the
colour map is built here with numpy, cell for cell what ``render_rich`` gives;
a test holds them equal; without colour ``render_ascii`` is used as is), two
pixels per character cell, with a grid sized to this widget: the app tells the
engine the shape via ``control.grid_shape`` so that the model is evaluated
exactly once per drawn pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui_trainer.app.safe import Literal, literal
from tui_trainer.core import mapview
from tui_trainer.core.events import ClassReport
from tui_trainer.core.mapview import MapPoints
from tui_trainer.core.textsafe import printable
from tui_trainer.data.datasets import Dataset

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Shades from dark to light for images drawn without colour.
IMAGE_SHADES = " .:-=+*#%@"
#: Images shown in the gallery, at most.
GALLERY_MAX = 12


def map_shape(size: Size) -> tuple[int, int]:
    """Pixel rows and columns of a square map that fits ``size``.

    Cells are about twice as tall as wide and hold two pixels one above the
    other, so pixels are square: ``rows`` text lines give ``2 * rows`` pixel
    rows and take ``2 * rows`` columns.
    """
    rows = max(4, size.height)
    cols = max(8, size.width)
    if cols >= 2 * rows:
        cols = 2 * rows
    else:
        rows = max(4, cols // 2)
        cols = 2 * rows
    return 2 * rows, cols


_POINTS: dict[int, tuple[Dataset, list[MapPoints]]] = {}


def map_points(dataset: Dataset) -> list[MapPoints]:
    """Training and validation points of a 2-D dataset.

    The same list for the same dataset, so the map can tell the points haven't changed.
    """
    import numpy as np

    if not dataset.is_2d:
        return []
    cached = _POINTS.get(id(dataset))
    if cached is not None and cached[0] is dataset:
        return cached[1]
    points = [
        MapPoints(dataset.points_train, np.asarray(dataset.y_train).reshape(-1), "train"),
        MapPoints(dataset.points_val, np.asarray(dataset.y_val).reshape(-1), "val"),
    ]
    _POINTS.clear()  # one dataset on show at a time; don't keep old ones alive
    _POINTS[id(dataset)] = (dataset, points)
    return points


def cell_steps(values: np.ndarray, regression: bool, lo: float | None = None,
               hi: float | None = None) -> np.ndarray:
    """``mapview.value_step`` for a whole grid at once (same arithmetic, in float64)."""
    import numpy as np

    if lo is None or hi is None:
        lo, hi = mapview.value_range(values, regression)
    finite = np.isfinite(values)
    clipped = np.clip(np.where(finite, values, 0.0), lo, hi).astype(np.float64)
    steps = np.rint((clipped - lo) / (hi - lo) * (mapview.STEPS - 1)).astype(np.int64)
    steps[~finite] = (mapview.STEPS - 1) // 2
    return steps


@lru_cache(maxsize=mapview.STEPS)
def _bg_style(step: int) -> Style:
    return Style(bgcolor=mapview.hex_colour(mapview.palette_rgb(step)))


@lru_cache(maxsize=mapview.STEPS * mapview.STEPS)
def _half_style(top: int, bottom: int) -> Style:
    return Style(color=mapview.hex_colour(mapview.palette_rgb(top)),
                 bgcolor=mapview.hex_colour(mapview.palette_rgb(bottom)))


@lru_cache(maxsize=1024)
def _mark_style(label_step: int, bg_step: int, bold: bool) -> Style:
    # As mapview.render_rich: the label's colour a quarter of the way to black, on the cell's shade.
    fg = tuple(round(x * 0.75) for x in mapview.palette_rgb(label_step))
    return Style(color=mapview.hex_colour(fg), bgcolor=mapview.hex_colour(mapview.palette_rgb(bg_step)), bold=bold)


def map_segments(values: np.ndarray, points: list[MapPoints], regression: bool,
                 extent: tuple[float, float, float, float] = mapview.EXTENT) -> list[list[Segment]]:
    """The coloured map as segment rows: what ``mapview.render_rich`` draws, made in a fraction of the time.

    The map is redrawn several times a second while training, on the UI thread
    that shares the GIL with the training thread, so the per-pixel work of
    ``render_rich`` is done here with numpy: the pixels are turned into colour
    steps in one pass, and runs of equal cells are found with numpy, so Python
    only loops over runs and points, not over cells.
    """
    import numpy as np

    lo, hi = mapview.value_range(values, regression)
    if values.shape[0] % 2:
        values = np.vstack([values, values[-1:]])
    steps = cell_steps(values, regression, lo, hi)
    top, bottom = steps[0::2], steps[1::2]
    rows, cols = top.shape
    marks = mapview.point_marks(points, rows, cols, regression, extent)
    by_row: dict[int, list[int]] = {}
    for r, c in marks:
        by_row.setdefault(r, []).append(c)
    # The cell's shade under a letter: the mean of its two pixels (as mapview.cell_values).
    mid = cell_steps(mapview.cell_values(values), regression, lo, hi).tolist() if marks else []
    key = top * mapview.STEPS + bottom
    # Where runs of equal cells end, for every row in one numpy call.
    change_rows, change_cols = np.nonzero(key[:, 1:] != key[:, :-1])
    per_row = np.split(change_cols + 1, np.searchsorted(change_rows, np.arange(1, rows)))
    tops, bottoms = top.tolist(), bottom.tolist()
    styles = _cell_styles()
    half = mapview.HALF
    label_steps: dict[float, int] = {}
    out = []
    for r in range(rows):
        cuts = per_row[r].tolist()
        cuts.append(cols)
        top_r, bottom_r = tops[r], bottoms[r]
        segments: list[Segment] = []
        marked = by_row.get(r)
        start = 0
        if not marked:
            for end in cuts:
                up, down = top_r[start], bottom_r[start]
                segments.append(Segment((" " if up == down else half) * (end - start), styles[up][down]))
                start = end
            out.append(segments)
            continue
        cuts = sorted(set(cuts).union(marked, (c + 1 for c in marked)))
        for end in cuts:
            if end <= start or end > cols:
                continue
            mark = marks.get((r, start))
            if mark is not None:
                char, label = mark
                step = label_steps.get(label)
                if step is None:
                    step = label_steps[label] = mapview.value_step(label, lo, hi)
                segments.append(Segment(char, _mark_style(step, mid[r][start], char.isupper())))
            else:
                up, down = top_r[start], bottom_r[start]
                segments.append(Segment((" " if up == down else half) * (end - start), styles[up][down]))
            start = end
        out.append(segments)
    return out


@lru_cache(maxsize=1)
def _cell_styles() -> list[list[Style]]:
    """The style of a cell by its (top, bottom) steps: a background only when they are equal."""
    return [[_bg_style(up) if up == down else _half_style(up, down) for down in range(mapview.STEPS)]
            for up in range(mapview.STEPS)]


class BoundaryMap(Widget):
    """The shaded map with the data points on top, centred in the widget.

    Drawn line by line from cached strips, so repainting (scrolling, a toast
    passing over) costs nothing and a new map costs one pass over the grid.
    """

    @dataclass
    class Resized(Message):
        """The map's size changed, so the engine should send grids of the new shape."""

        size: Size

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.values: np.ndarray | None = None
        self.points: list[MapPoints] = []
        self.regression = False
        self.plain = False
        self.extent: tuple[float, float, float, float] = mapview.EXTENT
        #: The playground's toggles: validation ("test") points on show, output discretized.
        self.show_test = True
        self.discrete = False
        #: True while the background is the neutral "no model yet" one.
        self.neutral = True
        self.draws = 0
        self._cache: tuple[tuple[object, ...], list[Strip]] | None = None

    def show(self, values: np.ndarray | None, points: list[MapPoints], *, regression: bool, plain: bool,
             extent: tuple[float, float, float, float] = mapview.EXTENT) -> None:
        """New values (None = neutral background at the current size) and points over ``extent``."""
        if (values is self.values and points is self.points and regression == self.regression
                and plain == self.plain and extent == self.extent and values is not None):
            return
        self.values, self.points, self.regression, self.plain = values, points, regression, plain
        self.extent = extent
        self.neutral = values is None
        self._redraw()

    def set_toggles(self, *, show_test: bool | None = None, discrete: bool | None = None) -> None:
        """Show or hide the validation points; shade the output or only its sign (no new prediction needed)."""
        if show_test is not None:
            self.show_test = show_test
        if discrete is not None:
            self.discrete = discrete
        self._redraw()

    def _redraw(self) -> None:
        self._cache = None
        self.draws += 1
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._cache = None
        self.post_message(self.Resized(event.size))

    def grid(self) -> np.ndarray:
        """The values on show (a neutral grid sized to the widget before any model)."""
        import numpy as np

        if self.values is not None:
            return self.values
        return np.zeros(map_shape(self.size), dtype=np.float32)

    def shown_points(self) -> list[MapPoints]:
        return self.points if self.show_test else [p for p in self.points if p.split != "val"]

    def _strips(self) -> list[Strip]:
        width, height = self.size
        values = self.grid()
        key = (id(self.values), values.shape, self.plain, id(self.points), width, height, self.show_test,
               self.discrete, self.extent)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        if self.discrete and self.values is not None:
            values = mapview.discretize(values, self.regression)
        points = self.shown_points()
        base = self.rich_style
        if self.plain:
            rows = [[Segment(line, base)] for line in mapview.render_ascii(
                values, points, regression=self.regression, extent=self.extent)]
        else:
            rows = map_segments(values, points, self.regression, self.extent)
        left = max(0, (width - values.shape[1]) // 2)
        top = max(0, (height - len(rows)) // 2)
        blank = Strip.blank(width, base)
        strips = [blank] * top
        for segments in rows[: max(0, height - top)]:
            strip = Strip([Segment(" " * left, base), *segments]) if left else Strip(segments)
            strips.append(strip.crop(0, width).extend_cell_length(width, base))
        strips.extend([blank] * (height - len(strips)))
        self._cache = (key, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        if self.values is None and not self.points:
            # Nothing to show yet (the first frame, before the data's preview): a plain panel, no numpy.
            return Strip.blank(self.size.width, self.rich_style)
        strips = self._strips()
        return strips[y] if 0 <= y < len(strips) else Strip.blank(self.size.width, self.rich_style)


def _downsample(img: np.ndarray, limit: int = 14) -> np.ndarray:
    """Block-average an (h, w) image so its larger side is at most ``limit``."""
    import numpy as np

    h, w = img.shape
    f = max(1, int(np.ceil(max(h, w) / limit)))
    if f == 1:
        return img
    h2, w2 = h // f * f, w // f * f
    return img[:h2, :w2].reshape(h2 // f, f, w2 // f, f).mean(axis=(1, 3))


def image_lines(sample: np.ndarray, plain: bool) -> list[Text]:
    """One image as text: half blocks in grey levels, or shade characters without colour."""
    import numpy as np

    img = np.asarray(sample, dtype=np.float64)
    img = img.mean(axis=-1) if img.ndim == 3 else img
    img = _downsample(img)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.shape[0] % 2:
        img = np.vstack([img, np.zeros((1, img.shape[1]))])
    lines = []
    for r in range(0, img.shape[0], 2):
        line = Text()
        for c in range(img.shape[1]):
            top, bottom = img[r, c], img[r + 1, c]
            if plain:
                line.append(IMAGE_SHADES[int(round((top + bottom) / 2 * (len(IMAGE_SHADES) - 1)))])
            else:
                fg = "#{0:02x}{0:02x}{0:02x}".format(int(top * 255))
                bg = "#{0:02x}{0:02x}{0:02x}".format(int(bottom * 255))
                line.append("▀", Style(color=fg, bgcolor=bg))
        lines.append(line)
    return lines


def gallery(dataset: Dataset, predicted: np.ndarray | None, width: int, plain: bool) -> Text:
    """Validation images side by side with their true (and predicted) labels."""
    count = min(GALLERY_MAX, len(dataset.x_val))
    if count == 0:
        return Text("no validation images")
    images = [image_lines(dataset.x_val[i], plain) for i in range(count)]
    names = dataset.class_names
    cell = max(len(images[0][0]) + 2, 9)
    per_row = max(1, width // cell)
    out = Text(no_wrap=True, overflow="crop")
    for start in range(0, count, per_row):
        block = list(range(start, min(count, start + per_row)))
        for line_no in range(len(images[0])):
            for i in block:
                out.append_text(images[i][line_no])
                out.append(" " * (cell - len(images[i][line_no])))
            out.append("\n")
        for i in block:
            true = names[int(dataset.y_val[i])] if names else str(int(dataset.y_val[i]))
            if predicted is None:
                caption, style = f"t:{true}", ""
            else:
                guess = names[int(predicted[i])] if names else str(int(predicted[i]))
                ok = guess == true
                caption = f"{guess}{'=' if ok else '≠'}{true}"
                style = "bold green" if ok else "bold red"
            out.append(printable(caption).ljust(cell)[:cell], style=style)
        out.append("\n\n")
    return out


def class_report_table(report: ClassReport) -> RenderableType:
    """Per-class accuracy and the confusion matrix (rows: true class, columns: predicted)."""
    names = [literal(n) for n in report.class_names]  # labels from a file: never markup
    acc = Table(title="per-class accuracy (validation)", box=None, padding=(0, 1), title_justify="left")
    acc.add_column("class")
    acc.add_column("acc", justify="right")
    acc.add_column("n", justify="right")
    totals = report.confusion.sum(axis=1)
    for name, a, n in zip(names, report.per_class_accuracy, totals, strict=True):
        acc.add_row(name, "–" if a is None else f"{a:.3f}", str(int(n)))
    conf = Table(title="confusion (rows true, cols predicted)", box=None, padding=(0, 0), title_justify="left")
    conf.add_column("", justify="right")
    for name in names:
        conf.add_column(Text(" ").append_text(name), justify="right")
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            v = int(report.confusion[i, j])
            style = "bold" if i == j else ("red" if v else "dim")
            cells.append(Text(f" {v}", style=style))
        conf.add_row(name, *cells)
    return Group(acc, Text(""), conf)


def fit_parts(parts: tuple[str, ...] | list[str], width: int, sep: str = " · ") -> str:
    """``parts`` joined by ``sep``, leaving out those that don't fit ``width`` (the first is always kept).

    Parts come most important first; a part that doesn't fit is skipped and a
    shorter later one may still be shown, so a title is never cut mid-word.
    """
    kept: list[str] = []
    used = 0
    for part in parts:
        if not part:
            continue
        extra = len(part) + (len(sep) if kept else 0)
        if not kept or used + extra <= width:
            kept.append(part)
            used += extra
    return sep.join(kept)


def axis_note(dataset: Dataset) -> str:
    """The map's axes and ranges when they are not the playground's x1, x2 over [-6, 6]."""
    if dataset.extent == mapview.EXTENT and dataset.axes == ("x1", "x2"):
        return ""
    x_lo, x_hi, y_lo, y_hi = dataset.extent
    across, up = dataset.axes
    return f"{across} {x_lo:g}..{x_hi:g} across, {up} {y_lo:g}..{y_hi:g} up"


class FittedTitle(Static):
    """A one-line title fitted to its width at every draw (see ``fit_parts``), so a resize refits it.

    The text is set as plain ``Text``: titles hold file and column names, which are never markup.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)
        self.parts: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The whole title, every part (what a wide enough panel shows)."""
        return " · ".join(p for p in self.parts if p)

    def show(self, parts: tuple[str, ...]) -> None:
        if parts != self.parts:
            self.parts = tuple(parts)
            # One line: a repaint, not a layout of the whole screen.
            self.refresh(layout=False)

    def render(self) -> Text:
        return Text(printable(fit_parts(self.parts, max(1, self.content_size.width))), no_wrap=True, overflow="crop")


class MapPanel(Vertical):
    """Boundary map for 2-D data; for other data the image gallery and class report."""

    @dataclass
    class Resized(Message):
        """The panel changed size: the gallery is laid out for its width, so it is redrawn."""

        size: Size

    #: What the panel shows: "map", "text" (gallery, report or a message) or "" before the first data.
    mode = ""

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(event.size))

    def compose(self) -> ComposeResult:
        yield FittedTitle(id="map-title")
        yield BoundaryMap(id="map")
        yield Literal("", id="map-legend")
        with VerticalScroll(id="gallery-scroll"):
            yield Literal("", id="gallery")
            yield Literal("", id="class-report")

    def set_mode(self, mode: str) -> None:
        """``map`` (2-D data), ``gallery`` (images) or ``text`` (neither)."""
        if mode == self.mode:
            return
        self.mode = mode
        is_map = mode == "map"
        self.query_one("#map").display = is_map
        self.query_one("#map-legend").display = is_map
        self.query_one("#gallery-scroll").display = not is_map

    def set_title(self, *parts: str) -> None:
        """The title line: as many of ``parts`` (most important first) as the width holds, never cut."""
        self.query_one("#map-title", FittedTitle).show(parts)

    def set_legend(self, text: str) -> None:
        legend = self.query_one("#map-legend", Static)
        if getattr(legend, "text", None) != text:
            legend.text = text
            legend.update(text)

    def show_gallery(self, content: RenderableType) -> None:
        self.query_one("#gallery", Static).update(content)

    def show_report(self, content: RenderableType | None) -> None:
        report = self.query_one("#class-report", Static)
        report.update(content or "")
