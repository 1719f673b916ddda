"""The live loss (or accuracy) curve, drawn by plotext through textual-plotext.

Plotext keeps global-ish figure state and is not thread-safe, so the figure is
only ever built here, on the UI thread, when the app's flush timer says the
history changed (at most ~10 times a second), never per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Checkbox, Label, Static

from tui_trainer.app.forms import Flag
from tui_trainer.app.state import MAX_PLOT_POINTS, thin
from tui_trainer.core.events import EpochEnded


def _series(history: Sequence[EpochEnded], name: str, limit: int) -> tuple[list[int], list[float]]:
    """Epochs and finite values of one metric, thinned to ``limit`` points for long runs."""
    xs, ys = [], []
    for i in thin(len(history), limit):
        event = history[int(i)]
        value = getattr(event, name)
        if value is not None and math.isfinite(value):
            xs.append(event.epoch)
            ys.append(float(value))
    return xs, ys


def epoch_ticks(first: int, last: int, width: int) -> list[int]:
    """Whole-epoch ticks from ``first`` to ``last``, a round step apart (1, 2, 5, 10, 20, 50, ...).

    As many as fit ``width`` columns with room for their labels (about one per 8
    columns); plotext's own ticks divide the range evenly and give 259.8.  The
    first epoch is a tick too unless the next one is close to it.
    """
    if last <= first:
        return [first]
    most = max(2, width // 8)
    step = 1
    while (last - first) / step > most:
        step = _next_step(step)
    ticks = list(range(-(-first // step) * step, last + 1, step))
    if not ticks or ticks[0] - first > step / 2:
        ticks.insert(0, first)
    return ticks


def _next_step(step: int) -> int:
    """1 → 2 → 5 → 10 → 20 → 50 → 100 ..."""
    digits = str(step)
    lead, zeros = int(digits[0]), len(digits) - 1
    return {1: 2, 2: 5, 5: 10}[lead] * 10**zeros


class LossPlot(Vertical):
    """Train and validation curves with toggles for accuracy and log scale."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._history: Sequence[EpochEnded] = ()
        self._regression = False
        self._dirty = True
        #: How many times the plot was rebuilt; tests and the benchmark read it.
        self.draws = 0
        self.points_drawn = 0
        self._title = ""
        #: What an empty plot says (the app changes it while a run is starting).
        self.placeholder = "no epochs yet: press F5 to train"
        #: The curves are an earlier run's and the form has changed since (labelled so).
        self.stale = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="plot-toggles"):
            yield Label("", id="plot-title")
            yield Flag("acc", id="plot-acc", tooltip="plot accuracy (MAE for regression)")
            yield Flag("log", id="plot-log", tooltip="logarithmic y axis")
        # The plot itself comes right after the first frame: importing plotext would hold that up ~25 ms.
        yield Static(self.placeholder, id="plot-waiting")

    def on_mount(self) -> None:
        self.app.call_after_refresh(self._mount_plot)

    def _mount_plot(self) -> None:
        from textual_plotext import PlotextPlot

        if not self.is_attached:
            return
        plot = PlotextPlot(id="plot")
        # No plotext background: the widget's own shows through, and the ANSI text Textual has
        # to parse on every redraw is a third as long.
        plot.theme = "clear"
        waiting = self.query_one("#plot-waiting")
        self.mount(plot, after=waiting)
        waiting.remove()
        self._dirty = True
        self.redraw()

    @property
    def show_metric(self) -> bool:
        return self.query_one("#plot-acc", Checkbox).value

    @property
    def log_scale(self) -> bool:
        return self.query_one("#plot-log", Checkbox).value

    def set_history(self, history: Sequence[EpochEnded], regression: bool, placeholder: str | None = None) -> None:
        """Point at a run's history; cheap, the drawing happens in ``redraw``."""
        self._history = history
        if placeholder is not None:
            self.placeholder = placeholder
        if regression != self._regression:
            self._regression = regression
            self.query_one("#plot-acc", Checkbox).label = "MAE" if regression else "acc"
        self._dirty = True

    def mark_dirty(self) -> None:
        self._dirty = True

    def set_stale(self, stale: bool) -> None:
        """Label the curves as the last run's once the form no longer matches it."""
        if stale != self.stale:
            self.stale = stale
            self._dirty = True

    @property
    def title(self) -> str:
        """What the plot shows now, e.g. ``loss`` or ``accuracy (log)``."""
        return self._title

    @property
    def pending(self) -> bool:
        """Data arrived that the governor has not let through yet."""
        return self._dirty

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._dirty = True
        self.redraw()

    def redraw(self) -> None:
        """Rebuild the figure if anything changed since the last time."""
        if not self._dirty:
            return
        from textual_plotext import PlotextPlot

        try:
            widget = self.query_one("#plot", PlotextPlot)
        except NoMatches:
            return  # not mounted yet (the first frame): drawn once it is
        self._dirty = False
        self.draws += 1
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        if self.show_metric:
            names = ("mae", "val_mae") if self._regression else ("acc", "val_acc")
            what = "MAE" if self._regression else "accuracy"
        else:
            names = ("loss", "val_loss")
            what = "loss"
        # More points than braille dots across the plot only cost time: thin to what shows.
        limit = max(50, min(MAX_PLOT_POINTS, 2 * widget.size.width))
        train_x, train_y = _series(self._history, names[0], limit)
        val_x, val_y = _series(self._history, names[1], limit)
        self.points_drawn = len(train_x) + len(val_x)
        log = self.log_scale and all(v > 0 for v in train_y + val_y)
        title = what + (" (log)" if log else "") + (" · last run" if self.stale else "")
        if title != self._title:
            self._title = title
            self.query_one("#plot-title", Label).update(title, layout=False)
        if train_x:
            # Distinct markers too, so the two lines stay apart without colour (NO_COLOR).
            plt.plot(train_x, train_y, label=f"train {what}", color="orange", marker="braille")
            plt.plot(val_x, val_y, label=f"val {what}", color="blue+", marker="dot")
        else:
            plt.title(self.placeholder)
        if log:
            plt.yscale("log")
        epochs = train_x + val_x
        if epochs:
            ticks = epoch_ticks(min(epochs), max(epochs), widget.size.width - 8)
            plt.xticks(ticks, [str(t) for t in ticks])
        plt.xlabel("epoch")
        widget.refresh()
