"""Keeps what TensorFlow, absl and friends print from C++ off the user's terminal.

TensorFlow writes ``WARNING: All log messages before absl::InitializeLog() ...``
and a oneDNN notice straight to file descriptor 2 while it is imported, and
``TF_CPP_MIN_LOG_LEVEL`` does not silence them; in the app those lines land on
top of the UI.  Python-level redirection can't catch C++ writes, so
``native_stderr_diverted`` works on the file descriptor: for the life of a run
(or of the app) fd 2 points at a temporary file, while ``sys.stderr`` (and
``sys.__stderr__``, which Textual draws to) write to a duplicate of the real
terminal.  Our own lines still reach the user; the framework's are kept, and
``--verbose`` turns the whole thing off.  ``TF_ENABLE_ONEDNN_OPTS`` is left
alone on purpose: it would change the numerics, not just the noise.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

#: Environment for quiet framework imports; set (if unset) before the first import.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
#: With ``--verbose``: everything, including TensorFlow's INFO lines.
VERBOSE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "0"}


@dataclass
class Diverted:
    """What the frameworks wrote to fd 2 while it was diverted (filled in at the end)."""

    active: bool = False
    text: str = ""
    lines: list[str] = field(default_factory=list)


def prepare_environment(verbose: bool) -> None:
    for key, value in (VERBOSE_ENV if verbose else QUIET_ENV).items():
        os.environ.setdefault(key, value)


def _real_stderr() -> bool:
    """Only when nobody (pytest, a caller) has replaced sys.stderr and fd 2 is open."""
    if sys.stderr is None or sys.stderr is not sys.__stderr__:
        return False
    try:
        return sys.stderr.fileno() == 2 and os.fstat(2) is not None
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def native_stderr_diverted(enabled: bool = True) -> Iterator[Diverted]:
    """Point fd 2 at a temporary file; keep ``sys.stderr`` on the real one.

    A no-op (``active`` False) when disabled or when sys.stderr is not the
    process's own fd 2, so in-process callers and captured tests are untouched.
    """
    result = Diverted()
    if not enabled or not _real_stderr():
        yield result
        return
    old_stderr, old_dunder = sys.stderr, sys.__stderr__
    old_stderr.flush()
    saved = os.dup(2)
    ours = open(saved, "w", buffering=1, encoding=old_stderr.encoding,  # noqa: SIM115 - closed below
                errors=old_stderr.errors or "backslashreplace", closefd=True)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    os.dup2(log.fileno(), 2)
    sys.stderr = sys.__stderr__ = ours
    result.active = True
    try:
        yield result
    finally:
        with contextlib.suppress(OSError, ValueError):
            ours.flush()
        os.dup2(saved, 2)
        sys.stderr, sys.__stderr__ = old_stderr, old_dunder
        with contextlib.suppress(OSError, ValueError):
            ours.close()
        log.seek(0)
        result.text = log.read().decode("utf-8", "replace")
        result.lines = [line for line in result.text.splitlines() if line.strip()]
        log.close()
