"""The app's sweep view (f12): an Optuna study's trials filling in live, the best so far, the running curves.

A screen of its own, like the comparison view.  A worker thread looks at the
study's storage at most once a second (``sweep_reader``) and posts only what
changed: new or changed trial rows and the curves of the running trials and of
the best one, read from their run folders' event logs.  The UI thread folds
those into a table (newest trial first, the best marked ★) and one chart.
Enter opens a trial's run as F10's runs view does; ``s`` picks another study
in the storage; ``n`` starts a sweep from the form (``sweep_dialog``).  Study
names, parameter values and paths are shown literally (``app/safe.py``).
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from tui_trainer.app.safe import Literal, literal
from tui_trainer.app.sweep_reader import (
    Curve,
    Poll,
    StudyInfo,
    StudyMissing,
    SweepReader,
    TrialRow,
    masked,
    resolve,
)
from tui_trainer.core.errors import UserError
from tui_trainer.runs.sweep import PASSWORD_ENV, without_password

#: Seconds between two looks at the storage (the view never looks more often).
POLL_SECONDS = 1.0
#: Seconds between two listings of the storage's studies while a study is shown.
LIST_SECONDS = 10.0
#: Columns of the trials table before the study's parameters.
FIXED_COLUMNS = ("#", "state", "value", "seconds")
#: The last column: why a trial failed, where it was pruned, a retry.
NOTE_COLUMN = "note"
#: Colours of the running trials' curves; the best trial is drawn dotted in white.
COLORS = ("cyan", "orange", "magenta", "green", "blue", "red", "yellow")
#: How each state reads in the table.
STATE_STYLES = {"running": "bold cyan", "complete": "", "pruned": "dim", "failed": "red", "waiting": "dim"}


def number_text(value: float | None) -> str:
    """A metric value for a cell: 5 significant digits, ``-`` when there is none."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.5g}"


def seconds_text(seconds: float | None, whole: bool = False) -> str:
    """A trial's seconds: tenths under ten seconds; a running trial's in whole seconds, as it counts up."""
    if seconds is None:
        return "-"
    return f"{seconds:.0f}" if whole or seconds >= 10 else f"{seconds:.1f}"


def param_headers(names: list[str]) -> dict[str, str]:
    """Short column headers: a field's last part (``learning_rate``) unless two parameters share it."""
    last = [name.rsplit(".", 1)[-1] for name in names]
    return {name: short if last.count(short) == 1 else name for name, short in zip(names, last, strict=True)}


@dataclass
class SweepPolled(Message):
    """What changed in the followed study since the last poll."""

    generation: int
    poll: Poll


@dataclass
class StudiesListed(Message):
    """The storage's studies, newest first."""

    generation: int
    studies: tuple[StudyInfo, ...]


@dataclass
class SweepProblem(Message):
    """Why the study can't be shown right now (no storage yet, no such study yet, an error)."""

    generation: int
    text: str


@dataclass(frozen=True)
class Pick:
    """What the study list chose: a study in the shown storage, or another storage."""

    study: str | None = None
    storage: str | None = None


class StudyPicker(ModalScreen[Pick | None]):
    """The storage's studies (Enter follows one), and the storage itself (type another, Enter reads it)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, storage: str, studies: tuple[StudyInfo, ...], current: str | None) -> None:
        super().__init__()
        self.storage = storage
        self.studies = studies
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Label("Sweeps: Enter shows one · Escape cancels", classes="dialog-title")
            yield Static(f"storage: a journal file, sqlite:///FILE or postgresql://USER@HOST/DB (a password from "
                         f"${PASSWORD_ENV}); Enter reads it", classes="dialog-note")
            yield Input(without_password(self.storage)[0], compact=True, id="storage-input")
            yield Literal("", id="storage-error", classes="field-error")
            options = []
            for info in self.studies:
                text = Text()
                text.append_text(literal(info.name, style="bold"))
                if info.name == self.current:
                    text.append("  (shown now)", style="italic")
                best = "" if info.best_number is None else (
                    f" · best {number_text(info.best_value)} (#{info.best_number})")
                text.append_text(literal(f"\n  {info.trials} trials · {info.direction} {info.metric}{best}"
                                         + (f" · preset {info.preset}" if info.preset else ""), style="dim"))
                options.append(Option(text))
            if not options:
                yield Static("no sweeps in this storage yet", classes="dialog-note")
            yield OptionList(*options, id="study-list")

    def on_mount(self) -> None:
        options = self.query_one("#study-list", OptionList)
        if not self.studies:
            options.display = False
            self.query_one("#storage-input", Input).focus()
            return
        names = [info.name for info in self.studies]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()

    @on(OptionList.OptionSelected, "#study-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(Pick(study=self.studies[event.option_index].name))

    @on(Input.Submitted, "#storage-input")
    def _storage_entered(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text == without_password(self.storage)[0]:
            self.dismiss(None)  # the storage shown now (its password, if it had one, kept)
            return
        try:
            ref = resolve(text)
        except UserError as exc:
            error = self.query_one("#storage-error", Literal)
            error.update(masked(text, str(exc)))
            error.display = True
            return
        self.dismiss(Pick(storage=str(ref.journal) if ref.journal is not None else text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class SweepScreen(Screen[Path | None]):
    """One study's trials live; Enter opens a trial's run, Escape goes back to training."""

    #: The app's run keys (F5 start, ...) would act on the hidden training screen: off here.
    blocks_run_keys = True

    BINDINGS = [
        Binding("escape", "close", "Back", tooltip="back to training"),
        Binding("f12", "close", "Back", show=False),
        Binding("s", "pick_study", "Studies", tooltip="show another sweep in this storage"),
        Binding("n", "app.new_sweep", "New sweep", tooltip="search hyperparameters around the form's config"),
    ]
    DEFAULT_CSS = """
    SweepScreen { layout: vertical; }
    SweepScreen #sweep-title, SweepScreen #sweep-best, SweepScreen #sweep-status {
        height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; width: 100%;
    }
    SweepScreen #sweep-title, SweepScreen #sweep-status { background: $boost; }
    SweepScreen #sweep-trials { height: 1fr; min-height: 4; scrollbar-size: 1 1; }
    SweepScreen #sweep-plot { height: 1fr; min-height: 6; }
    """

    def __init__(self, storage: str, study: str | None = None, *, poll: float = POLL_SECONDS) -> None:
        super().__init__()
        self.storage = storage
        self.study = study
        self.poll = poll
        self.info: StudyInfo | None = None
        self.rows: dict[int, TrialRow] = {}
        self.curves: dict[int, Curve] = {}
        self.params: list[str] = []
        self.studies: tuple[StudyInfo, ...] | None = None
        self.problem: str | None = None
        self._best: int | None = None
        self._picker_offered = False
        self._stop = threading.Event()
        #: Counts switches of study or storage; the worker starts afresh on a new one, and the
        #: messages it posted for an older one are dropped.
        self.generation = 0
        #: Messages folded in and charts drawn (tests read them).
        self.polls = 0
        self.draws = 0

    def compose(self) -> ComposeResult:
        # plotext is imported when this view opens: the app's first frame doesn't wait for it (~25 ms).
        from textual_plotext import PlotextPlot

        yield Label("", id="sweep-title")
        yield DataTable(id="sweep-trials", cursor_type="row", zebra_stripes=True)
        yield Label("", id="sweep-best")
        yield PlotextPlot(id="sweep-plot")
        yield Label("", id="sweep-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        from textual_plotext import PlotextPlot

        self.query_one("#sweep-plot", PlotextPlot).theme = "clear"
        table = self.query_one("#sweep-trials", DataTable)
        self._rebuild(table)
        table.focus()
        self._update_title()
        self._draw_chart()
        self._update_best()
        self.show_status("")
        self._follow()
        self.set_interval(self.poll, self._tick)

    def on_unmount(self) -> None:
        self._stop.set()

    # -- the worker ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="sweep-poll", exit_on_error=False, description="follow the sweep")
    def _follow(self) -> None:
        """Look at the storage about once a second until the view closes; post what changed."""
        worker = get_current_worker()
        reader: SweepReader | None = None
        listed = -math.inf
        seen = -1
        while not worker.is_cancelled and not self._stop.is_set():
            began = time.monotonic()
            generation, storage, study = self.generation, self.storage, self.study
            if reader is None or reader.storage_url != storage:
                reader = SweepReader(storage)
            elif generation != seen:
                reader.forget()  # the view emptied its table: every row again
            seen = generation
            try:
                if study is None or began - listed >= LIST_SECONDS:
                    self.post_message(StudiesListed(generation, tuple(reader.studies())))
                    listed = began
                if study is not None:
                    found = reader.poll(study)
                    if found.changed or found.curves or found.dropped_curves or found.study != self.info:
                        self.post_message(SweepPolled(generation, found))
            except FileNotFoundError as exc:
                reader = None  # the sweep that creates it may be starting: look again next time
                self.post_message(SweepProblem(generation, f"no sweeps in {exc.filename or storage} yet · "
                                                        "n starts one from the form"))
            except StudyMissing:
                self.post_message(SweepProblem(generation, f"waiting for sweep {study} to appear in the storage…"))
            except Exception as exc:  # noqa: BLE001 - a storage that fails is said, and tried again
                reader = None
                shown = masked(storage, f"can't read the storage: {exc}")
                self.post_message(SweepProblem(generation, shown))
            self._stop.wait(max(0.0, self.poll - (time.monotonic() - began)))

    # -- folding in what the worker found --------------------------------------------------------------
    def on_sweep_polled(self, message: SweepPolled) -> None:
        poll = message.poll
        if message.generation != self.generation:
            return  # a poll of the study shown before a switch
        self.polls += 1
        self.problem = None
        self.info = poll.study
        table = self.query_one("#sweep-trials", DataTable)
        best = poll.study.best_number
        for row in poll.changed:
            self.rows[row.number] = row
        names = sorted({name for row in poll.changed for name, _ in row.params} | set(self.params))
        if names != self.params:
            # A parameter not seen before (the first poll, or a trial of a wider search): columns anew.
            self.params = names
            self._best = best
            self._rebuild(table)
        else:
            added = False
            for row in poll.changed:
                cells = self._cells(row, row.number == best)
                if str(row.number) in table.rows:
                    for column, cell in zip(self._columns(), cells, strict=True):
                        table.update_cell(str(row.number), column, cell, update_width=True)
                else:
                    table.add_row(*cells, key=str(row.number))
                    added = True
            if best != self._best:
                for number in (self._best, best):
                    if number is not None and number in self.rows and str(number) in table.rows:
                        for column, cell in zip(self._columns(), self._cells(self.rows[number], number == best),
                                                strict=True):
                            table.update_cell(str(number), column, cell, update_width=True)
                self._best = best
            if added:
                self._sort(table)
        curves_changed = bool(poll.curves or poll.dropped_curves)
        for number in poll.dropped_curves:
            self.curves.pop(number, None)
        for curve in poll.curves:
            self.curves[curve.number] = curve
        if curves_changed:
            self._draw_chart()
        self._update_title()
        self._update_best()
        self.show_status("")

    def on_studies_listed(self, message: StudiesListed) -> None:
        if message.generation != self.generation:
            return
        self.studies = message.studies
        if self.study is not None or not message.studies:
            if not message.studies and self.study is None:
                self.problem = f"no sweeps in {masked(self.storage)} yet · n starts one from the form"
                self._update_title()
            return
        if len(message.studies) == 1:
            self.follow(message.studies[0].name)
        elif not self._picker_offered:
            self._picker_offered = True
            self.action_pick_study()

    def on_sweep_problem(self, message: SweepProblem) -> None:
        if message.generation != self.generation:
            return
        if not self._launch_failed():
            self.problem = message.text
        self._update_title()

    def _rebuild(self, table: DataTable) -> None:
        """Every column (the fixed ones, one per parameter, the note) and every row, newest first."""
        keep = None
        if table.row_count and table.cursor_row > 0:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear(columns=True)
        headers = param_headers(self.params)
        for name in FIXED_COLUMNS:
            table.add_column(name, key=name)
        for name in self.params:
            table.add_column(literal(headers[name]), key=f"param:{name}")
        table.add_column(NOTE_COLUMN, key=NOTE_COLUMN)
        for number in sorted(self.rows, reverse=True):
            table.add_row(*self._cells(self.rows[number], number == self._best), key=str(number))
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)

    def _columns(self) -> list[str]:
        return [*FIXED_COLUMNS, *(f"param:{name}" for name in self.params), NOTE_COLUMN]

    def _cells(self, row: TrialRow, best: bool) -> list[Text]:
        style = "bold green" if best else ""
        params = dict(row.params)
        cells = [Text(f"★{row.number}" if best else str(row.number), style=style),
                 Text(row.state, style=style or STATE_STYLES.get(row.state, "")),
                 Text(("~" if row.so_far and row.value is not None else "") + number_text(row.value), style=style),
                 Text(seconds_text(row.seconds, whole=row.state == "running"), style=style)]
        cells += [literal(params.get(name, "-"), style=style) for name in self.params]
        cells.append(literal(row.note, style="dim" if not best else style))
        return cells

    def _sort(self, table: DataTable) -> None:
        """Newest trial first; the cursor stays on its trial unless it was on the newest (then it follows)."""
        keep = None
        if table.cursor_row > 0 and table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        table.sort("#", key=lambda cell: int(str(cell).lstrip("★")), reverse=True)
        if keep is not None:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        else:
            table.move_cursor(row=0, animate=False)

    # -- drawing ------------------------------------------------------------------------------------
    def _draw_chart(self) -> None:
        from textual_plotext import PlotextPlot

        self.draws += 1
        plain = bool(os.environ.get("NO_COLOR"))
        widget = self.query_one("#sweep-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        metric = self.info.metric if self.info is not None else "val_loss"
        best = self.info.best_number if self.info is not None else None
        running = [n for n in sorted(self.curves) if n != best]
        for i, number in enumerate(running):
            curve = self.curves[number]
            marker = chr(ord("a") + i % 26) if plain else "braille"
            plt.plot(list(curve.epochs), list(curve.values), marker=marker, label=f"#{number}",
                     color=None if plain else COLORS[i % len(COLORS)])
        if best is not None and best in self.curves:
            curve = self.curves[best]
            plt.plot(list(curve.epochs), list(curve.values), marker="*" if plain else "dot", label=f"best #{best}",
                     color=None if plain else "white")
        if running:
            plt.title(f"{metric} per epoch: {len(running)} running" + (f", best #{best} dotted" if best in self.curves
                                                                      else ""))
        elif best in self.curves:
            plt.title(f"{metric} per epoch of the best trial, #{best} (none running)")
        else:
            plt.title(f"{metric} per epoch of the running trials and the best (none yet)")
        plt.xlabel("epoch")
        widget.refresh()

    def _update_title(self) -> None:
        title = self.query_one("#sweep-title", Label)
        if self.info is None:
            text = self.problem or ("reading the storage…" if self.study is None else f"sweep {self.study}: reading…")
            title.update(literal(text))
            return
        info = self.info
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.state] = counts.get(row.state, 0) + 1
        states = ", ".join(f"{counts[s]} {s}" for s in ("running", "complete", "pruned", "failed", "waiting")
                           if counts.get(s))
        line = f"{info.name} ({info.direction} {info.metric}) · {info.trials} trials" + (
            f" of {info.asked}" if info.asked else "") + (
            f": {states}" if states else "")
        if self.problem:
            line += f" · {self.problem}"
        title.update(literal(line))

    def _update_best(self) -> None:
        label = self.query_one("#sweep-best", Label)
        info = self.info
        if info is None or info.best_number is None or info.best_number not in self.rows:
            label.update(literal("best so far: none yet (no trial has completed)"))
            return
        row = self.rows[info.best_number]
        label.update(literal(f"best so far ★ #{row.number}: {info.metric} {number_text(row.value)} · "
                             f"{info.best_params}", style="bold"))

    def show_status(self, text: str) -> None:
        launch = getattr(self.app, "sweep_launch", None)
        parts = [text] if text else []
        if launch is not None:
            parts.append(launch.describe())
        parts.append("Enter opens a trial's run · s other sweeps · n new sweep from the form")
        self.query_one("#sweep-status", Label).update(literal(" · ".join(parts)))

    def _tick(self) -> None:
        """Once a second: the started sweep's process state (its end, or why it failed)."""
        self.show_status("")
        if self._launch_failed():
            self._update_title()

    def _launch_failed(self) -> bool:
        """The sweep started here for this study ended before the study existed (a bad spec, say):
        its reason replaces "waiting for the study"."""
        launch = getattr(self.app, "sweep_launch", None)
        if (launch is None or launch.study != self.study or self.info is not None
                or launch.process.poll() in (None, 0)):
            return False
        self.problem = launch.describe()
        return True

    # -- actions ------------------------------------------------------------------------------------
    def follow(self, study: str, storage: str | None = None) -> None:
        """Show another study (the worker reads it at its next look, within a second)."""
        if storage is not None:
            self.storage = storage
        if study == self.study and self.info is not None:
            return
        self._reset(study)

    def _reset(self, study: str | None) -> None:
        self.generation += 1
        self.study = study
        self.info = None
        self.rows.clear()
        self.curves.clear()
        self.params = []
        self._best = None
        self._rebuild(self.query_one("#sweep-trials", DataTable))
        self._draw_chart()
        self._update_title()
        self._update_best()

    def action_pick_study(self) -> None:
        def chosen(pick: Pick | None) -> None:
            if pick is None:
                return
            if pick.storage is not None:
                self.read_storage(pick.storage)
            elif pick.study is not None:
                self.follow(pick.study)

        self.app.push_screen(StudyPicker(self.storage, self.studies or (), self.study), chosen)

    def read_storage(self, storage: str) -> None:
        """Show another storage: its studies are listed at the worker's next look (the list comes up if
        there are several, its one study is shown if there is one)."""
        self.storage = storage
        self.studies = None
        self._picker_offered = False
        self.problem = None
        self._reset(None)

    @on(DataTable.RowSelected, "#sweep-trials")
    def _open_trial(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(int(str(event.row_key.value)))
        if row is None:
            return
        if not row.run_dir or not (Path(row.run_dir) / "config.toml").is_file():
            self.show_status(f"trial #{row.number} has no run folder yet")
            return
        self.dismiss(Path(row.run_dir))

    def action_close(self) -> None:
        self.dismiss(None)
