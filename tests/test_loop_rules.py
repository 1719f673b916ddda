"""The loop's rules as callbacks: a new stopping rule is one class, the hooks come in order.

PyTorch on the hand-made data of ``test_loop.py`` (milliseconds per run).  The
rules here are the test's own; the built-in ones are held by ``test_loop.py``.
"""

from __future__ import annotations

import math

import pytest

from tests.test_hand_metrics import FixedWeights
from tests.test_loop import config, dataset, epochs_of
from tui_trainer.core.control import RunControl
from tui_trainer.core.events import BoundaryUpdated, EpochEnded, RunFinished
from tui_trainer.core.progress import RunProgress
from tui_trainer.engine.callbacks import Callback, LoopState

pytestmark = [pytest.mark.framework]


class StopAtValAcc(Callback):
    """A target-metric stop: the whole of a new stopping rule."""

    def __init__(self, target: float) -> None:
        self.target = target

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        return "early-stopped" if epoch.val_acc is not None and epoch.val_acc >= self.target else None


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_run_start(self, loop: LoopState) -> None:
        self.calls.append(("start", loop.epochs, loop.last))

    def on_epoch_end(self, loop: LoopState, epoch: EpochEnded) -> str | None:
        self.calls.append(("epoch", epoch.epoch, loop.last is epoch))
        return None

    def on_run_end(self, loop: LoopState, reason: str) -> None:
        self.calls.append(("end", reason, loop.last.epoch if loop.last else 0))


def run_with(callbacks, cfg, control=None):
    events: list = []
    session = FixedWeights(cfg, dataset(), threads=1, callbacks=callbacks)
    result = session.run(events.append, control)
    return result, events


def test_a_new_stopping_rule_is_one_class() -> None:
    # Find, with no rule, the first epoch whose val_acc reaches the best val_acc of a 40-epoch run.
    _, free = run_with([], config(learning_rate=0.2, epochs=40))
    accs = [e.val_acc for e in epochs_of(free)]
    target = max(accs)
    first = accs.index(target) + 1
    assert first < 40  # else the rule could not show itself

    result, events = run_with([StopAtValAcc(target)], config(learning_rate=0.2, epochs=40))
    done = result.finished
    assert done.reason == "early-stopped" and done.epochs_run == first
    assert [e.epoch for e in epochs_of(events)] == list(range(1, first + 1))
    # Same epochs as the free run up to there: the rule only decides when to stop.
    assert [(e.loss, e.val_loss) for e in epochs_of(events)] == [(e.loss, e.val_loss) for e in epochs_of(free)[:first]]
    assert isinstance(events[-1], RunFinished) and done.final is epochs_of(events)[-1]


def test_the_hooks_come_in_order_with_the_reason() -> None:
    recorder = Recorder()
    control = RunControl()

    def stop_after_three(event):
        if isinstance(event, EpochEnded) and event.epoch == 3:
            control.stop()

    events: list = []
    session = FixedWeights(config(learning_rate=0.1, epochs=10), dataset(), threads=1, callbacks=[recorder])

    def emit(event):
        events.append(event)
        stop_after_three(event)

    result = session.run(emit, control)
    assert result.finished.reason == "stopped"
    assert recorder.calls == [("start", 10, None), ("epoch", 1, True), ("epoch", 2, True), ("epoch", 3, True),
                              ("end", "stopped", 3)]


def test_a_built_in_rule_ends_the_run_before_later_callbacks_see_the_epoch() -> None:
    # Patience 1 on weights that barely move: epoch 2 is not better, early stopping ends the run there,
    # and a callback after the built-in ones never hears of epoch 2's end.
    recorder = Recorder()
    result, _ = run_with([recorder], config(learning_rate=1e-9, epochs=10, patience=1))
    assert result.finished.reason == "early-stopped" and result.finished.epochs_run == 2
    assert recorder.calls == [("start", 10, None), ("epoch", 1, True), ("end", "early-stopped", 2)]


def test_the_engine_and_the_reducer_agree_on_the_best_epoch() -> None:
    control = RunControl()
    control.grid_shape = (2, 2)
    control.grid_interval = 0.0
    reducer = RunProgress()
    events: list = []

    def emit(event):
        events.append(event)
        reducer(event)

    result = FixedWeights(config(learning_rate=0.5, epochs=12), dataset(y_val=[-1, 1, -1, 1, -1, 1]),
                          threads=1).run(emit, control)
    done = result.finished
    assert reducer.finished is done and reducer.last is done.final and reducer.epochs_done == done.epochs_run
    assert reducer.best.epoch == done.best_epoch and reducer.best.val_loss == done.best_val_loss
    assert reducer.boundary is [e for e in events if isinstance(e, BoundaryUpdated)][-1]


def test_a_diverged_epoch_is_never_the_best() -> None:
    # A training loss gone to infinity with a finite, lower validation loss: the run diverged there.
    reducer = RunProgress()
    good = EpochEnded(epoch=1, epochs=3, loss=0.5, acc=0.5, val_loss=0.4, val_acc=0.5, seconds=0.01)
    broken = EpochEnded(epoch=2, epochs=3, loss=math.inf, acc=0.5, val_loss=0.1, val_acc=0.5, seconds=0.01)
    assert reducer.apply(good) is True and reducer.apply(broken) is False
    assert reducer.best is good and reducer.last is broken


def test_a_face_asks_the_session_through_methods() -> None:
    session = FixedWeights(config(learning_rate=0.1, epochs=3), dataset(), threads=1)
    assert not session.has_model() and session.last_epoch() == 0
    assert session.load_data() is session.dataset is session.load_data()  # given data: never loaded again
    result = session.run(lambda event: None)
    assert session.has_model() and session.last_epoch() == result.finished.epochs_run == 3
    assert session.boundary(2, 3).epoch == 3 and session.boundary(2, 3, 7).epoch == 7  # the weights' epoch unless told
    net, boundary = session.network((2, 2), map_shape=(2, 2))
    assert net.epoch == boundary.epoch == 3
