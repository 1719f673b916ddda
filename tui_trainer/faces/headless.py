"""The headless face: whole lines on stdout, for people and CI logs.

It is one consumer of the event stream; colour only when stdout is a terminal
and ``NO_COLOR`` is unset, so logs never collect ANSI escapes.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import IO

from tui_trainer.core import mapview
from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    EpochProgress,
    Event,
    NetworkUpdated,
    RunFailed,
    RunFinished,
    RunStarted,
    event_json,
)
from tui_trainer.core.hooks import Face
from tui_trainer.core.progress import RunProgress
from tui_trainer.core.textsafe import printable
from tui_trainer.data.datasets import Dataset
from tui_trainer.engine import network

#: Map size in pixels: 48 × 48, drawn two pixels to a character cell (24 lines of 48 characters).
MAP_ROWS = 48
MAP_COLS = 48
#: Per-neuron map grids for ``--show-network``: half-block cells in colour (two grid rows per
#: line), one shade character per cell without; both print 8 lines of 16 characters per neuron.
NEURON_GRID_COLOR = (16, 16)
NEURON_GRID_PLAIN = (8, 16)
#: Width the neuron maps are wrapped to.
NETWORK_WIDTH = 100


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.5f}" if math.isfinite(value) else str(value)


class HeadlessPrinter(Face):
    """Prints one line per epoch, then a summary, the map and the class report.

    What the summary needs (the model, the last map, the class report) is the
    run's reducer, ``RunProgress``, fed every event before its hook runs.
    """

    def __init__(self, stream: IO[str] | None = None, *, color: bool | None = None,
                 dataset_getter=None, show_network: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.color = use_color(self.stream) if color is None else color
        self._dataset_getter = dataset_getter
        self.show_network = show_network
        self.run = RunProgress()
        self._console = None
        if self.color:
            from rich.console import Console

            self._console = Console(file=self.stream, force_terminal=True, highlight=False, soft_wrap=True)

    def _line(self, text: str = "") -> None:
        # Lines quote user text (file names, labels, notes): never let it carry escapes.
        self.stream.write(printable(text) + "\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        self.run(event)
        super().__call__(event)

    def on_run_started(self, event: RunStarted) -> None:
        cfg = event.config
        self._line(
            f"tui-trainer: {cfg.data.dataset} ({event.task}), {event.n_train} train / {event.n_val} validation samples, "
            f"{event.summary.params:,} params, {event.summary.backend} on {event.summary.device}"
        )
        # Notes go to stderr: stdout stays the header, the epoch lines and the summary, so a
        # script reading the epoch lines never meets "note: labels ..." between them.
        for note in event.notes:
            sys.stderr.write(f"note: {printable(note)}\n")
        sys.stderr.flush()

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self._line(event.line())

    def on_run_finished(self, event: RunFinished) -> None:
        self._summary(event)

    def on_run_failed(self, event: RunFailed) -> None:
        sys.stderr.write(f"tui-trainer: error: {printable(event.message)}\n")
        sys.stderr.flush()

    # -- the end-of-run summary ------------------------------------------------------------
    def _summary(self, done: RunFinished) -> None:
        self._line()
        self._line(f"finished: {done.reason} after {done.epochs_run} epochs in {done.seconds:.2f} s")
        final = done.final
        if final is not None:
            if final.acc is not None:
                self._line(f"final: val_loss {_fmt(final.val_loss)}, val_acc {_fmt(final.val_acc)} (epoch {final.epoch})")
            else:
                self._line(f"final: val_loss {_fmt(final.val_loss)}, val_mae {_fmt(final.val_mae)} (epoch {final.epoch})")
        if done.best_epoch:
            acc = f", val_acc {_fmt(done.best_val_acc)}" if done.best_val_acc is not None else ""
            self._line(f"best:  val_loss {_fmt(done.best_val_loss)}{acc} (epoch {done.best_epoch})")
        run = self.run
        if run.started is not None:
            self._line()
            for row in run.started.summary.lines():
                self._line(row)
        if run.boundary is not None:
            self._map(run.boundary)
        if self.show_network and run.network is not None:
            self._network(run.network)
        if run.class_report is not None:
            self._class_report(run.class_report)

    @property
    def network_shape(self) -> tuple[int, int]:
        """The per-neuron grid this printer draws best (see NEURON_GRID_*)."""
        return NEURON_GRID_COLOR if self.color else NEURON_GRID_PLAIN

    def _network(self, event: NetworkUpdated) -> None:
        self._line()
        self._line(f"the network, epoch {event.epoch}:")
        for text in network.network_text(event, self.color, NETWORK_WIDTH):
            if self.color and self._console is not None:
                self._console.print(text)
            else:
                self._line(text.plain.rstrip())
        if event.layers and event.layers[0].grids is not None:
            self._line(network.legend(self.color, event.extent))

    def _map_points(self) -> list[mapview.MapPoints]:
        ds: Dataset | None = self._dataset_getter() if self._dataset_getter else None
        if ds is None or ds.points_train is None:
            return []
        return [
            mapview.MapPoints(ds.points_train, ds.y_train.reshape(-1), "train"),
            mapview.MapPoints(ds.points_val, ds.y_val.reshape(-1), "val"),
        ]

    def _map(self, boundary: BoundaryUpdated) -> None:
        started = self.run.started
        regression = started is not None and started.task == "regression"
        values = boundary.values
        points = self._map_points()
        what = "predicted value" if regression else "decision boundary"
        extent, (across, up) = boundary.extent, boundary.axes
        self._line()
        self._line(f"{what} over {across} [{extent[0]:g}, {extent[1]:g}] x {up} [{extent[2]:g}, {extent[3]:g}] "
                   f"({across} across, {up} up), epoch {boundary.epoch}:")
        if self.color and self._console is not None:
            self._console.print(mapview.render_rich(values, points, regression=regression, extent=extent))
        else:
            border = "+" + "-" * values.shape[1] + "+"
            self._line(border)
            for row in mapview.render_ascii(values, points, regression=regression, extent=extent):
                self._line(f"|{row}|")
            self._line(border)
        self._line(mapview.legend(self.color, regression))

    def _class_report(self, report: ClassReport) -> None:
        names = [printable(n) for n in report.class_names]
        acc = report.per_class_accuracy
        support = report.confusion.sum(axis=1)
        self._line()
        if self.color and self._console is not None:
            from rich.table import Table
            from rich.text import Text

            names = [Text(n) for n in names]  # Text: class names are never read as markup
            table = Table(title="per-class accuracy (validation)")
            table.add_column("class")
            table.add_column("accuracy", justify="right")
            table.add_column("samples", justify="right")
            for name, a, n in zip(names, acc, support, strict=True):
                table.add_row(name, _fmt(a), str(int(n)))
            self._console.print(table)
            matrix = Table(title="confusion matrix (rows: true, columns: predicted)")
            matrix.add_column("")
            for name in names:
                matrix.add_column(name, justify="right")
            for name, row in zip(names, report.confusion, strict=True):
                matrix.add_row(name, *(str(int(v)) for v in row))
            self._console.print(matrix)
            return
        width = max(5, *(len(n) for n in names))
        self._line("per-class accuracy (validation):")
        self._line(f"{'class':<{width}}  {'accuracy':>8}  {'samples':>7}")
        for name, a, n in zip(names, acc, support, strict=True):
            self._line(f"{name:<{width}}  {_fmt(a):>8}  {int(n):>7}")
        self._line()
        self._line("confusion matrix (rows: true, columns: predicted):")
        cell = max(width, len(str(int(report.confusion.max()))) + 1)
        self._line(" " * width + "".join(f"{n:>{cell}}" for n in names))
        for name, row in zip(names, report.confusion, strict=True):
            self._line(f"{name:<{width}}" + "".join(f"{int(v):>{cell}}" for v in row))


#: Shortest time between two ``progress`` objects in --json output (seconds).
JSON_PROGRESS_EVERY = 1.0


class JsonLinesPrinter(Face):
    """One JSON object per event, one per line, flushed as it happens (``progress`` at most once a second)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._progress_at = -math.inf

    def on_progress(self, event: EpochProgress) -> None:
        now = time.monotonic()
        if now - self._progress_at >= JSON_PROGRESS_EVERY:
            self._progress_at = now
            self.on_event(event)

    def on_event(self, event: Event) -> None:
        self.stream.write(event_json(event) + "\n")
        self.stream.flush()
