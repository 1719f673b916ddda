"""Thread-safe run control: the only thing a face needs to steer a run.

The engine polls ``should_stop`` every batch (or chunk of batches) and calls
``checkpoint`` between epochs, where pause, step and stop take effect.
"""

from __future__ import annotations

import threading


class RunControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._stopped = False
        self._steps = 0
        #: Shape (rows, cols) of the boundary grid the face wants; None = only at the end.
        self.grid_shape: tuple[int, int] | None = None
        #: Minimum seconds between boundary updates while training.
        self.grid_interval: float = 0.25
        #: Grid (rows, cols) of the per-neuron maps; when set, every boundary update also sends a
        #: ``NetworkUpdated`` (one forward pass for both when the shapes agree). None = no network view.
        self.network_shape: tuple[int, int] | None = None

    # -- called from any thread (the UI) --------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause if running, resume if paused; returns the new paused state."""
        with self._cond:  # re-entrant: pause/resume take the same lock again
            if self._paused:
                self.resume()
            else:
                self.pause()
            return self._paused

    def step(self) -> None:
        """Run one more epoch and pause again (pauses first if running)."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self._stopped

    # -- called from the training thread --------------------------------------------------
    def should_stop(self) -> bool:
        return self._stopped

    def checkpoint(self) -> bool:
        """Block while paused; return False when the run must stop."""
        with self._cond:
            while self._paused and not self._stopped and self._steps == 0:
                self._cond.wait(timeout=0.5)
            if self._stopped:
                return False
            if self._paused and self._steps > 0:
                self._steps -= 1
            return True
