"""User text made safe to print: the one place control characters are removed.

Labels from a CSV, preset names and descriptions, paths and error messages that
quote them all come from files the user (or someone who sent them the file)
wrote.  Printed as they are, an escape sequence in a label could recolour,
retitle or clear the reader's terminal, and a newline could forge a line in a
CI log.  Every line the headless faces print goes through ``printable``.  (The
app needs the other half of this, no markup: see ``tui_trainer.app.safe``.)
"""

from __future__ import annotations

import re
import unicodedata

#: ANSI/VT escape sequences: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL`` or ``ESC \\``) and two-byte ones.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks, clipboard
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
#: Unicode format characters that reorder text on screen (bidi overrides and isolates).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with escape sequences removed and other control characters replaced.

    Tabs (and, unless ``keep_newlines``, line breaks) become spaces, so one
    user value can never become two lines; any other C0/C1 control character
    or bidi override becomes ``?`` so that it is visible that something was there.
    """
    s = _ESCAPES.sub("", str(text))
    if s.isprintable() and not any(c in _BIDI for c in s):
        return s
    out = []
    for c in s:
        if c == "\n" and keep_newlines:
            out.append(c)
        elif c in "\t\n\r\v\f" or unicodedata.category(c) in ("Zl", "Zp"):
            out.append(" ")
        elif c in _BIDI or unicodedata.category(c) == "Cc":
            out.append("?")
        else:
            out.append(c)
    return "".join(out)
