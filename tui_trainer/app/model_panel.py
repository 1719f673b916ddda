"""The model panel: layers and parameter count, and a box to ask the model about a point.

Before a run the summary comes from ``layers.build_specs``, which knows shapes
and parameter counts without importing a framework, so the panel is right the
moment the form changes; once a run starts it shows what the framework built.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from tui_trainer.app.forms import FormInput
from tui_trainer.app.safe import literal
from tui_trainer.backends.base import summary_from_specs
from tui_trainer.core.config import IMAGE_DATASETS, Config
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.events import ModelSummary
from tui_trainer.core.layers import build_specs, count_params
from tui_trainer.data.datasets import Dataset

#: Input shapes of the image datasets, known before their data is loaded.
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1)}


def planned_summary(cfg: Config, dataset: Dataset | None) -> ModelSummary | str:
    """The network the config will build, or why it can't be built (a one-line reason)."""
    if dataset is not None:
        input_shape, n_outputs, task = dataset.input_shape, dataset.n_outputs, dataset.task
    elif cfg.data.dataset in IMAGE_DATASETS:
        input_shape, n_outputs, task = IMAGE_SHAPES[cfg.data.dataset], 10, "multiclass"
    elif cfg.data.dataset == "file":
        return "the layer summary appears once the data file is read"
    else:
        input_shape, n_outputs, task = (len(cfg.data.features),), 1, cfg.task
    try:
        specs = build_specs(cfg, input_shape, n_outputs, task)
    except ConfigError as exc:
        return str(exc)
    device = cfg.train.device  # "auto" until a run picks one
    return summary_from_specs(specs, cfg.train.backend, device, count_params(specs), input_shape)


def parse_point(text: str) -> tuple[float, float] | str:
    """``x1, x2`` as two floats, or what is wrong with the text."""
    import numpy as np

    parts = [p for p in text.replace(",", " ").split() if p]
    if len(parts) != 2:
        return "type two numbers, x1 and x2, like: 1.5, -2"
    try:
        x1, x2 = float(parts[0]), float(parts[1])
    except ValueError:
        return f"{text.strip()!r} is not two numbers; type them like: 1.5, -2"
    if not (np.isfinite(x1) and np.isfinite(x2)):
        return "x1 and x2 must be finite numbers"
    return x1, x2


def describe_prediction(value: float, task: str, x1: float, x2: float) -> str:
    """The model's answer for one point, worded for people."""
    where = f"at ({x1:g}, {x2:g})"
    if task == "regression":
        return f"{where}: predicted value {value:.4f}"
    label = "+1 (blue)" if value >= 0 else "-1 (orange)"
    return f"{where}: class {label}, decision value {value:+.4f}"


def summary_table(summary: ModelSummary) -> Table:
    """The layers as a compact table (narrower than ``ModelSummary.lines`` for 80 columns)."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False)
    table.add_column("layer")
    table.add_column("output", justify="right")
    table.add_column("params", justify="right")
    table.add_row("input", "(" + ", ".join(map(str, summary.input_shape)) + ")", "", style="dim")
    for layer in summary.layers:
        table.add_row(layer.name, "(" + ", ".join(map(str, layer.output_shape)) + ")", f"{layer.params:,}")
    return table


class ModelPanel(Vertical):
    """Layer table, parameter count and the predict box."""

    @dataclass
    class PredictRequested(Message):
        text: str

    _width = 0
    _content: Group | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="model-scroll"):
            yield Static("", id="model-summary")
        yield Label("predict (x1, x2 then Enter):", id="predict-label")
        yield FormInput(placeholder="e.g. 1.5, -2", id="predict-input")
        yield Static("", id="predict-result")

    def show_summary(self, summary: ModelSummary | str, *, title: str, notes: tuple[str, ...] = ()) -> None:
        parts: list[object] = [Text(title, style="bold")]
        if isinstance(summary, str):
            parts.append(literal(summary, style="red"))
        else:
            parts.append(summary_table(summary))
            parts.append(Text(f"{summary.params:,} parameters · {summary.backend} · device {summary.device}"))
        parts.extend(literal(f"note: {note}", style="italic") for note in notes)
        self._content = Group(*parts)
        self._fit()

    def on_resize(self, event: events.Resize) -> None:
        if self._content is not None:
            self._fit()

    def _fit(self) -> None:
        """Show the summary with a height that fits its lines at the current width.

        The run's summary usually has as many lines as the planned one: then
        swapping them is a repaint.  Only a new height (another network, a new
        width) is worth a layout of the whole screen.
        """
        static = self.query_one("#model-summary", Static)
        content = self._content
        width = static.content_region.width or self._width
        if not width:
            static.update(content)  # never shown yet: let Textual size it
            return
        self._width = width
        console = self.app.console
        height = len(console.render_lines(content, console.options.update_width(width), pad=False))
        current = static.styles.height
        if current is None or current.value != height:
            static.styles.height = height
        static.update(content, layout=False)

    def show_result(self, text: str, ok: bool = True) -> None:
        result = self.query_one("#predict-result", Static)
        result.update(literal(text, style="" if ok else "red"))

    @on(Input.Submitted, "#predict-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.PredictRequested(event.value))
