"""The one way user text reaches the app's widgets: literally.

Textual reads strings given to ``Static``, ``Label``, ``notify`` and Rich
tables as markup, so a CSV label ``[/]`` crashed the app with a MarkupError
and ``[@click=app.quit]x[/]`` became a live link.  Text that may hold anything
a user (or a file) wrote, which is nearly all of it here: labels, file and
preset names, paths, descriptions, typed values and error messages quoting
them, goes through ``literal`` (a Rich ``Text``, never parsed) or into a
``Literal`` widget (a ``Static`` with markup off), and the app's ``notify``
turns markup off for every notification.  Control characters are replaced as
on a pipe (``textsafe.printable``), so an escape sequence can't reach the
terminal through the screen either.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui_trainer.core.textsafe import printable


def literal(text: object, style: str = "") -> Text:
    """``text`` as a Rich Text that is shown exactly as written (minus control characters)."""
    if isinstance(text, Text):
        return text
    return Text(printable(text, keep_newlines=True), style=style)


def _clean(content: Any) -> Any:
    return printable(content, keep_newlines=True) if isinstance(content, str) else content


class Literal(Static):
    """A Static that never reads markup: a string is shown as it is."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(_clean(content), **kwargs)

    def update(self, content: Any = "", *, layout: bool = True) -> None:
        super().update(_clean(content), layout=layout)
