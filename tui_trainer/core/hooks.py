"""One way to take the event stream: a named hook per event type, Keras/Lightning style.

Every consumer of a run's events (the headless and JSON printers, the run-folder
writer, TensorBoard's copy, the app's courier, the reducer ``RunProgress``) is a
``Face``: it overrides the hooks it cares about and ``dispatch`` calls the one
for each event, so no consumer keeps its own ``isinstance`` chain and a new
face is one new class.  A hook it does not override falls through to
``on_event`` (nothing, unless the face says otherwise), so "every event as a
JSON line" is one method; ``on_run_finished`` and ``on_run_failed`` fall
through ``on_run_end`` first, for faces that treat both ends alike.

The events themselves (``core.events``) are unchanged: this only decides which
method of a face sees them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the hooks' signatures: importing this module stays free of numpy
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

#: The hook each event goes to, by the event's ``kind`` (the same name its JSON line carries).
HOOKS: dict[str, str] = {
    "run_started": "on_run_started",
    "epoch_ended": "on_epoch_ended",
    "progress": "on_progress",
    "boundary_updated": "on_boundary",
    "network_updated": "on_network",
    "class_report": "on_class_report",
    "run_finished": "on_run_finished",
    "run_failed": "on_run_failed",
}


def dispatch(face: Any, event: Event) -> Any:
    """Call ``face``'s hook for ``event`` and return what it returns."""
    try:
        name = HOOKS[event.kind]
    except (AttributeError, KeyError):
        raise TypeError(f"unknown engine event {event!r}") from None
    return getattr(face, name)(event)


class Face:
    """A consumer of the event stream: call it with each event; override the hooks it needs."""

    def __call__(self, event: Event) -> Any:
        return dispatch(self, event)

    def on_event(self, event: Event) -> Any:
        """Every event whose own hook is not overridden; nothing by default."""
        return None

    def on_run_started(self, event: RunStarted) -> Any:
        return self.on_event(event)

    def on_epoch_ended(self, event: EpochEnded) -> Any:
        return self.on_event(event)

    def on_progress(self, event: EpochProgress) -> Any:
        return self.on_event(event)

    def on_boundary(self, event: BoundaryUpdated) -> Any:
        return self.on_event(event)

    def on_network(self, event: NetworkUpdated) -> Any:
        return self.on_event(event)

    def on_class_report(self, event: ClassReport) -> Any:
        return self.on_event(event)

    def on_run_finished(self, event: RunFinished) -> Any:
        return self.on_run_end(event)

    def on_run_failed(self, event: RunFailed) -> Any:
        return self.on_run_end(event)

    def on_run_end(self, event: RunFinished | RunFailed) -> Any:
        """The run finished or failed: the last event of every run."""
        return self.on_event(event)
