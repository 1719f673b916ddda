"""The network view's data: what every neuron computes, and how to draw it small.

TensorFlow Playground draws, inside every neuron, a heatmap of that neuron's
output over the input plane.  ``snapshot`` asks the backend for every layer's
output over a grid of points in *one* forward pass (``Backend.activations``)
and packs it, with the weights, into a ``NetworkUpdated`` event that any face
can draw: the headless printer (``--show-network``), JSON lines, the app.

Colour scales, per neuron (the playground clamps everything to [-1, 1]; we
knowingly differ where that would hide the picture):

* tanh neurons: [-1, 1], exactly like the output map;
* sigmoid neurons: [0, 1] (0.5 is the grey middle), as the output map reads a
  sigmoid output;
* inputs, relu, linear and softmax neurons: symmetric around 0 up to the
  neuron's own largest |value| on the grid, so X1 (which spans [-6, 6]) is a
  smooth ramp rather than a hard edge and an unbounded relu still shows its
  shape.

For image data there are no grids: the first dense layer's incoming weights of
a few neurons (when it reads the pixels directly) and the conv kernels are
carried instead, and drawn as small images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from tui_trainer.backends import Backend
from tui_trainer.backends.base import layer_names
from tui_trainer.core import mapview
from tui_trainer.core.config import FEATURE_LABELS
from tui_trainer.core.events import NetworkUpdated, NeuronLayer
from tui_trainer.core.layers import LayerSpec
from tui_trainer.data.datasets import Dataset, expand_features, grid_points

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: First-dense-layer neurons whose incoming weights an image run carries.
MAX_IMAGE_NEURONS = 16
#: Conv filters per layer an image run carries (the kernels are tiny; the count can be 64+).
MAX_FILTERS = 32
#: Weight matrices at most this big (inputs x units) are printed whole by the headless face.
MAX_PRINTED_WEIGHTS = 64


# -- the snapshot -----------------------------------------------------------------------------
def neuron_labels(spec: LayerSpec, count: int) -> tuple[str, ...]:
    if spec.output and count == 1:
        return ("out",)
    return tuple(str(i + 1) for i in range(count))


def snapshot(backend: Backend, specs: list[LayerSpec], dataset: Dataset, shape: tuple[int, int],
             epoch: int) -> tuple[NetworkUpdated, np.ndarray | None]:
    """The network view's event, and the model's raw outputs over the grid (2-D data) or None.

    The outputs come from the same forward pass, so a face that wants the
    output map too gets it for free when its grid has the same shape.
    """
    import numpy as np

    names = layer_names(specs)
    weights = backend.weights()
    if dataset.is_2d:
        rows, cols = shape
        extent = dataset.extent
        x = expand_features(grid_points(rows, cols, extent), dataset.features)
        acts = backend.activations(x)
        layers = [NeuronLayer(
            name="inputs", kind="inputs", activation="",
            labels=tuple(FEATURE_LABELS.get(f, f) for f in dataset.features),
            grids=np.ascontiguousarray(x.T.reshape(-1, rows, cols), dtype=np.float32),
        )]
        for spec, name, out, wb in zip(specs, names, acts, weights, strict=True):
            if spec.kind != "dense" or wb is None:
                continue  # dropout is the identity at inference; 2-D nets have nothing else
            grids = np.asarray(out, np.float32).T.reshape(spec.units, rows, cols)
            layers.append(NeuronLayer(name=name, kind="dense", activation=spec.activation,
                                      labels=neuron_labels(spec, spec.units), grids=np.ascontiguousarray(grids),
                                      weights=np.asarray(wb[0], np.float32), biases=np.asarray(wb[1], np.float32)))
        return NetworkUpdated(epoch=epoch, layers=tuple(layers), extent=extent), acts[-1]
    layers = []
    first_dense = True
    for i, (spec, name, wb) in enumerate(zip(specs, names, weights, strict=True)):
        if wb is None:
            continue
        kernel, bias = np.asarray(wb[0], np.float32), np.asarray(wb[1], np.float32)
        if spec.kind == "conv2d":
            n = min(spec.filters, MAX_FILTERS)
            layers.append(NeuronLayer(name=name, kind="conv2d", activation=spec.activation,
                                      labels=tuple(str(j + 1) for j in range(n)),
                                      weights=kernel[..., :n], biases=bias[:n]))
        elif spec.kind == "dense" and first_dense:
            first_dense = False
            reads_pixels = all(s.kind in ("flatten", "dropout") for s in specs[:i])
            if not reads_pixels:
                continue  # after convolutions its weights are over feature maps, not pixels
            n = min(spec.units, MAX_IMAGE_NEURONS)
            layers.append(NeuronLayer(name=name, kind="dense", activation=spec.activation,
                                      labels=neuron_labels(spec, spec.units)[:n],
                                      weights=kernel[:, :n], biases=bias[:n]))
    return NetworkUpdated(epoch=epoch, layers=tuple(layers), image_shape=dataset.image_shape), None


# -- colour scales and small maps -------------------------------------------------------------
def value_range(layer: NeuronLayer, grid: np.ndarray) -> tuple[float, float]:
    """The colour scale of one neuron's map (see the module docstring)."""
    import numpy as np

    if layer.activation == "tanh":
        return -1.0, 1.0
    if layer.activation == "sigmoid":
        return 0.0, 1.0
    finite = grid[np.isfinite(grid)]
    m = float(np.max(np.abs(finite))) if finite.size else 1.0
    m = max(m, 1e-6)
    return -m, m


def weight_range(weights: np.ndarray) -> tuple[float, float]:
    import numpy as np

    finite = weights[np.isfinite(weights)]
    m = max(float(np.max(np.abs(finite))) if finite.size else 1.0, 1e-6)
    return -m, m


def resample(grid: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Nearest cell-centre sampling of a (R, C) grid to (rows, cols): cheap, and exact when sizes agree."""
    import numpy as np

    r_in, c_in = grid.shape
    if (r_in, c_in) == (rows, cols):
        return grid
    ri = np.minimum(((np.arange(rows) + 0.5) * r_in / rows).astype(int), r_in - 1)
    ci = np.minimum(((np.arange(cols) + 0.5) * c_in / cols).astype(int), c_in - 1)
    return grid[np.ix_(ri, ci)]


def steps(grid: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Palette steps (0 = orange end, middle = grey, last = blue) for a whole grid; NaN is grey."""
    import numpy as np

    finite = np.isfinite(grid)
    clipped = np.clip(np.where(finite, grid, (lo + hi) / 2), lo, hi).astype(np.float64)
    out = np.rint((clipped - lo) / (hi - lo) * (mapview.STEPS - 1)).astype(np.int64)
    out[~finite] = (mapview.STEPS - 1) // 2
    return out


def ascii_lines(grid: np.ndarray, lo: float, hi: float) -> list[str]:
    """One shading character per cell (``mapview.ascii_shade``), for NO_COLOR and pipes."""
    return ["".join(mapview.ascii_shade(float(v), lo, hi) for v in row) for row in grid]


def halfblock_rows(grid: np.ndarray, lo: float, hi: float) -> list[list[tuple[str, Style]]]:
    """Two grid rows per text row: ``▀`` in the top cell's colour on the bottom cell's colour.

    Runs of equal cells are merged, so a row is a handful of (text, style) pieces.
    """
    import numpy as np

    s = steps(grid, lo, hi)
    if s.shape[0] % 2:
        s = np.vstack([s, s[-1:]])
    out = []
    for r in range(0, s.shape[0], 2):
        top, bottom = s[r].tolist(), s[r + 1].tolist()
        pieces: list[tuple[str, Style]] = []
        start = 0
        for c in range(1, len(top) + 1):
            if c == len(top) or top[c] != top[start] or bottom[c] != bottom[start]:
                pieces.append(("▀" * (c - start), _half_style(top[start], bottom[start])))
                start = c
        out.append(pieces)
    return out


_STYLES: dict[tuple[int, int], Style] = {}


def _half_style(top: int, bottom: int) -> Style:
    style = _STYLES.get((top, bottom))
    if style is None:
        style = Style(color=mapview.hex_colour(mapview.palette_rgb(top)),
                      bgcolor=mapview.hex_colour(mapview.palette_rgb(bottom)))
        _STYLES[(top, bottom)] = style
    return style


def halfblock_text(grid: np.ndarray, lo: float, hi: float) -> list[Text]:
    lines = []
    for pieces in halfblock_rows(grid, lo, hi):
        line = Text(no_wrap=True, overflow="crop")
        for text, style in pieces:
            line.append(text, style)
        lines.append(line)
    return lines


def weight_colour(value: float, scale: float) -> str:
    """A weight as the playground colours links: orange negative, blue positive, paler = weaker."""
    return mapview.hex_colour(mapview.palette_rgb(mapview.value_step(value, -scale, scale)))


# -- one point through the network (the inspector's "value at the predict-box point") ----------
def forward_point(event: NetworkUpdated, features: np.ndarray) -> list[np.ndarray]:
    """Every neuron's value for one input (already expanded into features), from the event's weights.

    The same arithmetic as the model's dense layers, in numpy, so the app can
    answer "what does this neuron say at (x1, x2)?" without waiting for the
    training thread.  Layer 0 is the input itself.
    """
    import numpy as np

    h = np.asarray(features, np.float64).reshape(-1)
    outs = [h]
    for layer in event.layers[1:]:
        if layer.kind != "dense" or layer.weights is None or layer.biases is None:
            break
        h = _activate(h @ layer.weights.astype(np.float64) + layer.biases.astype(np.float64), layer.activation)
        outs.append(h)
    return outs


def _activate(z: np.ndarray, name: str) -> np.ndarray:
    import numpy as np

    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "softmax":
        e = np.exp(z - np.max(z))
        return e / e.sum()
    return z


# -- text for the headless face ------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """One small picture with a caption, to be laid side by side with others."""

    caption: str
    lines: list[Text] | list[str]
    width: int


def layer_title(layer: NeuronLayer, index: int, count: int) -> str:
    if layer.kind == "inputs":
        return f"inputs ({len(layer.labels)} features)"
    units = len(layer.biases) if layer.biases is not None else len(layer.labels)
    if layer.kind == "conv2d":
        return f"{layer.name} (conv, {units} filters shown, {layer.activation})"
    if layer.grids is None:
        return f"{layer.name} (first dense layer, {units} neurons shown, {layer.activation})"
    role = "output" if index == count - 1 else f"hidden {index}"
    return f"{layer.name} ({role}, {units} × {layer.activation})"


def neuron_tiles(layer: NeuronLayer, color: bool) -> list[Tile]:
    """Each neuron's map of a 2-D network as a tile: caption (label and bias) over the picture."""
    tiles: list[Tile] = []
    if layer.grids is None:  # a layer drawn as pictures (image_tiles), not maps
        return tiles
    for i, label in enumerate(layer.labels):
        grid = layer.grids[i]
        lo, hi = value_range(layer, grid)
        lines = halfblock_text(grid, lo, hi) if color else ascii_lines(grid, lo, hi)
        caption = label if layer.biases is None else f"{label} b{layer.biases[i]:+.2f}"
        tiles.append(Tile(caption, lines, grid.shape[1]))
    return tiles


def image_tiles(event: NetworkUpdated, layer: NeuronLayer, color: bool, size: int = 14) -> list[Tile]:
    """Conv kernels (mean over input channels) or first-dense weights reshaped to the image, as tiles."""
    import numpy as np

    tiles: list[Tile] = []
    w = layer.weights
    if w is None:  # a layer without weights (flatten, dropout) has nothing to picture
        return tiles
    if layer.kind == "conv2d":
        pictures = [w[..., j].mean(axis=-1) for j in range(w.shape[-1])]
    else:
        h, wd = (event.image_shape or (int(np.sqrt(w.shape[0])),) * 2)[:2]
        channels = w.shape[0] // (h * wd) if h * wd else 1
        pictures = [w[:, j].reshape(h, wd, channels).mean(axis=-1) for j in range(w.shape[1])]
    for label, picture in zip(layer.labels, pictures, strict=False):
        lo, hi = weight_range(picture)
        picture = downsample(picture, size)
        if max(picture.shape) < 6:  # a 3x3 kernel: two cells per weight so it can be seen
            picture = np.kron(picture, np.ones((2, 2)))
        lines: list[Text] | list[str]
        if color:
            lines = halfblock_text(picture, lo, hi)
        elif picture.shape[0] > 8:  # two rows per line, as the half blocks do
            rows = picture.shape[0] // 2 * 2
            lines = ascii_lines(picture[:rows].reshape(-1, 2, picture.shape[1]).mean(axis=1), lo, hi)
        else:
            lines = ascii_lines(picture, lo, hi)
        tiles.append(Tile(label, lines, picture.shape[1]))
    return tiles


def downsample(img: np.ndarray, limit: int) -> np.ndarray:
    """Block-average an (h, w) picture so its larger side is at most ``limit``."""
    import numpy as np

    h, w = img.shape
    f = max(1, int(np.ceil(max(h, w) / limit)))
    if f == 1:
        return img
    h2, w2 = h // f * f, w // f * f
    return img[:h2, :w2].reshape(h2 // f, f, w2 // f, f).mean(axis=(1, 3))


def tile_rows(tiles: list[Tile], width: int, gap: int = 2) -> list[Text]:
    """Tiles side by side, wrapped to ``width`` columns, captions above their pictures."""
    out: list[Text] = []
    if not tiles:
        return out
    cell = max(max(t.width for t in tiles), max(len(t.caption) for t in tiles)) + gap
    per_row = max(1, (width + gap) // cell)
    for start in range(0, len(tiles), per_row):
        group = tiles[start:start + per_row]
        caption = Text(no_wrap=True)
        for t in group:
            caption.append(t.caption[: cell - gap].ljust(cell), "bold")
        out.append(caption)
        for n in range(max(len(t.lines) for t in group)):
            line = Text(no_wrap=True)
            for t in group:
                piece = t.lines[n] if n < len(t.lines) else " " * t.width
                line.append_text(piece if isinstance(piece, Text) else Text(piece))
                line.append(" " * (cell - t.width))
            out.append(line)
    return out


def weight_lines(layer: NeuronLayer, sources: tuple[str, ...]) -> list[str]:
    """The incoming weights as a small matrix (rows: from, columns: to), or a summary when big."""
    import numpy as np

    w = layer.weights
    if w is None:
        return []
    if w.size > MAX_PRINTED_WEIGHTS:
        finite = np.abs(w[np.isfinite(w)])
        big = float(finite.max()) if finite.size else float("nan")
        mean = float(finite.mean()) if finite.size else float("nan")
        return [f"weights in: {w.shape[0]}×{w.shape[1]}, |w| mean {mean:.2f}, max {big:.2f} (--json has them all)"]
    head = max(6, *(len(s) for s in sources))
    lines = ["weights in (rows: from, columns: to):",
             " " * head + "".join(f"{label:>8}" for label in layer.labels)]
    for source, row in zip(sources, w, strict=True):
        lines.append(f"{source:>{head}}" + "".join(f"{v:>+8.3f}" for v in row))
    return lines


def network_text(event: NetworkUpdated, color: bool, width: int = 100) -> list[Text]:
    """The whole network as text, layer by layer: neuron maps (2-D data) or weight images (images)."""
    out: list[Text] = []
    count = len(event.layers)
    sources: tuple[str, ...] = ()
    for index, layer in enumerate(event.layers):
        out.append(Text(""))
        out.append(Text(layer_title(layer, index, count), "bold"))
        if layer.grids is not None:
            out.extend(tile_rows(neuron_tiles(layer, color), width))
            if layer.kind != "inputs":
                out.extend(Text(line) for line in weight_lines(layer, sources))
            sources = layer.labels if index == 0 else tuple(f"{layer.name}:{lab}" for lab in layer.labels)
        elif layer.weights is not None:
            what = "filters (mean over input channels)" if layer.kind == "conv2d" else (
                "incoming weights of the first neurons, as images")
            out.append(Text(what + "; orange negative, blue positive" if color else
                            what + "; '=' '-' negative, '+' '#' positive"))
            out.extend(tile_rows(image_tiles(event, layer, color), width))
    return out


def legend(color: bool, extent: tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0)) -> str:
    x_lo, x_hi, y_lo, y_hi = extent
    where = ("[-6, 6]^2" if extent == (-6.0, 6.0, -6.0, 6.0) else f"[{x_lo:g}, {x_hi:g}] x [{y_lo:g}, {y_hi:g}]")
    if color:
        return (f"each map: the neuron's output over {where} (x1 across, x2 up); orange = negative, "
                "blue = positive; tanh on [-1, 1], sigmoid on [0, 1], others scaled to their own |max|")
    return (f"each map: the neuron's output over {where} (x1 across, x2 up); '=' '-' negative, "
            "'.' ' ' near 0, '+' '#' positive")
