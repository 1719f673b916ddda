"""Keep what frameworks' native code prints off the user's terminal, and nothing else.

TensorFlow 2.21 writes lines to file descriptor 2 from C++ as it loads ("All log
messages before absl::InitializeLog() ...", the oneDNN notice), whatever
``TF_CPP_MIN_LOG_LEVEL`` says.  Headless, they land between a script's lines; in
the app on top of the screen, because Textual draws on stderr too.  Python can't
catch them: they never pass through ``sys.stderr``.

So while a face runs, descriptor 2 points at /dev/null and Python's own stderr
(``sys.stderr`` and ``sys.__stderr__``, which Textual draws on) is a copy of
the real descriptor: everything tui-trainer, Textual and Python write still
reaches the terminal; only native writes to fd 2 go nowhere.  All of it is put
back when the face returns.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_discarded() -> Iterator[None]:
    """Run the block with fd 2 on /dev/null and ``sys.stderr`` on a copy of the old fd 2."""
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no fd 2 (or a stderr without one): nothing to move
        yield
        return
    old_err, old_dunder = sys.stderr, sys.__stderr__
    encoding = getattr(old_err, "encoding", None) or "utf-8"
    stream = os.fdopen(terminal, "w", buffering=1, encoding=encoding, errors="backslashreplace")
    try:
        os.dup2(devnull, 2)
        sys.stderr = sys.__stderr__ = stream
        yield
    finally:
        with contextlib.suppress(Exception):
            stream.flush()
        sys.stderr, sys.__stderr__ = old_err, old_dunder
        os.dup2(saved, 2)
        for fd in (saved, devnull):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):
            stream.close()
