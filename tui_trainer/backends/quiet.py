"""Keep what a framework's native code prints at import off the user's terminal.

TensorFlow 2.21 writes two lines to file descriptor 2 as it loads, whatever
``TF_CPP_MIN_LOG_LEVEL`` says ("All log messages before absl::InitializeLog()
..." and the oneDNN notice).  In the app they land on top of the screen; in
headless runs between a script's lines.  Python's ``sys.stderr`` can't catch
them (they come from C++), so the descriptor itself points at /dev/null while
the framework is imported, and is put back at once.  Failures still surface:
an import error is a Python exception, reported as always.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send fd 2 to /dev/null for the block (one block at a time; Python's own stderr is flushed first)."""
    with _LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:  # no descriptor 2 to redirect: nothing to keep quiet
            yield
            return
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
