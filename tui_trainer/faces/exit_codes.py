"""The exit code of a headless run, decided from the run's result alone.

Kept apart from option parsing and threads so the mapping the README promises
(0 ok, 1 target missed, 2 bad input, 3 diverged, 4 failed, 130 interrupted)
can be tested, and mutation-tested, on plain events without a framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_trainer.core.errors import UserError

if TYPE_CHECKING:
    from tui_trainer.engine.session import RunResult

EXIT_OK = 0
EXIT_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Outcome:
    code: int
    #: The line for stderr after ``tui-trainer: ``, or None when there is nothing to add.
    message: str | None = None


def exit_status(result: RunResult | None, *, signal_number: int | None = None, min_val_acc: float | None = None,
                max_val_loss: float | None = None) -> Outcome:
    """Map a run's result to its exit code; thresholds are checked on the final epoch, not the best.

    ``signal_number``: the signal (SIGINT, SIGTERM, SIGHUP) that stopped the run, if one did: 128 + it.
    """
    if result is None:
        return Outcome(EXIT_FAILED, "error: training thread ended without a result")
    if result.failed is not None:
        code = EXIT_USAGE if isinstance(result.error, UserError) else EXIT_FAILED
        return Outcome(code, f"error: {result.failed.message}")
    finished = result.finished
    if signal_number is not None:
        return Outcome(128 + signal_number)
    if finished.reason == "stopped":
        return Outcome(EXIT_INTERRUPTED)
    if finished.reason == "diverged":
        return Outcome(EXIT_DIVERGED, "training diverged (loss is NaN or infinite); try a lower learning rate")
    final = finished.final
    if min_val_acc is not None and final is not None and final.val_acc is None:
        return Outcome(EXIT_USAGE, "error: --min-val-acc: this data is a regression task with no accuracy; "
                                   "use --max-val-loss")
    missed = []
    if min_val_acc is not None and (final is None or final.val_acc is None or final.val_acc < min_val_acc):
        missed.append(f"val_acc {getattr(final, 'val_acc', None)} < --min-val-acc {min_val_acc}")
    if max_val_loss is not None and (final is None or not final.val_loss <= max_val_loss):
        missed.append(f"val_loss {getattr(final, 'val_loss', None)} > --max-val-loss {max_val_loss}")
    if missed:
        return Outcome(EXIT_THRESHOLD, "target missed: " + "; ".join(missed))
    return Outcome(EXIT_OK)
