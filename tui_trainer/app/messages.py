"""Messages that carry work done in thread workers back to the UI thread.

Workers never touch widgets: they post one of these small dataclasses and the
app updates its state on its own thread.  Training messages carry the run id so
that late events from a stopped run can't leak into the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    EpochProgress,
    Event,
    NetworkUpdated,
    RunFailed,
    RunFinished,
    RunStarted,
)
from tui_trainer.core.hooks import Face
from tui_trainer.data.datasets import Dataset

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np


@dataclass
class RunBegan(Message):
    run_id: int
    event: RunStarted


@dataclass
class EpochDone(Message):
    """Finished epochs, oldest first: usually one, several when epochs take under COALESCE seconds."""

    run_id: int
    events: tuple[EpochEnded, ...]


@dataclass
class EpochProgressed(Message):
    """How far a long epoch has got (only sent for epochs over about a second)."""

    run_id: int
    event: EpochProgress


@dataclass
class BoundaryReady(Message):
    run_id: int
    event: BoundaryUpdated


@dataclass
class NetworkReady(Message):
    run_id: int
    event: NetworkUpdated


@dataclass
class ClassReportReady(Message):
    run_id: int
    event: ClassReport


@dataclass
class RunEnded(Message):
    """The run is over: exactly one of ``finished`` / ``failed`` is set."""

    run_id: int
    finished: RunFinished | None = None
    failed: RunFailed | None = None


@dataclass
class DataLoaded(Message):
    """A preview dataset for the map (or why it could not be loaded)."""

    key: object
    dataset: Dataset | None
    error: str | None = None


@dataclass
class BackendLoaded(Message):
    """A framework finished importing in the background (``error`` if it could not)."""

    backend: str
    error: str | None = None


@dataclass
class PredictionDone(Message):
    """Result of the predict box, already worded for the user."""

    text: str
    ok: bool = True


@dataclass
class GalleryPredicted(Message):
    """Predicted classes for the validation images shown in the gallery."""

    run_id: int
    predicted: np.ndarray


#: Shortest time between two epoch messages from a run (so at most 20 a second).
COALESCE = 0.05


class Courier(Face):
    """Carries one run's events from the training thread to the app as messages.

    Each message costs the UI thread a dispatch, and the UI thread shares the
    GIL with training, so epochs that end less than ``COALESCE`` seconds after
    the last message ride along with the next one.  Nothing waits longer than
    one epoch: any other event, a pause (the engine is about to block) or a
    slow epoch sends everything at once, in order.
    """

    def __init__(self, run_id: int, post: Callable[[Message], object], paused: Callable[[], bool],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.run_id = run_id
        self._post = post
        self._paused = paused
        self._clock = clock
        self._epochs: list[EpochEnded] = []
        self._last = -float("inf")
        self._messages = _Messages(run_id)

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self._epochs.append(event)
        now = self._clock()
        if now - self._last >= COALESCE or self._paused():
            self._flush(now)

    def on_event(self, event: Event) -> None:
        self._flush(self._clock())
        self._post(self._messages(event))

    def _flush(self, now: float) -> None:
        if self._epochs:
            self._post(EpochDone(self.run_id, tuple(self._epochs)))
            self._epochs = []
            self._last = now


class _Messages(Face):
    """The UI message for each engine event (the hooks return it)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id

    def on_epoch_ended(self, event: EpochEnded) -> Message:
        return EpochDone(self.run_id, (event,))

    def on_progress(self, event: EpochProgress) -> Message:
        return EpochProgressed(self.run_id, event)

    def on_boundary(self, event: BoundaryUpdated) -> Message:
        return BoundaryReady(self.run_id, event)

    def on_network(self, event: NetworkUpdated) -> Message:
        return NetworkReady(self.run_id, event)

    def on_run_started(self, event: RunStarted) -> Message:
        return RunBegan(self.run_id, event)

    def on_class_report(self, event: ClassReport) -> Message:
        return ClassReportReady(self.run_id, event)

    def on_run_finished(self, event: RunFinished) -> Message:
        return RunEnded(self.run_id, finished=event)

    def on_run_failed(self, event: RunFailed) -> Message:
        return RunEnded(self.run_id, failed=event)


def message_for(run_id: int, event: Event) -> Message:
    """The UI message for one engine event (``TypeError`` for an unknown one)."""
    message: Message = _Messages(run_id)(event)
    return message
