"""Crash-safe file primitives for run folders: atomic replace, whole-line logs, one writer.

A run folder is read by other processes while it is written (``tui-trainer
runs``, ``attach``, other tools), and its writer may die at any moment (SIGKILL,
a full disk, a vanished folder).  So:

* small files (``summary.json``, ``state.json``, ``config.toml``, weights) are
  written to a temporary file in the same folder and renamed over the old one:
  a reader sees the old file or the new one, never half of one;
* logs (``history.jsonl``, ``history.csv``) are appended with one ``write``
  call per batch of whole lines; when a write fails part way, the file is cut
  back to its last whole line, so no reader ever sees a partial line;
* a folder has one writer: ``RunLock`` holds an ``flock`` on ``lock`` for the
  writer's lifetime.  The kernel drops it when the process dies, however it
  dies, which is also how a reader tells a live run from an interrupted one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError

LOCK_NAME = "lock"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file in the same folder + rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the run from other tools and users
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def atomic_save(path: Path, save: Callable[[Path], Path]) -> Path:
    """Run a framework's ``save(stem) -> file`` into a temp folder, then rename the file to ``path``.

    Frameworks write weights in many small writes; a full disk half way would
    leave a truncated file where the previous good one was.
    """
    path = Path(path)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    try:
        try:
            written = save(tmpdir / "model")
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - frameworks wrap I/O errors in their own (RuntimeError...)
            raise _as_os_error(exc, tmpdir) from exc
        os.replace(written, path)
        return path
    finally:
        for leftover in tmpdir.iterdir() if tmpdir.exists() else ():
            with contextlib.suppress(OSError):
                leftover.unlink()
        with contextlib.suppress(OSError):
            tmpdir.rmdir()


def _as_os_error(exc: Exception, folder: Path) -> OSError:
    """A framework's save error as the OSError it most likely was (a full disk says so)."""
    try:
        full = shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(errno.EIO, f"saving the weights failed ({type(exc).__name__}: {exc})")


class LineLog:
    """An append-only text file written in whole lines.

    ``write`` takes complete lines (each ending in a newline) and hands them to
    the kernel in one ``os.write`` loop; if that fails (ENOSPC, EFBIG, EIO), the
    file is truncated back to where this write began and the error re-raised.
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        self.size = os.fstat(self._fd).st_size

    def write(self, text: str) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        data = text.encode("utf-8")
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except BaseException:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self.size)
            raise
        self.size += done

    def rewind(self, size: int) -> None:
        """Cut the file back to ``size`` bytes (a line whose partner in another log could not be written)."""
        if self._fd is not None and size < self.size:
            os.ftruncate(self._fd, size)
            self.size = size

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None


def host_name() -> str:
    return socket.gethostname()


def read_holder(folder: Path) -> dict[str, Any]:
    """What the lock file says about its writer (pid, host, since); {} if unreadable."""
    try:
        data = json.loads((Path(folder) / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} (since {holder.get('since', '?')})"


def lock_held(folder: Path) -> bool | None:
    """Whether some process holds the folder's lock; None when there is no lock file.

    A shared, non-blocking probe: it fails exactly when a writer holds the
    exclusive lock, and takes nothing away from anyone.
    """
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return True
        return None
    finally:
        os.close(fd)
    return False


class RunLock:
    """The one-writer lock of a run folder, held until ``release`` or the process's death."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None

    def acquire(self, *, wait: float = 0.3) -> None:
        """Take the lock or raise ``UserError`` naming who holds it.

        Waits a moment first: a reader's probe (``lock_held``) holds a shared
        lock for a few microseconds.
        """
        path = self.folder / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise UserError(
                        f"run folder {self.folder} is in use by {describe_holder(read_holder(self.folder))}; "
                        "one run writes a folder at a time (choose another --output, or stop that run)"
                    ) from None
                time.sleep(0.02)
        self._fd = fd
        info = {"pid": os.getpid(), "host": host_name(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        data = (json.dumps(info) + "\n").encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            pass  # the lock itself is what counts; the note about who holds it is a courtesy

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if remove:
            with contextlib.suppress(OSError):
                (self.folder / LOCK_NAME).unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)
