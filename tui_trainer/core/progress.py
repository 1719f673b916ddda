"""The one reducer from a run's event stream to what is known about the run so far.

Faces that need "epochs done, best epoch, last epoch, how it ended" fold the
events through ``RunProgress.apply`` instead of keeping their own copy of the
rule (the best epoch is the one with the strictly lowest finite validation
loss, as in the engine).  It keeps no history, so it costs the same after ten
epochs or ten million.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
)


def is_better(candidate: EpochEnded, best: EpochEnded | None) -> bool:
    return math.isfinite(candidate.val_loss) and (best is None or candidate.val_loss < best.val_loss)


@dataclass
class RunProgress:
    started: RunStarted | None = None
    last: EpochEnded | None = None
    best: EpochEnded | None = None
    boundary: BoundaryUpdated | None = None
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
        if isinstance(event, EpochEnded):
            self.last = event
            if is_better(event, self.best):
                self.best = event
                return True
        elif isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, BoundaryUpdated):
            self.boundary = event
        elif isinstance(event, ClassReport):
            self.class_report = event
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, RunFailed):
            self.failed = event
        return False
