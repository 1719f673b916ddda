"""Checks for command-line values, run by argparse before anything heavy.

A bad threshold or output folder must fail in a fraction of a second with one
line, not after the framework import and a whole run.  Each function here is an
argparse ``type=``: it gets the raw text and returns the value or raises
``argparse.ArgumentTypeError`` with the reason (argparse adds the option name).
Only the standard library is used, so ``tui-trainer --help`` stays instant.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from tui_trainer.core.textsafe import printable


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def accuracy_target(text: str) -> float:
    """``--min-val-acc``: an accuracy, 0..1 (NaN would make every run pass)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; allowed: 0 <= X <= 1 (an accuracy)")
    return value


def loss_target(text: str) -> float:
    """``--max-val-loss``: a finite loss, >= 0."""
    value = _number(text)
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; allowed: a finite number >= 0")
    return value


def preset_name(text: str) -> str:
    """``--preset``: a name or path; never empty (an empty value used to mean circle silently)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a preset name (see --list-presets) or a .toml path")
    return text


def output_location(text: str) -> Path:
    """``--output``: a folder we will be able to create and write, checked now.

    Refuses an empty value (it used to mean the current folder), a dangling
    symbolic link, a path below a file and a folder we can't write to.
    Whether the folder already holds a run is checked later, with the other
    config checks, by ``export.check_output_dir``.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give the folder to write the run to")
    path = Path(text).expanduser()
    if path.is_symlink() and not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: is a symbolic link to {os.readlink(path)}, which does not exist")
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{text}: the folder is not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        if parent.is_symlink():
            raise argparse.ArgumentTypeError(f"{text}: {parent} is a symbolic link that leads nowhere")
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: can't create it, {parent} is not writable")
    return path


#: Signals that end a headless run the way Ctrl-C does; the exit code is 128 + the signal number.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class UsageParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2 (every tui-trainer command uses it)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog
        sys.stderr.write(f"{command}: error: {printable(message)} (see {command} --help)\n")
        raise SystemExit(2)
