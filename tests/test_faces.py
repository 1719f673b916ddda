"""Faces take the event stream through named hooks; one duration format for every face."""

from __future__ import annotations

import numpy as np
import pytest

from tui_trainer.core.durations import fmt_duration
from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    EpochProgress,
    NetworkUpdated,
    RunFailed,
    RunFinished,
)
from tui_trainer.core.hooks import HOOKS, Face, dispatch

EPOCH = EpochEnded(epoch=1, epochs=2, loss=0.5, acc=0.5, val_loss=0.4, val_acc=0.6, seconds=0.01)
FINISHED = RunFinished(reason="completed", epochs_run=1, best_epoch=1, best_val_loss=0.4, best_val_acc=0.6,
                       final=EPOCH, seconds=0.02)
FAILED = RunFailed(message="boom")


class Ends(Face):
    """A new face is one class: this one counts epochs and notes how the run ended."""

    def __init__(self) -> None:
        self.epochs = 0
        self.other: list[str] = []
        self.end: object = None

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self.epochs += 1

    def on_run_end(self, event: RunFinished | RunFailed) -> None:
        self.end = event

    def on_event(self, event) -> None:
        self.other.append(event.kind)


def test_each_event_reaches_its_hook_and_the_rest_fall_through() -> None:
    face = Ends()
    boundary = BoundaryUpdated(epoch=1, values=np.zeros((2, 2), np.float32))
    progress = EpochProgress(epoch=2, epochs=2, batches_done=1, batches=4, samples_done=15, samples=60,
                             samples_per_s=100.0, epoch_eta=0.5, run_eta=0.5)
    report = ClassReport(class_names=("a", "b"), confusion=np.eye(2, dtype=int))
    for event in (EPOCH, boundary, progress, report, EPOCH, FINISHED):
        face(event)
    assert face.epochs == 2 and face.other == ["boundary_updated", "progress", "class_report"]
    assert face.end is FINISHED
    face(FAILED)
    assert face.end is FAILED  # both ends go through on_run_end


def test_every_event_type_has_a_hook_and_hooks_return_their_value() -> None:
    class Kinds(Face):
        def on_event(self, event):
            return event.kind

    kinds = Kinds()
    assert dispatch(kinds, EPOCH) == "epoch_ended" and kinds(FAILED) == "run_failed"
    assert dispatch(kinds, NetworkUpdated(epoch=0, layers=())) == "network_updated"
    assert set(HOOKS.values()) <= {name for name in dir(Face) if name.startswith("on_")}
    with pytest.raises(TypeError, match="unknown engine event"):
        kinds("not an event")  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "–"), (float("nan"), "–"), (float("inf"), "–"),
    (0.04, "0.0s"), (12.34, "12.3s"), (59.94, "59.9s"), (60, "1m00s"), (245, "4m05s"),
    (3599.4, "59m59s"), (3600, "1h00m"), (11_220, "3h07m"),
    (47 * 3600 + 59 * 60, "47h59m"), (48 * 3600, "2d00h"), (7 * 86400, "7d00h"), (2 * 86400 + 5 * 3600, "2d05h"),
])
def test_one_duration_format_for_the_app_and_the_runs_table(seconds, text) -> None:
    assert fmt_duration(seconds) == text
