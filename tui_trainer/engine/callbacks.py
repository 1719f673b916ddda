"""The training loop's rules, each a small object with named hooks (as Keras and Lightning keep them).

``Session._loop`` only trains epochs and calls, in order, every callback's
``on_run_start`` before the first epoch, ``on_epoch_end`` after each epoch's
event has gone to the faces (the first callback that returns a finish reason
ends the run with it), and ``on_run_end`` before ``RunFinished``.  A new
stopping rule is one new class passed as ``Session(..., callbacks=[...])``.

The order of the built-in rules is part of the event stream: divergence is
checked before anything else looks at a broken epoch, the map sampler runs
before early stopping (so a run that stops early still sends that epoch's
periodic map, as it always did), and the final map comes before the class report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui_trainer.core import metrics
from tui_trainer.core.control import RunControl
from tui_trainer.core.events import ClassReport, EpochEnded, Event
from tui_trainer.core.progress import RunProgress, is_better

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np


@dataclass
class LoopState:
    """What the loop shares with its callbacks: the session, the faces' ``emit`` and the run so far."""

    session: Any  # engine.Session (Any: the session imports this module)
    control: RunControl
    emit: Callable[[Event], None]
    epochs: int
    #: The one reducer's view of the run (``BestEpoch`` folds the epochs in): ``RunFinished`` reads its best.
    progress: RunProgress = field(default_factory=RunProgress)
    last: EpochEnded | None = None
    #: The last epoch's validation outputs (for the class report).
    val_out: np.ndarray | None = None


class Callback:
    """A loop rule: override the hooks it needs."""

    def on_run_start(self, loop: LoopState) -> None:
        """The model is built, no epoch has run yet."""

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        """After each epoch (its event already sent); a finish reason ends the run."""
        return None

    def on_run_end(self, loop: LoopState, reason: str) -> None:
        """The loop is over (``reason``: completed, stopped, or a callback's); ``RunFinished`` follows."""


class TerminateOnNaN(Callback):
    """A non-finite training or validation loss ends the run as ``diverged`` (Keras's ``TerminateOnNaN``)."""

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        return None if math.isfinite(epoch.loss) and math.isfinite(epoch.val_loss) else "diverged"


class BestEpoch(Callback):
    """Folds each epoch into the run's reducer, which keeps the best one for ``RunFinished``."""

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        loop.progress.on_epoch_ended(epoch)
        return None


class EarlyStopping(Callback):
    """Stops after ``patience`` epochs without a better validation loss (Keras's ``EarlyStopping``)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best: EpochEnded | None = None
        self.wait = 0

    def on_run_start(self, loop: LoopState) -> None:
        self.best, self.wait = None, 0

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        if is_better(epoch, self.best):
            self.best, self.wait = epoch, 0
        else:
            self.wait += 1
        return "early-stopped" if self.patience and self.wait >= self.patience else None


class BoundarySampler(Callback):
    """The decision-boundary map (and the network view's maps) the faces asked for, at their pace.

    One before training (unless only a final map is wanted), one whenever
    ``control.grid_interval`` seconds have passed after an epoch but the last,
    and one of the final model (none of a diverged one).  The control's grid
    shape is read each time: a face may resize its map while the run goes.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self._last = 0.0

    def on_run_start(self, loop: LoopState) -> None:
        control = loop.control
        self._last = self.clock()  # with an infinite interval the only map is the final one
        if control.grid_shape and math.isfinite(control.grid_interval):
            self._emit(loop, 0)
            self._last = self.clock()

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        control = loop.control
        if control.grid_shape and self.clock() - self._last >= control.grid_interval and epoch.epoch < loop.epochs:
            self._emit(loop, epoch.epoch)
            self._last = self.clock()
        return None

    def on_run_end(self, loop: LoopState, reason: str) -> None:
        if loop.last is not None and loop.control.grid_shape and reason != "diverged":
            self._emit(loop, loop.last.epoch)

    @staticmethod
    def _emit(loop: LoopState, epoch: int) -> None:
        control, session = loop.control, loop.session
        if control.grid_shape is None:
            return
        rows, cols = control.grid_shape
        net = None
        if control.network_shape is not None:
            net, event = session.network(control.network_shape, epoch, (rows, cols))
        else:
            event = session.boundary(rows, cols, epoch)
        if event is not None:
            loop.emit(event)
        if net is not None:
            loop.emit(net)


class ClassReporter(Callback):
    """Per-class accuracy and the confusion matrix of the final model, for multiclass data."""

    def on_run_end(self, loop: LoopState, reason: str) -> None:
        import numpy as np

        session = loop.session
        if loop.val_out is None or session.head.task != "multiclass":
            return
        ds = session.dataset
        pred = np.argmax(loop.val_out, axis=1)
        loop.emit(ClassReport(class_names=ds.class_names,
                              confusion=metrics.confusion_matrix(ds.y_val, pred, len(ds.class_names))))


def default_callbacks(patience: int) -> list[Callback]:
    """The built-in rules, in the order the event stream depends on (see the module's docstring)."""
    return [TerminateOnNaN(), BestEpoch(), BoundarySampler(), EarlyStopping(patience), ClassReporter()]


def first_stop(callbacks: Sequence[Callback], loop: LoopState, epoch: EpochEnded) -> str | None:
    """Each callback's ``on_epoch_end`` in order, until one returns a finish reason."""
    for callback in callbacks:
        reason = callback.on_epoch_end(loop, epoch)
        if reason:
            return reason
    return None
