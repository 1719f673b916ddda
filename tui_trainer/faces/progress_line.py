"""The headless run's progress line on a terminal's stderr, for epochs that take seconds.

One line, redrawn in place (carriage return, erase to end of line) as
``EpochProgress`` events arrive, and erased before anything else is printed, so
stdout keeps only whole epoch lines and the terminal shows no leftovers.  It is
used only when stderr is a terminal (and ``TERM`` is not ``dumb``): logs and
pipes never see it.  Colours follow rich, which honours ``NO_COLOR``.
"""

from __future__ import annotations

import os
import shutil
from typing import IO

from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tui_trainer.core.events import EpochProgress, Event
from tui_trainer.core.hooks import Face

ERASE = "\r\x1b[2K"


def wanted(stream: IO[str]) -> bool:
    """Only on a real terminal that can erase a line."""
    if os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def fmt_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLine(Face):
    """A consumer of the event stream: draws ``EpochProgress``, erases itself before any other event."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.shown = False
        self.console = Console(file=stream, force_terminal=True, highlight=False)

    def on_progress(self, event: EpochProgress) -> None:
        self.draw(event)

    def on_event(self, event: Event) -> None:
        if self.shown:
            self.erase()

    def render(self, event: EpochProgress, width: int) -> Table:
        info = Text.assemble(
            (f" {event.batches_done}/{event.batches} batches", ""),
            (f" · {event.samples_per_s:,.0f} samples/s", "dim"),
            (f" · epoch ETA {fmt_eta(event.epoch_eta)}", ""),
            (f" · run ETA {fmt_eta(event.run_eta)}", "dim"),
        )
        head = Text(f"epoch {event.epoch}/{event.epochs} ", style="bold")
        bar_width = max(10, min(30, width - len(head) - len(info) - 6))
        grid = Table.grid()
        grid.add_row(head, ProgressBar(total=event.samples, completed=event.samples_done, width=bar_width),
                     Text(f" {100 * event.samples_done / max(event.samples, 1):3.0f}%"), info)
        return grid

    def draw(self, event: EpochProgress) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        self.console.width = width
        with self.console.capture() as capture:
            self.console.print(self.render(event, width), end="", no_wrap=True, overflow="ellipsis", crop=True)
        line = capture.get().rstrip("\n").split("\n", 1)[0]
        self.stream.write(ERASE + line)
        self.stream.flush()
        self.shown = True

    def erase(self) -> None:
        self.stream.write(ERASE)
        self.stream.flush()
        self.shown = False
