"""Writes a run folder as the run happens: one consumer of the event stream.

``RunExporter`` takes the folder's lock before training (one writer per
folder), then turns events into the files described in ``runstore``: the
resolved ``config.toml``, the event log ``history.jsonl`` and ``history.csv``
(appended and flushed every epoch, whole lines only), ``state.json`` (state,
pid, host, progress; rewritten atomically at most once a second and at every
change of state), the last and best weights and ``summary.json`` (atomically).

A write that fails (disk full, file too large, the folder removed) never raises
into the engine: the first error is kept in ``error``, ``on_fault`` is called
once (the CLI stops the run) and the logs are cut back to their last whole line.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_trainer.core.events import (
    BoundaryUpdated,
    EpochEnded,
    EpochProgress,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    event_json,
    to_json_dict,
)
from tui_trainer.core.hooks import Face
from tui_trainer.core.progress import RunProgress
from tui_trainer.runs.folder import LineLog, RunLock, atomic_save, atomic_write_json, atomic_write_text, host_name
from tui_trainer.runs.store import (
    EVENT_FILES,
    LIVE_STATES,
    REASON_STATE,
    RUN_FILES,
    STATE_NAME,
    check_output_dir,
    clear_run_files,
    now_iso,
)
from tui_trainer.runs.tensorboard import TensorBoardWriter
from tui_trainer.runs.versions import run_versions

__all__ = ["CSV_COLUMNS", "RUN_FILES", "GridSchedule", "RunExporter", "check_output_dir"]

CSV_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc", "mae", "val_mae", "seconds")
#: Seconds between progress rewrites of state.json while epochs go by.
STATE_INTERVAL = 1.0
#: Seconds between saves of the best weights while the run improves (always saved at the end).
BEST_INTERVAL = 5.0


_last_encoded: tuple[object, str] | None = None


def event_line(event: Event) -> str:
    """The event as one JSON line, encoded once for all the consumers that pass it on (log, socket)."""
    global _last_encoded
    cached = _last_encoded
    if cached is not None and cached[0] is event:
        return cached[1]
    line = event_json(event) + "\n"
    _last_encoded = (event, line)
    return line


class GridSchedule:
    """Which boundary grids go to the event log: sparse, and sparser the longer a run goes.

    The first grid is kept, then one after ``first`` seconds, the gap doubling
    up to ``cap``: a week-long run logs about a thousand grids (a few MB), a
    minute-long one a handful.  The last grid before the run ends is always kept.
    """

    def __init__(self, first: float = 5.0, cap: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.gap = first
        self.cap = cap
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self._last is None or now - self._last >= self.gap:
            if self._last is not None:
                self.gap = min(self.cap, self.gap * 2)
            self._last = now
            return True
        return False


class RunExporter(Face):
    """Writes one run folder; ``open`` first (the lock), then feed it every event.

    Every event is folded into the run's reducer (``progress``) first, which
    ``state.json`` and the best weights read; then the event's hook writes it.
    """

    def __init__(self, directory: Path, session_getter: Callable[[], Any], *, meta: dict[str, Any] | None = None,
                 on_fault: Callable[[OSError], None] | None = None, discard_failed: bool = True,
                 created: bool = False, grids: GridSchedule | None = None) -> None:
        self.dir = Path(directory)
        self._session_getter = session_getter
        self.meta = dict(meta or {})
        self.on_fault = on_fault
        #: A run that ends before its first epoch leaves nothing behind: stopped always; failed when this is set.
        self.discard_failed = discard_failed
        #: Whether this run created the folder (then an empty run removes the folder too).
        self.created = created
        self.grids = grids or GridSchedule()
        self.progress = RunProgress()
        self.lock = RunLock(self.dir)
        self.error: OSError | None = None
        self.weights: Path | None = None
        self.best_weights: Path | None = None
        self._best_saved_epoch = 0
        self._best_saved_at = -float("inf")
        self._pending_grid: BoundaryUpdated | None = None
        self._logged_grid_epoch = -1
        self._csv: LineLog | None = None
        self._jsonl: LineLog | None = None
        self._state: dict[str, Any] = {}
        self._state_written = -float("inf")
        self._paused = False
        #: A state that replaces "stopped" at the end (a sweep's pruned trial: stopped because it was hopeless).
        self.end_state: str | None = None
        #: The same events as TensorBoard scalars and hyperparameters, in the same folder.
        self.tensorboard = TensorBoardWriter(self.dir)

    # -- before training ----------------------------------------------------------------------
    def open(self, *, overwrite: bool = False, adopt: bool = False) -> None:
        """Create the folder, take its lock (``UserError`` naming the holder) and say the run is starting.

        ``overwrite`` removes an earlier run's files once the lock is ours;
        ``adopt`` keeps what a ``--detach`` launcher prepared (config, state, log).
        """
        if self.lock.held:
            return
        from tui_trainer.core.errors import UserError

        try:
            if not self.dir.exists():
                self.created = True
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"run folder {self.dir}: can't create it ({exc.strerror or exc})") from None
        self.lock.acquire()
        try:
            if overwrite and not adopt:
                clear_run_files(self.dir)
            if adopt:
                with contextlib.suppress(OSError, ValueError):
                    previous = json.loads((self.dir / STATE_NAME).read_text(encoding="utf-8"))
                    self.meta = {**previous, **self.meta}
            self._state = {"id": self.dir.name, **self.meta, "state": "starting", "pid": os.getpid(),
                           "host": host_name(), "started": self.meta.get("started") or now_iso()}
            self._state.pop("ended", None)
            self._write_state(force=True)
        except OSError as exc:
            self.lock.release()
            raise UserError(f"run folder {self.dir}: can't write it ({exc.strerror or exc})") from None

    # -- the event stream ---------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if not self.lock.held and self.error is None:
            try:
                self.open()
            except Exception as exc:  # noqa: BLE001 - reported through on_fault, never into the engine
                self._fault(exc if isinstance(exc, OSError) else OSError(str(exc)))
                return
        self.progress(event)
        if self.error is None:
            self.tensorboard(event)  # first: it is closed before an empty run's files are removed
        else:
            self.tensorboard.close()
        end = event if isinstance(event, RunFinished | RunFailed) else None
        if self.error is not None:
            if end is not None:
                self._end(end)
            return
        try:
            super().__call__(event)
        except Exception as exc:  # noqa: BLE001 - a recorder never breaks the run it records
            self._fault(exc if isinstance(exc, OSError) else OSError(errno.EIO, f"{type(exc).__name__}: {exc}"))
            if end is not None:
                self._end(end)

    # -- the hooks (after the reducer has the event) -----------------------------------------------
    def on_event(self, event: Event) -> None:
        self._log(event)

    def on_run_started(self, event: RunStarted) -> None:
        self._start(event)
        self._log(event)

    def on_boundary(self, event: BoundaryUpdated) -> None:
        if self.grids.due():
            self._log(event)
            self._logged_grid_epoch = event.epoch
            self._pending_grid = None
        else:
            self._pending_grid = event

    def on_progress(self, event: EpochProgress) -> None:
        """Transient, several a second: the log keeps whole epochs."""

    def on_run_end(self, event: RunFinished | RunFailed) -> None:
        if self._pending_grid is not None and self._pending_grid.epoch > self._logged_grid_epoch:
            self._log(self._pending_grid)
        self._pending_grid = None
        self._log(event)
        self._end(event)

    def set_paused(self, paused: bool) -> None:
        """The run was paused or resumed (the engine's events don't say): state.json follows."""
        self._paused = paused
        if self._state.get("state") in LIVE_STATES and self.progress.started is not None:
            self._state["state"] = "paused" if paused else "running"
            self._safe(lambda: self._write_state(force=True))

    def _start(self, event: RunStarted) -> None:
        from tui_trainer.core.presets import dumps

        atomic_write_text(self.dir / "config.toml", dumps(event.config))
        self._csv = LineLog(self.dir / "history.csv")
        self._csv.write(",".join(CSV_COLUMNS) + "\r\n")
        self._jsonl = LineLog(self.dir / "history.jsonl")
        cfg = event.config
        self._state.update({
            "state": "paused" if self._paused else "running",
            "dataset": cfg.data.dataset, "backend": event.summary.backend, "device": event.summary.device,
            "params": event.summary.params, "task": event.task, "epochs_total": cfg.train.epochs, "epochs_done": 0,
        })
        self._state.setdefault("preset", self.meta.get("preset") or cfg.data.dataset)
        self._write_state(force=True)

    def _log(self, event: Event) -> None:
        if self._jsonl is not None:
            self._jsonl.write(event_line(event))

    def on_epoch_ended(self, event: EpochEnded) -> None:
        logged = self._jsonl.size if self._jsonl is not None else None
        self._log(event)
        if self._csv is not None:
            buffer = io.StringIO()
            csv.writer(buffer).writerow([_csv_value(getattr(event, k)) for k in CSV_COLUMNS])
            try:
                self._csv.write(buffer.getvalue())
            except BaseException:
                # Both logs hold the same epochs: the event line goes too if its CSV row can't be written.
                if logged is not None and self._jsonl is not None:
                    with contextlib.suppress(OSError):
                        self._jsonl.rewind(logged)
                raise
        if self.progress.best is event and time.monotonic() - self._best_saved_at >= BEST_INTERVAL:
            self._save_best()
        self._write_state()

    def _save_best(self) -> None:
        session = self._session_getter()
        best = self.progress.best
        if session is None or not session.has_model() or best is None:
            return
        suffix = _weights_suffix(session)
        self.best_weights = atomic_save(self.dir / f"best{suffix}", lambda stem: session.save(stem.parent))
        self._best_saved_epoch = best.epoch
        self._best_saved_at = time.monotonic()

    def _write_state(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._state_written < STATE_INTERVAL:
            return
        self._state_written = now
        progress = self.progress
        if progress.last is not None:
            self._state["epochs_done"] = progress.last.epoch
        best = progress.best
        if best is not None:
            self._state.update({"best_epoch": best.epoch, "best_val_loss": _finite(best.val_loss),
                                "best_val_acc": best.val_acc, "best_val_mae": best.val_mae})
        self._state["updated"] = now_iso()
        atomic_write_json(self.dir / STATE_NAME, self._state)

    # -- the end ------------------------------------------------------------------------------
    def _end(self, event: RunFinished | RunFailed) -> None:
        empty = self.progress.epochs_done == 0
        if empty and (isinstance(event, RunFinished) or self.discard_failed):
            self.discard()
            return
        if isinstance(event, RunFinished):
            self._state["state"] = REASON_STATE.get(event.reason, "finished")
            if self.end_state is not None and event.reason == "stopped":
                self._state["state"] = self.end_state
            self._safe(lambda: self._finish(event))
        else:
            self._state["state"] = "failed"
            self._state["message"] = event.message
        if self.error is not None and self._state["state"] != "failed":
            self._state["state"] = "failed"
            self._state["message"] = f"can't write the run folder: {self.error.strerror or self.error}"
        self._state["ended"] = now_iso()
        self._safe(lambda: self._write_state(force=True))
        self.close()

    def _finish(self, event: RunFinished) -> None:
        session = self._session_getter()
        if session is not None and session.has_model() and event.epochs_run > 0:
            suffix = _weights_suffix(session)
            self.weights = atomic_save(self.dir / f"model{suffix}", lambda stem: session.save(stem.parent))
            best = self.progress.best
            if best is not None and best.epoch == event.epochs_run and self._best_saved_epoch != best.epoch:
                self.best_weights = atomic_save(self.dir / f"best{suffix}", lambda stem: session.save(stem.parent))
                self._best_saved_epoch = best.epoch
        summary = to_json_dict(event)
        # What made these numbers: the model's size, where it ran and the versions involved.
        summary.update({key: self._state.get(key) for key in ("backend", "device", "params")})
        backend = self._state.get("backend")
        summary["versions"] = run_versions(backend) if backend else None
        summary["weights"] = self.weights.name if self.weights else None
        summary["best_weights"] = self.best_weights.name if self.best_weights else None
        summary["best_weights_epoch"] = self._best_saved_epoch or None
        atomic_write_text(self.dir / "summary.json", json.dumps(summary, indent=2) + "\n")

    def discard(self) -> None:
        """Remove what this run wrote (it ran no epoch), so the folder can take a rerun."""
        self.close(keep_lock=True)
        for name in RUN_FILES:
            with contextlib.suppress(OSError):
                (self.dir / name).unlink()
        for path in self.dir.glob(EVENT_FILES):
            with contextlib.suppress(OSError):
                path.unlink()
        self.lock.release(remove=True)
        if self.created:
            with contextlib.suppress(OSError):
                self.dir.rmdir()

    def _safe(self, write: Callable[[], None]) -> None:
        try:
            write()
        except OSError as exc:
            self._fault(exc)

    def _fault(self, exc: OSError) -> None:
        if self.error is not None:
            return
        self.error = exc
        for log in (self._csv, self._jsonl):
            if log is not None:
                log.close()
        if self.on_fault is not None:
            self.on_fault(exc)

    def fault_message(self) -> str | None:
        if self.error is None:
            return None
        reason = self.error.strerror or str(self.error)
        where = f" ({self.error.filename})" if getattr(self.error, "filename", None) else ""
        return f"can't write the run folder {self.dir}: {reason}{where}; the run was stopped"

    def close(self, *, keep_lock: bool = False) -> None:
        self.tensorboard.close()
        for log in (self._csv, self._jsonl):
            if log is not None:
                log.close()
        if not keep_lock:
            self.lock.release()


def _weights_suffix(session: Any) -> str:
    return ".keras" if session.config.train.backend == "tensorflow" else ".pt"


def _finite(value: float) -> float | None:
    import math

    return value if math.isfinite(value) else None


def _csv_value(value: float | int | None) -> str | float | int:
    return "" if value is None else value
