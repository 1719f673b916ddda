"""Progress inside a long epoch: when to send an ``EpochProgress`` and what it says.

The backend calls the reporter from its batch loop (per batch for PyTorch, per
compiled chunk of batches for TensorFlow) with the samples done so far.  The
common case, an epoch not yet a second old or a report sent less than half a
second ago, costs one clock read and one comparison, so the loop does not slow
down (``benchmarks/bench_mnist.py`` measures it).

``TUI_TRAINER_PROGRESS_AFTER`` and ``TUI_TRAINER_PROGRESS_EVERY`` (seconds)
change the defaults: tests use 0 to see progress in a short run.
``TUI_TRAINER_PROGRESS=off`` turns it off (the benchmark's reference).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from tui_trainer.core.events import EpochProgress

#: An epoch must have run this long before its first progress report (seconds).
AFTER = 1.0
#: Shortest time between two progress reports (seconds).
EVERY = 0.5


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


class EpochProgressReporter:
    """Called as ``reporter(samples_done)`` from a batch loop; emits at most every ``every`` seconds."""

    def __init__(self, emit: Callable[[EpochProgress], None], epochs: int, samples: int, batch_size: int,
                 *, after: float | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.emit = emit
        self.epochs = epochs
        self.samples = samples
        self.batch_size = batch_size
        self.batches = max(1, math.ceil(samples / batch_size))
        self.after = _env_seconds("TUI_TRAINER_PROGRESS_AFTER", AFTER) if after is None else after
        self.every = _env_seconds("TUI_TRAINER_PROGRESS_EVERY", EVERY) if every is None else every
        self.clock = clock
        self.epoch = 0
        self._t0 = 0.0
        self._next = math.inf
        self._epoch_seconds: list[float] = []  # whole epochs (training, validation, events)
        self.enabled = os.environ.get("TUI_TRAINER_PROGRESS", "").lower() not in ("off", "0", "no")

    def start(self, epoch: int) -> None:
        """A new epoch begins now."""
        now = self.clock()
        if self.epoch:
            self._epoch_seconds.append(now - self._t0)
        self.epoch = epoch
        self._t0 = now
        self._next = now + self.after

    def __call__(self, samples_done: int) -> None:
        now = self.clock()
        if now < self._next or samples_done >= self.samples or samples_done <= 0:
            return
        self._next = now + self.every
        elapsed = max(now - self._t0, 1e-9)
        rate = samples_done / elapsed
        epoch_eta = (self.samples - samples_done) / rate
        per_epoch = (sum(self._epoch_seconds) / len(self._epoch_seconds) if self._epoch_seconds
                     else elapsed + epoch_eta)
        self.emit(EpochProgress(
            epoch=self.epoch, epochs=self.epochs,
            batches_done=min(self.batches, math.ceil(samples_done / self.batch_size)), batches=self.batches,
            samples_done=samples_done, samples=self.samples, samples_per_s=rate,
            epoch_eta=epoch_eta, run_eta=epoch_eta + (self.epochs - self.epoch) * per_epoch,
        ))
