"""The app's comparison view: pick runs, see their curves overlaid, with ``compare``'s table.

A screen of its own (``f9``): the runs folder's runs on the left (space picks
one), every picked run's training (solid) and validation (dotted) curve on one
chart in its own colour, and below it the table ``tui-trainer compare`` prints,
from the same ``tui_trainer.runs.comparison`` code.  Run folders are followed about
once a second, reading only what their event logs gained, so a run or a study
still training fills in live.  ``r`` starts the preset's study (its
``[[variants]]`` on top of the form's config) as a background process that
writes the run folders, and picks its runs as they appear; it keeps going if
the app is closed, like a ``--detach`` run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, SelectionList
from textual.widgets.selection_list import Selection

from tui_trainer.core.errors import UserError
from tui_trainer.faces.compare import COLORS, clean, letters, metric_pairs, table
from tui_trainer.runs.comparison import RunTail, compare_rows, unique_names

#: Seconds between looks at the runs folder and the picked runs' logs.
POLL_SECONDS = 1.0


def run_title(run_id: str, label: str) -> str:
    """A short line for the runs list: ``10:11:39 overfit-bigger`` for ``20261124-101139-overfit-bigger``."""
    parts = run_id.split("-", 2)
    if len(parts) == 3 and len(parts[0]) == 8 and len(parts[1]) == 6 and parts[0].isdigit() and parts[1].isdigit():
        when = f"{parts[1][:2]}:{parts[1][2:4]}:{parts[1][4:]}"
        return clean(f"{when} {parts[2]}" + (f" ({label})" if label not in (run_id, parts[2]) and
                                              not parts[2].endswith(label) else ""))
    return clean(run_id if label == run_id else f"{run_id} ({label})")


class CompareScreen(Screen[None]):
    """Runs side by side; ``escape`` goes back to training."""

    #: The app's run keys (F5 start, ...) would act on the hidden training screen: off here.
    blocks_run_keys = True

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", tooltip="back to training"),
        Binding("m", "next_metric", "Metric", tooltip="loss, then accuracy (or MAE)"),
        Binding("r", "run_study", "Run study", tooltip="train the preset's [[variants]] on top of the form's config"),
        Binding("c", "clear", "Clear", tooltip="unpick every run"),
    ]

    def __init__(self, root: Path, *, preset: str | None = None, base_config: Any = None,
                 picked: tuple[Path, ...] = (), poll: float = POLL_SECONDS) -> None:
        super().__init__()
        self.root = Path(root)
        self.preset = preset
        self.base_config = base_config
        self.poll = poll
        self.tails: dict[str, RunTail] = {}
        self.picked: list[str] = [str(Path(p)) for p in picked]
        self.metric = 0
        self.study: str | None = None
        self.study_process: subprocess.Popen[bytes] | None = None
        self._study_tmp: tempfile.TemporaryDirectory[str] | None = None
        self._study_err: Path | None = None
        self._listed: list[tuple[str, str]] = []
        self._dirty = True
        self.draws = 0
        #: Curves on the chart now (tests read it).
        self.drawn_curves = 0

    def compose(self) -> ComposeResult:
        # plotext is imported when this view opens: the app's first frame doesn't wait for it (~25 ms).
        from textual_plotext import PlotextPlot

        yield Label("", id="compare-title")
        with Horizontal(id="compare-body"):
            yield SelectionList[str](id="compare-runs")
            yield PlotextPlot(id="compare-plot")
        yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True, show_cursor=False)
        yield Label("", id="compare-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        from textual_plotext import PlotextPlot

        self.query_one("#compare-plot", PlotextPlot).theme = "clear"
        self.query_one("#compare-runs", SelectionList).border_title = "runs (space: pick)"
        self.refresh_runs()
        self.set_interval(self.poll, self.refresh_runs)

    # -- following the runs folder ------------------------------------------------------------
    def refresh_runs(self) -> None:
        """List the runs folder, read what the picked runs' logs gained, redraw if anything changed."""
        from tui_trainer.runs.store import list_runs

        runs = list_runs(self.root)
        if self.study is not None:
            for info in runs:
                key = str(info.folder)
                if key not in self.picked and self._study_of(info.folder) == self.study:
                    self.picked.append(key)
                    self._dirty = True
        listed = [(str(info.folder), info.state) for info in runs]
        if listed != self._listed:
            self._listed = listed
            self._fill_list(runs)
        for key in self.picked:
            tail = self.tails.get(key)
            if tail is None:
                tail = self.tails[key] = RunTail(Path(key))
            if tail.update():
                self._dirty = True
        self._check_study()
        if self._dirty:
            self.redraw()

    @staticmethod
    def _study_of(folder: Path) -> str:
        from tui_trainer.faces.compare import _study_of

        return _study_of(folder)

    def _fill_list(self, runs: list[Any]) -> None:
        widget = self.query_one("#compare-runs", SelectionList)
        highlighted = widget.highlighted
        widget.clear_options()
        options = []
        for info in runs:
            tail = self.tails.get(str(info.folder))
            name = tail.curves.label if tail is not None else info.id
            prompt = Text(run_title(info.id, name))
            prompt.append(f" {info.state}", style="dim")
            options.append(Selection(prompt, str(info.folder), str(info.folder) in self.picked))
        widget.add_options(options)
        if options:
            widget.highlighted = min(highlighted or 0, len(options) - 1)

    @on(SelectionList.SelectedChanged, "#compare-runs")
    def _picked_changed(self, event: SelectionList.SelectedChanged) -> None:
        chosen = set(event.selection_list.selected)
        # Keep the order runs were picked in: colours and letters stay with their run.
        self.picked = [k for k in self.picked if k in chosen] + [k for k in event.selection_list.selected
                                                                 if k not in self.picked]
        for key in self.picked:
            if key not in self.tails:
                self.tails[key] = RunTail(Path(key))
                self.tails[key].update()
        self._dirty = True
        self.redraw()

    # -- drawing ------------------------------------------------------------------------------
    def shown(self) -> list[Any]:
        """The picked runs' curves, in picking order, with distinct labels."""
        curves = [self.tails[k].curves for k in self.picked if k in self.tails]
        return [replace(c, label=name) for c, name in zip(curves, unique_names(curves), strict=True)]

    def redraw(self) -> None:
        from textual_plotext import PlotextPlot

        self._dirty = False
        self.draws += 1
        curves = self.shown()
        plain = bool(os.environ.get("NO_COLOR"))
        widget = self.query_one("#compare-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        pairs = metric_pairs(curves) if curves else [("loss", "val_loss")]
        train, val = pairs[self.metric % len(pairs)]
        drawn = 0
        for i, run in enumerate(curves):
            lower, upper = letters(i)
            color = COLORS[i % len(COLORS)][0]
            for metric, marker in ((train, lower if plain else "braille"), (val, upper if plain else "dot")):
                xs, ys = run.series(metric)
                if xs:
                    drawn += 1
                    plt.plot(xs, ys, marker=marker, color=None if plain else color)
        if drawn:
            style = "lower case" if plain else "solid"
            plt.title(f"{train} ({style}) and {val} ({'upper case' if plain else 'dotted'})")
        else:
            plt.title("pick runs on the left (space), or r to run the preset's study")
        plt.xlabel("epoch")
        self.drawn_curves = drawn
        widget.refresh()
        self._fill_table(curves)
        self._update_title(curves)

    def _fill_table(self, curves: list[Any]) -> None:
        """``compare``'s table (short headers: best values with their epoch in brackets; gap = final
        val_loss - loss); the run column is the legend (its colour, or its letters without colour)."""
        grid = self.query_one("#compare-table", DataTable)
        grid.clear(columns=True)
        if not curves:
            return
        plain = bool(os.environ.get("NO_COLOR"))
        cells = table(compare_rows(curves), short=True)
        grid.add_columns(*cells[0])
        for i, row in enumerate(cells[1:]):
            lower, upper = letters(i)
            name = Text(f"{lower}/{upper} {row[0]}" if plain else f"• {row[0]}",
                        style="" if plain else f"bold {COLORS[i % len(COLORS)][1]}")
            # Text cells: a run's name is never read as markup.
            grid.add_row(name, *(Text(cell) for cell in row[1:]))

    def _update_title(self, curves: list[Any]) -> None:
        names = ", ".join(clean(c.label) for c in curves) or "none"
        self.query_one("#compare-title", Label).update(Text(f"compare runs in {self.root}: {names}"))

    def status(self, text: str) -> None:
        self.query_one("#compare-status", Label).update(Text(text))

    # -- actions ------------------------------------------------------------------------------
    def action_next_metric(self) -> None:
        self.metric += 1
        self.redraw()

    def action_clear(self) -> None:
        self.query_one("#compare-runs", SelectionList).deselect_all()

    def action_run_study(self) -> None:
        """Train the preset's variants in a background process; their runs are picked as they appear."""
        from tui_trainer.runs.study import preset_variants, study_id, study_preset_text

        if self.study_process is not None and self.study_process.poll() is None:
            self.status(f"study {self.study} is still training")
            return
        try:
            variants = preset_variants(self.preset) if self.preset else []
        except UserError as exc:
            self.status(str(exc))
            return
        if not variants or self.base_config is None:
            self.status(f"preset {self.preset or '(none)'} has no [[variants]]; open one with ctrl+o (e.g. overfit)")
            return
        self._study_tmp = tempfile.TemporaryDirectory(prefix="tui-trainer-study-")
        tmp = Path(self._study_tmp.name)
        label = Path(self.preset).stem if self.preset.endswith(".toml") else self.preset
        preset = tmp / f"{label}.toml"  # its name names the run folders
        preset.write_text(study_preset_text(self.base_config, variants), encoding="utf-8")
        self.study = study_id(label)
        self._study_err = tmp / "stderr.txt"
        command = [sys.executable, "-m", "tui_trainer", "--preset", str(preset), "--no-ui", "--json",
                   "--runs-dir", str(self.root), "--study-id", self.study]
        with open(self._study_err, "wb") as err:
            # Its own session and no terminal: nothing it prints reaches the screen, and it
            # finishes the study even if the app is closed.
            self.study_process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=err, start_new_session=True, close_fds=True)
        self.query_one("#compare-runs", SelectionList).deselect_all()
        self.picked = []
        self.status(f"study {self.study}: training {len(variants)} variants ({', '.join(n for n, _ in variants)})")

    def _check_study(self) -> None:
        proc = self.study_process
        if proc is None or proc.poll() is None:
            return
        self.study_process = None
        message = ""
        if proc.returncode and self._study_err is not None:
            lines = self._study_err.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            message = clean(lines[-1]) if lines else f"exit code {proc.returncode}"
        if self._study_tmp is not None:
            self._study_tmp.cleanup()
            self._study_tmp = None
        self.status(f"study {self.study}: " + (f"failed: {message}" if message else "done"))
