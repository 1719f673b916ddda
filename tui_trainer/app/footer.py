"""A footer that lists every key, in as many rows as the width needs.

Textual's footer is one row; at 80 columns it cut off every key after the
tenth, so the playground keys (sections, test points, discretize, new data)
would never show where a person is most likely to need them.  This one puts
the keys in rows that fit the screen (two at 80×24, one from 120 columns up)
and lays them out again when the terminal is resized.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widget import Widget
from textual.widgets import Footer

#: The most rows the footer takes, however narrow the screen (three only when a panel adds keys).
MAX_ROWS = 3


def key_width(item: Widget) -> int:
    """Cells a compact footer key takes: ``^s Save`` and its right margin."""
    key = getattr(item, "key_display", "") or ""
    description = getattr(item, "description", "") or ""
    return len(key) + (1 + len(description) if description else 0) + 1


def wrap(widths: list[int], width: int, max_rows: int = MAX_ROWS) -> list[int]:
    """How many items go in each row so no row is wider than ``width`` (the last row takes the rest)."""
    rows: list[int] = []
    used = 0
    for w in widths:
        if rows and used + w <= width:
            rows[-1] += 1
            used += w
        elif len(rows) < max_rows:
            rows.append(1)
            used = w
        else:
            rows[-1] += 1
    return rows or [0]


class WrappingFooter(Footer):
    """``Footer`` with its keys in rows (see the module docstring)."""

    DEFAULT_CSS = """
    WrappingFooter {
        layout: vertical;
        height: auto;
        max-height: 3;
    }
    WrappingFooter > HorizontalGroup.footer-row {
        height: 1;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._rows_for = 0

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        self._rows_for = self.app.size.width
        start = 0
        for count in wrap([key_width(item) for item in items], self._rows_for):
            with HorizontalGroup(classes="footer-row"):
                yield from items[start:start + count]
            start += count

    def on_resize(self, event: events.Resize) -> None:
        if self.app.size.width != self._rows_for:
            # Keys may apply or not at the new size (F2 cycles tabs only on small screens).
            self.app.refresh_bindings()
            self.call_after_refresh(self._rewrap)

    async def _rewrap(self) -> None:
        await self.recompose()
        # One row or two: the screen's docks change, and all of it is painted again.
        self.app.refresh(layout=True)
