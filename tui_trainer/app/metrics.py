"""The metrics table and the status line.

Both are redrawn from ``RunState`` by the app's flush timer, never per event:
the table only ever holds the latest epochs (newest first, so the current
numbers are visible even at 80×24) plus the best one.
"""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from tui_trainer.app.safe import literal
from tui_trainer.app.state import BACKEND_NAMES, RunState, fmt_duration, fmt_float
from tui_trainer.events import EpochEnded

#: Epochs in the table (plus the best one when it is older); the full history is in the plot.
#: Every row is rewritten on each update, so the table is kept to about what a screen shows.
TABLE_ROWS = 15


class MetricsTable(DataTable):
    """Latest epochs: loss, accuracy (or MAE), seconds; the best epoch starred.

    The ``TABLE_ROWS`` + 1 rows exist from the start and are rewritten in place,
    with fixed column widths: adding or removing rows makes Textual lay out the
    whole screen again, which a fast run must not pay several times a second.
    """

    WIDTHS = {"epoch": 5, "loss": 7, "acc": 5, "mae": 7, "val_loss": 8, "val_acc": 7, "val_mae": 7, "sec": 5}

    def __init__(self, *, show_timings: bool = True, **kwargs: object) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, **kwargs)
        self.show_timings = show_timings
        self._regression: bool | None = None
        self._shown: tuple[int, int, int] | None = None
        self._rows = 0
        self._filled = 0

    def on_mount(self) -> None:
        self._set_columns(regression=False)

    def _set_columns(self, regression: bool) -> None:
        if regression == self._regression:
            return
        self._regression = regression
        self.clear(columns=True)
        self._rows = self._filled = 0
        self._shown = None
        metric = "mae" if regression else "acc"
        columns = ["epoch", "loss", metric, "val_loss", f"val_{metric}"]
        if self.show_timings:
            columns.append("sec")
        for name in columns:
            self.add_column(Text(name, justify="right"), key=name, width=self.WIDTHS[name])
        # All rows up front, blank: a run then only rewrites cells and never relayouts the screen.
        blank = [Text("")] * len(columns)
        for _ in range(TABLE_ROWS + 1):
            self.add_row(*blank)
        self._rows = TABLE_ROWS + 1

    def _cells(self, event: EpochEnded, best: bool) -> list[Text]:
        regression = bool(self._regression)
        metric, val_metric = (event.mae, event.val_mae) if regression else (event.acc, event.val_acc)
        style = "bold" if best else ""
        digits = 4 if regression else 3
        cells = [
            Text(f"{'★' if best else ''}{event.epoch}", style=style, justify="right"),
            Text(fmt_float(event.loss), style=style, justify="right"),
            Text(fmt_float(metric, digits), style=style, justify="right"),
            Text(fmt_float(event.val_loss), style=style, justify="right"),
            Text(fmt_float(val_metric, digits), style=style, justify="right"),
        ]
        if self.show_timings:
            cells.append(Text(f"{event.seconds:.3f}", style="dim", justify="right"))
        return cells

    def _write(self, rows: list[list[Text]]) -> None:
        """Put ``rows`` at the top and blank what is left of the last ones; add rows only when short."""
        blank = [Text("")] * len(self.columns)
        for r in range(max(len(rows), self._filled)):
            cells = rows[r] if r < len(rows) else blank
            if r >= self._rows:
                self.add_row(*cells)
                self._rows += 1
            else:
                for c, cell in enumerate(cells):
                    self.update_cell_at(Coordinate(r, c), cell)
        self._filled = len(rows)

    def pending(self, run: RunState | None) -> bool:
        """Whether the run has epochs the table has not shown yet."""
        return run is not None and self._key(run) != self._shown

    @staticmethod
    def _key(run: RunState) -> tuple[int, int, int]:
        return run.run_id, len(run.epochs), run.best.epoch if run.best else 0

    def show(self, run: RunState | None) -> None:
        """Rewrite the table from the run, if it has news since the last time."""
        self._set_columns(run.regression if run is not None else False)
        if run is None:
            if self._filled:
                self._write([])
            self._shown = None
            return
        best_epoch = run.best.epoch if run.best else 0
        key = self._key(run)
        if key == self._shown:
            return
        self._shown = key
        latest = run.epochs[-TABLE_ROWS:][::-1]
        rows = [self._cells(event, event.epoch == best_epoch) for event in latest]
        if run.best is not None and all(e.epoch != best_epoch for e in latest):
            rows.append(self._cells(run.best, True))
        self._write(rows)


class StatusLine(Static):
    """idle/running/paused/finished, epoch x/N, elapsed, ETA, backend, device, parameters."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)
        self._last: Text | None = None
        self.plain_text = ""

    def update(self, content: object = "", *, layout: bool = True) -> None:
        self.plain_text = content.plain if isinstance(content, Text) else str(content)
        super().update(content, layout=layout)

    def show(self, *, run: RunState | None, now: float, show_timings: bool, backend: str, loading: str | None,
             params: int | None, preset: str | None, note: tuple[str, bool] | None) -> None:
        """Compose the line; ``note`` is (text, is_error), shown right after the state."""
        parts: list[tuple[str, str]] = []
        if run is None:
            parts.append(("idle", "bold"))
        else:
            phase = run.phase()
            style = {"running": "bold green", "paused": "bold yellow", "failed": "bold red"}.get(phase, "bold")
            parts.append((phase, style))
            done = run.last.epoch if run.last else 0
            parts.append((f"epoch {done}/{run.total_epochs}", ""))
            if show_timings:
                parts.append((fmt_duration(run.elapsed(now)), ""))
                if not run.over:
                    parts.append((f"ETA {fmt_duration(run.eta())}", ""))
            if run.best is not None:
                parts.append((f"best {run.best.epoch}", ""))
        if note:
            # Right after the state, so a narrow terminal cuts the details, not the news.
            words, is_error = note
            parts.insert(1, (words, "bold red" if is_error else "italic"))
        summary = run.started.summary if run is not None and run.started else None
        if summary is not None:
            parts.append((f"{BACKEND_NAMES.get(summary.backend, summary.backend)} {summary.device}", ""))
            parts.append((f"{summary.params:,} params", ""))
        else:
            if loading:
                parts.append((f"loading {loading}…", "italic"))
            else:
                parts.append((BACKEND_NAMES.get(backend, backend), ""))
            if params is not None:
                parts.append((f"{params:,} params", ""))
        if preset:
            parts.append((f"preset {preset}", "dim"))
        text = Text()
        for i, (words, style) in enumerate(parts):
            if i:
                text.append(" · ", style="dim")
            text.append_text(literal(words, style=style))  # preset names, error notes: user text
        if text != self._last:
            self._last = text
            # One fixed line: a repaint, never a screen layout.
            self.update(text, layout=False)
