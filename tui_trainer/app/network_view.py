"""The Network panel: the playground's network view, in text.

Columns of neurons, feature inputs on the left and the output on the right;
inside every neuron a small map of what it computes over the input plane, in
the output map's colours (half-block cells; ASCII shades with ``NO_COLOR``);
between the columns the links, drawn with braille dots: orange for negative,
blue for positive weights, paler for weaker ones, two dots thick for the
strongest (without colour: solid = positive, dotted = negative).

What does not fit is handled so (the README says the same):

* the maps shrink from 8x4 to 6x3 to 4x2 cells until the tallest column fits;
  when even 4x2 maps don't fit (a layer of 16 at 24 rows), the panel scrolls,
  and the selection is kept in view;
* between two big layers (more than 48 links) only each neuron's 2 strongest
  incoming links are drawn, plus every link of the selected neuron; the
  inspector lists all its incoming weights;
* a network wider than the panel scrolls sideways.

The selection (arrow keys, or the mouse: hover or click) picks one neuron; the
app then shows its map in the big map panel and the inspector below says its
activation, bias, incoming weights and value at the predict box's point.  On a
feature input, space (or a click on the selected one) switches it on or off in
the form.  All seven feature inputs are shown; the ones not in use are dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from tui_trainer.app.safe import literal
from tui_trainer.core import mapview
from tui_trainer.core.config import FEATURE_LABELS, FEATURES, Config
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.events import NetworkUpdated, NeuronLayer
from tui_trainer.core.layers import build_specs
from tui_trainer.data.datasets import expand_features, grid_points
from tui_trainer.engine import network

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Map sizes tried, largest first: (columns, text rows); half blocks make each one square.
MAP_SIZES = ((8, 4), (6, 3), (4, 2))
#: Above this many links between two columns, only each target's strongest few are drawn.
MAX_LINKS = 48
STRONGEST = 2
MIN_GAP = 4
#: Link gaps narrower than this make lines too steep to follow: smaller maps are used instead.
GOOD_GAP = 8
MAX_GAP = 18
#: Width of the feature inputs' labels ("sin X1").
LABEL_WIDTH = 5

#: The feature inputs' labels, at most LABEL_WIDTH wide.
INPUT_LABELS = tuple(FEATURE_LABELS[k].replace("sin ", "sin") for k in FEATURES)

BRAILLE = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


@dataclass
class Column:
    """One column of neurons as drawn: a layer of the event, or the planned network before a run."""

    title: str
    kind: str  # inputs, dense
    activation: str
    labels: tuple[str, ...]
    grids: np.ndarray | None = None  # (n, rows, cols) or None (neutral maps)
    #: Incoming weights (sources in the previous column, n); None for inputs or before a run.
    weights: np.ndarray | None = None
    biases: np.ndarray | None = None
    #: Feature keys of the inputs column, and which are in use.
    keys: tuple[str, ...] = ()
    enabled: tuple[bool, ...] = ()
    layer: NeuronLayer | None = None

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass
class Layout:
    map_w: int
    map_h: int
    xs: list[int]  # left edge of each column's maps
    tops: list[list[int]]  # top row of each neuron
    width: int
    height: int
    label_w: int = LABEL_WIDTH
    gaps: list[tuple[int, int]] = field(default_factory=list)  # link region (x0, x1) between columns

    def hit(self, x: int, y: int) -> tuple[int, int] | None:
        """The neuron at a cell of the virtual canvas (its map, or an input's label)."""
        for c, left in enumerate(self.xs):
            lo = left - (self.label_w + 1 if c == 0 else 1)
            if not lo <= x < left + self.map_w:
                continue
            for i, top in enumerate(self.tops[c]):
                if top <= y < top + self.map_h:
                    return c, i
        return None


def compute_layout(counts: list[int], width: int, height: int, label_w: int = LABEL_WIDTH) -> Layout:
    """Where every neuron goes: the biggest maps that fit the tallest column and leave room for links.

    The first size (largest first) whose tallest column fits the height and
    whose link gaps are at least ``GOOD_GAP`` wide wins; if none does, the
    smallest, and the canvas grows past the panel (it scrolls).
    """
    n = len(counts)
    tallest = max(counts) if counts else 1

    def gap_for(map_w: int) -> int:
        fixed = (label_w + 1) + n * map_w + n + 1  # labels, maps, a marker column before each map
        return MAX_GAP if n < 2 else min(MAX_GAP, (width - fixed) // (n - 1))

    map_w, map_h = MAP_SIZES[-1]
    for w, h in MAP_SIZES:
        if tallest * (h + 1) <= height and gap_for(w) >= GOOD_GAP:
            map_w, map_h = w, h
            break
    gap = max(MIN_GAP, gap_for(map_w))
    xs = []
    x = label_w + 2
    for _ in counts:
        xs.append(x)
        x += map_w + gap + 1
    total_w = max(width, xs[-1] + map_w + 1 if xs else width)
    body = max(tallest * (map_h + 1) - 1, 1)
    total_h = max(height, body + 1)
    tops = []
    for count in counts:
        col_h = count * (map_h + 1) - 1
        start = 1 + max(0, (total_h - 1 - col_h) // 2)
        tops.append([start + i * (map_h + 1) for i in range(count)])
    gaps = [(xs[c] + map_w, xs[c + 1] - 1) for c in range(n - 1)]
    return Layout(map_w, map_h, xs, tops, total_w, total_h, label_w, gaps)


# -- columns from an event, or from the planned config ------------------------------------------
def input_grids(shape: tuple[int, int], extent: tuple[float, float, float, float]) -> np.ndarray:
    """All seven feature inputs over the grid: (7, rows, cols)."""
    rows, cols = shape
    return expand_features(grid_points(rows, cols, extent), FEATURES).T.reshape(len(FEATURES), rows, cols)


def columns_from_event(event: NetworkUpdated, features: tuple[str, ...]) -> list[Column]:
    """The event's layers as columns; the inputs column always lists all seven features."""
    import numpy as np

    layers = event.layers
    first = layers[0]
    shape = first.grids.shape[1:]
    all_inputs = input_grids(shape, event.extent)
    enabled = tuple(key in features for key in FEATURES)
    columns = [Column("inputs", "inputs", "", INPUT_LABELS, all_inputs,
                      keys=FEATURES, enabled=enabled, layer=first)]
    for index, layer in enumerate(layers[1:], start=1):
        weights = layer.weights
        if index == 1 and weights is not None:
            # Rows for all seven features; unused ones have no links (NaN rows are skipped).
            full = np.full((len(FEATURES), weights.shape[1]), np.nan, np.float32)
            for row, key in zip(weights, features, strict=True):
                full[FEATURES.index(key)] = row
            weights = full
        title = "out" if index == len(layers) - 1 else f"{len(layer.labels)} {layer.activation}"
        columns.append(Column(title, "dense", layer.activation, layer.labels, layer.grids, weights, layer.biases,
                              layer=layer))
    return columns


def columns_from_config(cfg: Config, shape: tuple[int, int],
                        extent: tuple[float, float, float, float]) -> list[Column] | None:
    """The planned network of a 2-D config, before a run: input maps, neutral neurons, no links."""
    features = cfg.data.features
    try:
        specs = build_specs(cfg, (len(features),), 1, cfg.task)
    except ConfigError:
        return None
    enabled = tuple(key in features for key in FEATURES)
    columns = [Column("inputs", "inputs", "", INPUT_LABELS, input_grids(shape, extent),
                      keys=FEATURES, enabled=enabled)]
    dense = [s for s in specs if s.kind == "dense"]
    for i, spec in enumerate(dense):
        title = "out" if i == len(dense) - 1 else f"{spec.units} {spec.activation}"
        columns.append(Column(title, "dense", spec.activation, network.neuron_labels(spec, spec.units)))
    return columns


def neuron_range(column: Column, grid: np.ndarray) -> tuple[float, float]:
    layer = column.layer or NeuronLayer("", column.kind, column.activation, column.labels)
    return network.value_range(layer, grid)


# -- drawing -------------------------------------------------------------------------------------
class Canvas:
    """A grid of (character, style) cells, turned into strips row by row."""

    def __init__(self, width: int, height: int, base: Style) -> None:
        self.width, self.height, self.base = width, height, base
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[Style]] = [[base] * width for _ in range(height)]

    def put(self, x: int, y: int, text: str, style: Style) -> None:
        if not 0 <= y < self.height:
            return
        row_c, row_s = self.chars[y], self.styles[y]
        for i, ch in enumerate(text):
            if 0 <= x + i < self.width:
                row_c[x + i] = ch
                row_s[x + i] = style

    def strips(self) -> list[Strip]:
        out = []
        for chars, styles in zip(self.chars, self.styles, strict=True):
            segments = []
            start = 0
            for x in range(1, self.width + 1):
                if x == self.width or styles[x] is not styles[start]:
                    segments.append(Segment("".join(chars[start:x]), styles[start]))
                    start = x
            out.append(Strip(segments, self.width))
        return out


def _link_style(weight: float, scale: float, plain: bool, base: Style, bold: bool) -> Style:
    if plain:
        return base + Style(bold=bold)
    return base + Style(color=network.weight_colour(weight, scale), bold=bold)


def draw_links(canvas: Canvas, layout: Layout, columns: list[Column], plain: bool,
               selected: tuple[int, int] | None) -> None:
    """Braille lines between neighbouring columns: colour = sign, shade and thickness = |weight|."""
    import numpy as np

    scale = 1e-6
    for col in columns[1:]:
        if col.weights is not None and np.isfinite(col.weights).any():
            scale = max(scale, float(np.nanmax(np.abs(col.weights))))
    for c in range(1, len(columns)):
        weights = columns[c].weights
        if weights is None:
            continue
        x0, x1 = layout.gaps[c - 1]
        if x1 <= x0:
            continue
        n_src, n_dst = weights.shape
        links: list[tuple[float, int, int, bool]] = []
        pick_all = n_src * n_dst <= MAX_LINKS
        for j in range(n_dst):
            col_w = weights[:, j]
            sources = [i for i in range(n_src) if np.isfinite(col_w[i])]
            if not pick_all:
                sources = sorted(sources, key=lambda i: -abs(col_w[i]))[:STRONGEST]
            for i in sources:
                links.append((abs(float(col_w[i])), i, j, False))
        if selected is not None:
            sc, si = selected
            extra = []
            if sc == c:
                extra = [(i, si) for i in range(n_src) if np.isfinite(weights[i, si])]
            elif sc == c - 1:
                extra = [(si, j) for j in range(n_dst) if np.isfinite(weights[si, j])]
            links.extend((abs(float(weights[i, j])), i, j, True) for i, j in extra)
        links.sort(key=lambda link: (link[3], link[0]))
        cells: dict[tuple[int, int], list] = {}
        dots_w = (x1 - x0) * 2
        for magnitude, i, j, highlight in links:
            w = float(weights[i, j])
            ya = (layout.tops[c - 1][i] + layout.map_h / 2) * 4
            yb = (layout.tops[c][j] + layout.map_h / 2) * 4
            steps = max(dots_w, int(abs(yb - ya))) + 1
            t = np.linspace(0.0, 1.0, steps)
            dx = np.rint(t * (dots_w - 1)).astype(int)
            dy = np.rint(ya + (yb - ya) * t - 2).astype(int)
            if plain and w < 0:
                keep = (np.arange(steps) // 2) % 2 == 0  # dotted: negative
                dx, dy = dx[keep], dy[keep]
            thick = magnitude >= 0.5 * scale
            style = _link_style(w, scale, plain, canvas.base, highlight)
            pairs = set(zip(dx.tolist(), dy.tolist(), strict=True))
            if thick:
                pairs |= {(x, y + 1) for x, y in pairs}
            for x, y in pairs:
                cx, cy = x0 + x // 2, y // 4
                if not 0 <= cy < canvas.height:
                    continue
                cell = cells.setdefault((cx, cy), [0, style])
                cell[0] |= BRAILLE[y % 4][x % 2]
                cell[1] = style
        for (cx, cy), (bits, style) in cells.items():
            canvas.put(cx, cy, chr(0x2800 + bits), style)


def draw_network(columns: list[Column], layout: Layout, plain: bool, base: Style,
                 selected: tuple[int, int] | None) -> list[Strip]:
    canvas = Canvas(layout.width, layout.height, base)
    draw_links(canvas, layout, columns, plain, selected)
    bold = base + Style(bold=True)
    for c, col in enumerate(columns):
        x = layout.xs[c]
        canvas.put(x, 0, col.title[: layout.map_w + (layout.gaps[c][1] - layout.gaps[c][0] if c < len(columns) - 1
                                                     else 0)], bold)
        for i, top in enumerate(layout.tops[c]):
            on = not col.enabled or col.enabled[i]
            is_sel = selected == (c, i)
            if col.kind == "inputs":
                label = col.labels[i].rjust(layout.label_w)
                style = base + Style(reverse=is_sel, bold=is_sel, dim=not on and not is_sel)
                canvas.put(x - layout.label_w - 1, top + (layout.map_h - 1) // 2, label, style)
            elif is_sel:
                canvas.put(x - 1, top + (layout.map_h - 1) // 2, "▶", bold)
            _draw_map(canvas, x, top, layout, col, i, plain, base, on)
    return canvas.strips()


def _draw_map(canvas: Canvas, x: int, top: int, layout: Layout, col: Column, i: int, plain: bool,
              base: Style, on: bool) -> None:
    w, h = layout.map_w, layout.map_h
    if col.grids is None:
        # Before a run: a neutral square (grey, or a dotted box without colour).
        style = base + Style(bgcolor=mapview.hex_colour(mapview.GREY)) if not plain else base + Style(dim=True)
        for r in range(h):
            canvas.put(x, top + r, (" " if not plain else "·") * w, style)
        return
    grid = col.grids[i]
    lo, hi = neuron_range(col, grid)
    if plain:
        small = network.resample(grid, h, w)
        for r, line in enumerate(network.ascii_lines(small, lo, hi)):
            canvas.put(x, top + r, line if on else "·" * w, base if on else base + Style(dim=True))
        return
    small = network.resample(grid, 2 * h, w)
    for r, pieces in enumerate(network.halfblock_rows(small, lo, hi)):
        cx = x
        for text, style in pieces:
            canvas.put(cx, top + r, text, base + style + Style(dim=not on))
            cx += len(text)


# -- the widget ----------------------------------------------------------------------------------
class NetworkView(ScrollView, can_focus=True):
    """The drawn network with a selection; scrolls when it doesn't fit."""

    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("space", "toggle_feature", "Feature on/off", tooltip="switch the selected input feature on or off"),
        Binding("escape", "clear", "Output map", tooltip="leave the neuron: the map shows the output again"),
    ]

    @dataclass
    class Selected(Message):
        """The selection moved: ``where`` is (column, neuron), or None for "the output map again"."""

        where: tuple[int, int] | None

    @dataclass
    class FeatureToggled(Message):
        key: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.columns: list[Column] = []
        self.plain = False
        self.selected: tuple[int, int] | None = None
        self._by_mouse = False
        self.layout_info: Layout | None = None
        self._strips: list[Strip] = []
        self._dirty = True
        self.draws = 0

    # -- data ------------------------------------------------------------------------------
    def show(self, columns: list[Column], plain: bool) -> None:
        if [c.size for c in columns] != [c.size for c in self.columns]:
            self._set_selected(None)
        self.columns, self.plain = columns, plain
        self._dirty = True
        self.refresh()

    def _ensure(self) -> None:
        if not self._dirty and self.layout_info is not None:
            return
        self._dirty = False
        width, height = self.size
        if not self.columns or width <= 0 or height <= 0:
            self.layout_info, self._strips = None, []
            if self.virtual_size != Size(width, height):
                self.virtual_size = Size(width, height)
            return
        counts = [c.size for c in self.columns]
        # The whole region, as if no scrollbar were shown; then room for the scrollbars it needs.
        width, height = self.region.width or width, self.region.height or height
        layout = compute_layout(counts, width, height)
        if layout.height > height:
            layout = compute_layout(counts, width - 1, height)
        if layout.width > width - (layout.height > height):
            layout = compute_layout(counts, width - (layout.height > height), height - 1)
        self.layout_info = layout
        self._strips = draw_network(self.columns, layout, self.plain, self.rich_style, self.selected)
        if self.virtual_size != Size(layout.width, layout.height):
            self.virtual_size = Size(layout.width, layout.height)
        self.draws += 1

    def on_resize(self, event: events.Resize) -> None:
        self._dirty = True
        self._ensure()  # the canvas size decides the scrollbars: know it before the next frame

    def render_line(self, y: int) -> Strip:
        self._ensure()
        sx, sy = self.scroll_offset
        row = y + sy
        width = self.size.width
        if 0 <= row < len(self._strips):
            return self._strips[row].crop(sx, sx + width).extend_cell_length(width, self.rich_style)
        return Strip.blank(width, self.rich_style)

    # -- selection -------------------------------------------------------------------------
    def _set_selected(self, where: tuple[int, int] | None, by_mouse: bool = False) -> None:
        if where == self.selected:
            return
        self.selected, self._by_mouse = where, by_mouse
        self._dirty = True
        self.refresh()
        self.post_message(self.Selected(where))
        layout = self.layout_info
        if where is not None and layout is not None:
            c, i = where
            left = layout.xs[c] - (layout.label_w + 1 if c == 0 else 1)
            self.scroll_to_region(Region(left, layout.tops[c][i] - 1, layout.map_w + layout.label_w + 2,
                                         layout.map_h + 2), animate=False)

    def action_move(self, dx: int, dy: int) -> None:
        if not self.columns:
            return
        if self.selected is None:
            # First key: the first input in use (the playground's top-left node).
            first = self.columns[0]
            start = next((i for i, on in enumerate(first.enabled) if on), 0)
            self._set_selected((0, start))
            return
        c, i = self.selected
        if dx:
            c2 = max(0, min(len(self.columns) - 1, c + dx))
            if c2 != c:
                # Keep the same height on screen: the neuron nearest the current one's row.
                layout = self.layout_info
                if layout is not None:
                    y = layout.tops[c][i]
                    i = min(range(self.columns[c2].size), key=lambda k: abs(layout.tops[c2][k] - y))
                else:
                    i = min(i, self.columns[c2].size - 1)
                c = c2
        else:
            i = max(0, min(self.columns[c].size - 1, i + dy))
        self._set_selected((c, i))

    def action_clear(self) -> None:
        self._set_selected(None)

    def action_toggle_feature(self) -> None:
        if self.selected is None or self.selected[0] != 0 or not self.columns:
            self.app.notify("Select a feature input (the left column) to switch it on or off.")
            return
        self.post_message(self.FeatureToggled(self.columns[0].keys[self.selected[1]]))

    def on_blur(self) -> None:
        # Leaving the panel leaves the neuron, except for the predict box, which asks about it.
        focused = self.screen.focused
        if focused is None or focused.id != "predict-input":
            self._set_selected(None)

    def _hit(self, event: events.MouseEvent) -> tuple[int, int] | None:
        layout = self.layout_info
        if layout is None:
            return None
        sx, sy = self.scroll_offset
        return layout.hit(event.x + sx, event.y + sy)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        hit = self._hit(event)
        if hit is not None:
            self._set_selected(hit, by_mouse=True)
        elif self._by_mouse:
            self._set_selected(None)

    def on_leave(self, event: events.Leave) -> None:
        if self._by_mouse:
            self._set_selected(None)

    def on_click(self, event: events.Click) -> None:
        hit = self._hit(event)
        if hit is None:
            return
        was = self.selected
        self.focus()
        self._set_selected(hit, by_mouse=True)
        if was == hit and hit[0] == 0:
            self.action_toggle_feature()


class NetworkPanel(Vertical):
    """The network view, its inspector line, and (for image data) the weight images."""

    def compose(self) -> ComposeResult:
        yield Static("", id="network-title")
        yield NetworkView(id="network-view")
        yield Static("", id="network-inspector")
        with VerticalScroll(id="network-images-scroll"):
            yield Static("", id="network-images")

    def set_mode(self, images: bool) -> None:
        self.query_one("#network-view").display = not images
        self.query_one("#network-inspector").display = not images
        self.query_one("#network-images-scroll").display = images

    def set_title(self, text: str) -> None:
        title = self.query_one("#network-title", Static)
        if getattr(title, "text", None) != text:
            title.text = text
            title.update(literal(text), layout=False)  # layer and column names: user text

    def set_inspector(self, text: Text) -> None:
        self.query_one("#network-inspector", Static).update(text)

    def show_images(self, content: Text) -> None:
        self.query_one("#network-images", Static).update(content)


# -- the inspector's words -----------------------------------------------------------------------
def describe(columns: list[Column], where: tuple[int, int], point: tuple[float, float] | None,
             event: NetworkUpdated | None, features: tuple[str, ...]) -> Text:
    """What the inspector says about one neuron: kind, bias, incoming weights, value at the point."""
    import numpy as np

    c, i = where
    col = columns[c]
    out = Text(no_wrap=False)
    if col.kind == "inputs":
        key = col.keys[i]
        state = "on" if col.enabled[i] else "off"
        out.append(f"input {col.labels[i]}", "bold")
        out.append(f" · {state} · space: switch {'off' if state == 'on' else 'on'}")
        if point is not None:
            value = float(expand_features(np.array([point]), (key,))[0, 0])
            out.append(f"\nat ({point[0]:g}, {point[1]:g}): {value:+.4f}")
        else:
            out.append("\nF4: type a point to see its value there")
        return out
    role = "output" if c == len(columns) - 1 else f"hidden {c}"
    name = col.layer.name if col.layer is not None else f"layer {c}"
    out.append(f"{name} #{col.labels[i]} ({role})", "bold")
    out.append(f" · {col.activation}")
    if col.biases is not None:
        out.append(f" · bias {col.biases[i]:+.3f}")
    # The value at the point before the weights: a 16-input neuron's weights may be cut at the bottom.
    if event is not None and point is not None and col.layer is not None:
        x = expand_features(np.array([point]), features)[0]
        values = network.forward_point(event, x)
        layer_index = next((k for k, layer in enumerate(event.layers) if layer is col.layer), len(values))
        if layer_index < len(values):
            out.append(f"\nat ({point[0]:g}, {point[1]:g}): {values[layer_index][i]:+.4f}")
    elif point is None and col.weights is not None:
        out.append("\nF4: type a point to see its value there")
    if col.weights is not None:
        sources = columns[c - 1].labels
        parts = [(sources[k], float(col.weights[k, i])) for k in range(len(sources))
                 if np.isfinite(col.weights[k, i])]
        out.append("\nin:")
        for label, w in parts:
            out.append(f" {label}")
            out.append(f"{w:+.2f}", "" if not w else ("#f59322" if w < 0 else "#0877bd"))
    else:
        out.append("\nno weights yet: F5 trains the network")
    return out
