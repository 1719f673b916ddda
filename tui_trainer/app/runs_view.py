"""The app's runs view (F10): every recorded run, newest first; Enter opens one.

The same rows as ``tui-trainer runs``; opening a run is ``attach``: its
history so far, then live if it is still going.  Text from run folders (ids,
preset names) is shown literally, never as markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui_trainer.faces.runs_cli import HEADER, row
from tui_trainer.runs.store import RunInfo, list_runs, runs_root


class RunsScreen(ModalScreen[Path | None]):
    """Pick a run to open; Escape closes."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("f10", "close", show=False)]
    DEFAULT_CSS = """
    RunsScreen { align: center middle; }
    RunsScreen > Vertical { width: 95%; height: 85%; border: round $accent; background: $surface; padding: 0 1; }
    RunsScreen DataTable { height: 1fr; }
    """

    def __init__(self, runs_dir: str | None = None) -> None:
        super().__init__()
        self.root = runs_root(runs_dir)
        self.runs: list[RunInfo] = list_runs(self.root)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"runs in {self.root} · Enter opens one (live while it goes) · Esc closes"),
                         id="runs-title")
            table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            yield table
            if not self.runs:
                yield Static(Text("no runs yet: F5 trains one, and every run is recorded here"))

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        table.add_columns(*HEADER)
        for info in self.runs:
            table.add_row(*(Text(cell) for cell in row(info)), key=str(info.folder))
        table.focus()

    @on(DataTable.RowSelected, "#runs-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(Path(event.row_key.value))

    def action_close(self) -> None:
        self.dismiss(None)
