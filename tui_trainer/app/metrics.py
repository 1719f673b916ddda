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
from tui_trainer.app.state import BACKEND_NAMES, RunState, fmt_epoch_time, fmt_float
from tui_trainer.core.durations import fmt_duration
from tui_trainer.core.events import EpochEnded, EpochProgress

#: Epochs in the table (plus the best one when it is older); the full history is in the plot.
#: Every row is rewritten on each update, so the table is kept to about what a screen shows.
TABLE_ROWS = 15


class MetricsTable(DataTable):
    """Latest epochs: loss, accuracy (or MAE), epoch time; the best epoch starred.

    The ``TABLE_ROWS`` + 1 rows exist from the start and are rewritten in place,
    with fixed column widths: adding or removing rows makes Textual lay out the
    whole screen again, which a fast run must not pay several times a second.
    """

    #: Widths including the one-space gap before each right-aligned column: the cells have no
    #: padding of their own, so the whole table (with timings) is 43 wide and fits the 45
    #: columns it gets at 80x24 and the panel's 47 at 120x40.
    WIDTHS = {"epoch": 6, "loss": 8, "acc": 6, "mae": 8, "val_loss": 9, "val_acc": 8, "val_mae": 8, "time": 6}

    def __init__(self, *, show_timings: bool = True, **kwargs: object) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, cell_padding=0, **kwargs)
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
            columns.append("time")
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
            cells.append(Text(fmt_epoch_time(event.seconds), style="dim", justify="right"))
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


#: Cells of the status line's bar for the current epoch.
BAR_CELLS = 12


def progress_parts(progress: EpochProgress, total: int, show_timings: bool) -> list[tuple[str, str]]:
    """The epoch under way as status-line parts: its number and a bar, then batches, pace and ETA."""
    share = progress.samples_done / max(progress.samples, 1)
    filled = min(BAR_CELLS, int(share * BAR_CELLS))
    bar = "━" * filled + "╺" * (filled < BAR_CELLS) + " " * max(0, BAR_CELLS - filled - 1)
    parts = [(f"epoch {progress.epoch}/{total} {bar} {100 * share:3.0f}%", "cyan")]
    detail = f"{progress.batches_done:,}/{progress.batches:,} batches"
    if show_timings:
        detail += f", {progress.samples_per_s:,.0f}/s, epoch ETA {fmt_duration(progress.epoch_eta)}"
    parts.append((detail, ""))
    return parts


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
             params: int | None, preset: str | None, note: tuple[str, bool] | None, stale: bool = False,
             modified: bool = False) -> None:
        """Compose the line; ``note`` is (text, is_error), shown right after the state.

        ``stale``: the run is over and the form has changed since, so the line
        says "idle", names the last run in grey, and the framework and
        parameter count are the form's (what F5 would train), not the old run's.
        ``modified``: the form differs from the preset it was loaded from.
        """
        parts: list[tuple[str, str]] = []
        if run is None:
            parts.append(("idle", "bold"))
        elif stale:
            parts.append(("idle", "bold"))
            done = run.last.epoch if run.last else 0
            parts.append((f"last run {run.phase()} at epoch {done}/{run.total_epochs}", "dim"))
        else:
            phase = run.phase()
            style = {"running": "bold green", "paused": "bold yellow", "failed": "bold red"}.get(phase, "bold")
            parts.append((phase, style))
            done = run.last.epoch if run.last else 0
            if run.progress is not None and not run.over:  # inside a long epoch: a bar for it
                parts.extend(progress_parts(run.progress, run.total_epochs, show_timings))
            else:
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
        summary = run.started.summary if run is not None and run.started and not stale else None
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
            parts.append((f"preset {preset}" + (" (modified)" if modified else ""), "dim"))
        text = Text()
        for i, (words, style) in enumerate(parts):
            if i:
                text.append(" · ", style="dim")
            text.append_text(literal(words, style=style))  # preset names, error notes: user text
        if text != self._last:
            self._last = text
            # One fixed line: a repaint, never a screen layout.
            self.update(text, layout=False)
