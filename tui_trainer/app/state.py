"""What the UI knows about one training run, kept apart from the widgets.

Events arrive here (on the UI thread) as fast as the engine makes them; the
widgets read this state on a timer, so a run with 1 ms epochs costs a list
append per epoch, not a repaint.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui_trainer.core.config import Config
from tui_trainer.core.control import RunControl
from tui_trainer.core.durations import fmt_duration
from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    EpochProgress,
    Event,
    NetworkUpdated,
    RunFinished,
    RunStarted,
)
from tui_trainer.core.progress import RunProgress
from tui_trainer.engine.session import Session

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Most epochs a run's state keeps (a week-long run must not grow the viewer); see ``RunState.add_epoch``.
MAX_EPOCHS = 20_000
#: Newest epochs always kept one by one (the table shows the latest).
KEEP_RECENT = 2_000
#: Most points drawn per line in the loss plot; longer runs are thinned evenly.
MAX_PLOT_POINTS = 500

BACKEND_NAMES = {"tensorflow": "TensorFlow", "torch": "PyTorch"}


@dataclass
class RunState:
    """One run: its control, its session and everything it has reported so far.

    What the run is (started, last and best epoch, how it ended, the class
    report) is the one reducer every face uses, ``RunProgress``, in ``known``:
    events reach it through ``fold`` and ``add_epoch``.  ``epochs`` is this
    viewer's own bounded, thinned copy of the history, for the curves and the
    table; ``boundary`` is the map on show (maps the app asks for at a new
    size come on top of the run's own).
    """

    run_id: int
    config: Config
    control: RunControl
    session: Session
    started_at: float
    known: RunProgress = field(default_factory=RunProgress)
    epochs: list[EpochEnded] = field(default_factory=list)
    ended_at: float | None = None
    boundary: BoundaryUpdated | None = None
    network: NetworkUpdated | None = None
    #: The current epoch's progress while a long epoch runs; cleared when an epoch ends.
    progress: EpochProgress | None = None
    #: Set by the training thread as its very last act, so quitting can wait for it.
    thread_done: threading.Event = field(default_factory=threading.Event)
    #: Seconds spent paused in earlier pauses, and when the current pause began (None: not paused).
    paused_total: float = 0.0
    paused_since: float | None = None

    def fold(self, event: Event) -> None:
        """One event into the run's reducer; epochs come through ``add_epoch``, which keeps the curves too."""
        self.known(event)

    @property
    def started(self) -> RunStarted | None:
        return self.known.started

    @property
    def best(self) -> EpochEnded | None:
        return self.known.best

    @property
    def finished(self) -> RunFinished | None:
        return self.known.finished

    @property
    def failed(self) -> str | None:
        """Why the run failed (None: it did not)."""
        return self.known.failed.message if self.known.failed is not None else None

    @property
    def class_report(self) -> ClassReport | None:
        return self.known.class_report

    @property
    def over(self) -> bool:
        return self.known.over

    @property
    def task(self) -> str:
        return self.started.task if self.started else self.config.task

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def total_epochs(self) -> int:
        return self.config.train.epochs

    @property
    def last(self) -> EpochEnded | None:
        return self.known.last

    def add_epoch(self, event: EpochEnded) -> None:
        self.known(event)  # the last and the best epoch: the one rule, shared with every face
        self.epochs.append(event)
        if self.progress is not None and self.progress.epoch <= event.epoch:
            self.progress = None
        if len(self.epochs) > MAX_EPOCHS:
            # Bounded memory however long the run: the newest epochs stay whole, older ones are
            # thinned (again each time, so the oldest are the sparsest); the curves plot by epoch number.
            older, recent = self.epochs[:-KEEP_RECENT], self.epochs[-KEEP_RECENT:]
            self.epochs[:] = older[::2] + recent

    def phase(self) -> str:
        """idle words for the status line: running, paused, stopping, finished (reason), failed."""
        if self.failed is not None:
            return "failed"
        if self.finished is not None:
            return f"finished ({self.finished.reason})"
        if self.control.stopped:
            return "stopping…"
        if self.control.paused:
            return "paused"
        if self.started is None:
            return "starting…"
        return "running"

    def sync_pause(self, now: float) -> None:
        """Note a pause beginning or ending at ``now``.

        Only the UI pauses and resumes (F6, F8), and it calls this right after,
        so the clock stops when the person pauses, not when the status is next drawn.
        """
        paused = self.control.paused and not self.over
        if paused and self.paused_since is None:
            self.paused_since = now
        elif not paused and self.paused_since is not None:
            self.paused_total += now - self.paused_since
            self.paused_since = None

    def elapsed(self, now: float) -> float:
        """Seconds the run has been training: from the start to now (or its end), pauses left out."""
        end = self.ended_at if self.ended_at is not None else now
        if self.ended_at is None:
            self.sync_pause(now)
        paused = self.paused_total + (end - self.paused_since if self.paused_since is not None else 0.0)
        return max(0.0, end - self.started_at - paused)

    def eta(self) -> float | None:
        """Seconds left, from the recent epoch times the engine measured."""
        if self.over:
            return None
        if self.progress is not None:  # inside a long epoch: its own estimate is the freshest
            return self.progress.run_eta
        if not self.epochs:
            return None
        # The first epoch also pays for graph tracing and warm-up: leave it out once there are others.
        recent = self.epochs[-20:] if len(self.epochs) < 2 or len(self.epochs) > 20 else self.epochs[1:]
        per_epoch = sum(e.seconds for e in recent) / len(recent)
        return per_epoch * max(0, self.total_epochs - self.epochs[-1].epoch)


class UiBudget:
    """Keeps the UI thread's CPU use under ``share`` of a core while a run goes.

    The UI thread shares the GIL with the training thread, so every
    millisecond spent drawing can be a millisecond the engine waits.  Rather
    than guess what each widget costs, this measures the UI thread's own CPU
    time (``time.thread_time``) over the last ``window`` seconds; redraws are
    skipped while it is over budget and resume as soon as it is under.  On a
    fast machine that is every tick; on a busy 2-core box a few times a second.
    """

    def __init__(self, share: float = 0.10, window: float = 1.0) -> None:
        self.share = share
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def sample(self, wall: float, cpu: float) -> None:
        self._samples.append((wall, cpu))
        while len(self._samples) > 2 and wall - self._samples[0][0] > self.window:
            self._samples.popleft()

    def used(self) -> float:
        """Fraction of one core the UI thread used over the window (0 with too few samples)."""
        if len(self._samples) < 2:
            return 0.0
        (w0, c0), (w1, c1) = self._samples[0], self._samples[-1]
        return (c1 - c0) / (w1 - w0) if w1 > w0 else 0.0

    def ok(self) -> bool:
        return self.used() < self.share


def thin(n: int, limit: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` evenly spread points of ``n``, first and last kept."""
    import numpy as np

    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def fmt_epoch_time(seconds: float) -> str:
    """An epoch's time in at most 5 characters: ``0.4ms``, ``12ms``, ``154ms``, ``1.23s``, ``12.3s``, ``2m05s``.

    Playground epochs take milliseconds; shown in seconds they would all read 0.00.
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 0.00995:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 9.995:
        return f"{seconds:.2f}s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    return fmt_duration(seconds)


def fmt_float(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


Clock = Callable[[], float]
