"""The one reducer from a run's event stream to what is known about the run so far.

Every face that needs "epochs done, the best epoch, the last epoch, how it
ended" folds the events through a ``RunProgress`` instead of keeping its own
copy of the rule: the engine (for ``RunFinished``'s best epoch), the headless
summary, the run-folder writer (``state.json``, which ``tui-trainer runs``
lists), the app's run state and the app's replay of a run's log.  The best
epoch is the one with the strictly lowest finite validation loss whose
training loss is finite too (the epoch where a run diverges is never its best).
It keeps no history, so it costs the same after ten epochs or ten million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    Event,
    NetworkUpdated,
    RunFailed,
    RunFinished,
    RunStarted,
)
from tui_trainer.core.hooks import Face


def is_better(candidate: EpochEnded, best: EpochEnded | None) -> bool:
    """The one rule for "best epoch": a finite epoch with a strictly lower validation loss."""
    return (math.isfinite(candidate.val_loss) and math.isfinite(candidate.loss)
            and (best is None or candidate.val_loss < best.val_loss))


@dataclass
class RunProgress(Face):
    started: RunStarted | None = None
    last: EpochEnded | None = None
    best: EpochEnded | None = None
    boundary: BoundaryUpdated | None = None
    network: NetworkUpdated | None = None
    class_report: ClassReport | None = None
    finished: RunFinished | None = None
    failed: RunFailed | None = None

    @property
    def epochs_done(self) -> int:
        return self.last.epoch if self.last is not None else 0

    @property
    def over(self) -> bool:
        return self.finished is not None or self.failed is not None

    def apply(self, event: Event) -> bool:
        """Fold one event in; True when it made a new best epoch."""
        return bool(self(event))

    # -- the hooks ------------------------------------------------------------------------------
    def on_epoch_ended(self, event: EpochEnded) -> bool:
        self.last = event
        if is_better(event, self.best):
            self.best = event
            return True
        return False

    def on_run_started(self, event: RunStarted) -> None:
        self.started = event

    def on_boundary(self, event: BoundaryUpdated) -> None:
        self.boundary = event

    def on_network(self, event: NetworkUpdated) -> None:
        self.network = event

    def on_class_report(self, event: ClassReport) -> None:
        self.class_report = event

    def on_run_finished(self, event: RunFinished) -> None:
        self.finished = event

    def on_run_failed(self, event: RunFailed) -> None:
        self.failed = event
