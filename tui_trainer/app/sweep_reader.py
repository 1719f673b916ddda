"""Reading a sweep's Optuna storage for the app's sweep view, off the UI thread.

The view asks once a second what changed in one study; this module answers
with small frozen rows (a trial's number, state, value, params, seconds and
note, as ``tui-trainer sweep show`` reads them with ``runs.sweep.read_sweep``)
and only the rows that differ from the last answer, plus the curves of the
trials worth drawing (the running ones and the best), read from their run
folders' event logs with ``RunTail`` as ``compare`` does.  Everything here runs
in the view's worker thread: Optuna is imported there, on first use, never for
the app's first frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui_trainer.runs.comparison import RunTail
from tui_trainer.runs.sweep import StorageRef, open_storage, params_text, read_sweep, study_names

#: Optuna's trial states as the view names them.
STATE_NAMES = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
               "WAITING": "waiting"}
#: The most points of one curve sent to the UI (longer runs are thinned evenly, the last point kept).
MAX_POINTS = 400


@dataclass(frozen=True)
class StudyInfo:
    """One study in a storage, as the study list and the view's title show it."""

    name: str
    trials: int = 0
    direction: str = "minimize"
    metric: str = "val_loss"
    preset: str = ""
    best_value: float | None = None
    best_number: int | None = None
    best_params: str = ""
    asked: int | None = None


@dataclass(frozen=True)
class TrialRow:
    """One trial as a table row: only plain values, so the row is cheap to compare and to post."""

    number: int
    state: str
    value: float | None
    params: tuple[tuple[str, str], ...]
    seconds: float | None
    run_dir: str = ""
    note: str = ""
    #: The value is the last epoch's of a trial still running (shown ``~0.0123``).
    so_far: bool = False


@dataclass(frozen=True)
class Curve:
    """A trial's validation metric per epoch, thinned to at most ``MAX_POINTS`` points."""

    number: int
    epochs: tuple[float, ...]
    values: tuple[float, ...]


@dataclass
class Poll:
    """What one look at a study found: changed rows only, the study's summary, changed curves."""

    study: StudyInfo
    changed: tuple[TrialRow, ...] = ()
    curves: tuple[Curve, ...] = ()
    dropped_curves: tuple[int, ...] = ()


class StudyMissing(LookupError):
    """The storage has no study of that name (yet: a sweep just started may not have made it)."""


def show_param(value: Any) -> str:
    """A parameter's value in a few characters: floats to 4 significant digits, anything else as stored."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def default_storage(runs_dir: str | None = None) -> str:
    """The journal file ``tui-trainer sweep`` uses without ``--storage`` (in the runs folder)."""
    return str(StorageRef.resolve(None, runs_dir).journal)


def resolve(storage: str, runs_dir: str | None = None) -> StorageRef:
    """``storage`` as ``--storage`` takes it (a database password may come from the environment)."""
    return StorageRef.resolve(storage or None, runs_dir)


def masked(storage: str, text: str | None = None) -> str:
    """``text`` (or the storage itself) fit to show: the storage's password, and any URL's, as ``***``."""
    try:
        ref = resolve(storage)
    except Exception:  # noqa: BLE001 - a storage we can't even parse still gets its URLs masked
        from tui_trainer.runs.sweep import mask_url

        return mask_url(storage if text is None else text)
    return ref.masked if text is None else ref.scrub(text)


#: Seconds the view waits for a database server before saying it can't be reached (the app's quit
#: waits for the view's thread, so an unreachable host must not hold it for the system's TCP timeout).
CONNECT_TIMEOUT = 5


def bounded(ref: StorageRef) -> StorageRef:
    """A PostgreSQL storage with a connect timeout (unless the URL names one)."""
    if not ref.url.startswith("postgresql") or "connect_timeout=" in ref.url:
        return ref
    return replace(ref, url=ref.url + ("&" if "?" in ref.url else "?") + f"connect_timeout={CONNECT_TIMEOUT}")


def study_info(view: Any) -> StudyInfo:
    """The study's name, metric, direction and best trial, from ``read_sweep``'s view of it."""
    best = view.best
    return StudyInfo(name=view.name, trials=len(view.trials), direction=view.direction, metric=view.metric,
                     preset=view.preset, best_value=None if best is None else best.value,
                     best_number=None if best is None else best.number,
                     best_params="" if best is None else params_text(best.params),
                     asked=view.trials_asked if isinstance(view.trials_asked, int) else None)


def trial_row(row: Any, now: float) -> TrialRow:
    """``read_sweep``'s row as the table shows it: a running trial's value so far (its last epoch's, as
    ``sweep show`` prints it) and its seconds in whole seconds up to ``now``."""
    seconds = row.seconds
    if row.state == "RUNNING" and row.started is not None:
        seconds = float(round(max(0.0, now - row.started)))
    elif seconds is not None:
        seconds = round(seconds, 1)
    running = row.state == "RUNNING"
    note = row.note
    if running and row.last_step is not None:
        note = f"epoch {row.last_step}" + (f"; {note}" if note else "")
    return TrialRow(number=row.number, state=STATE_NAMES.get(row.state, row.state.lower()),
                    value=row.last_value if running else row.value,
                    params=tuple((k, show_param(v)) for k, v in sorted(row.params.items())), seconds=seconds,
                    run_dir=str(row.run_dir or ""), note=note, so_far=running)


def thin(xs: list[float], ys: list[float], most: int = MAX_POINTS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most ``most`` evenly spaced points of a curve, always keeping its last point."""
    if len(xs) <= most:
        return tuple(xs), tuple(ys)
    step = len(xs) / most
    picks = sorted({int(i * step) for i in range(most - 1)} | {len(xs) - 1})
    return tuple(xs[i] for i in picks), tuple(ys[i] for i in picks)


@dataclass
class SweepReader:
    """One storage, followed by one worker thread: ``poll`` says what changed since it last did."""

    storage_url: str
    runs_dir: str | None = None
    clock: Callable[[], float] = time.time
    _storage: Any = None
    _rows: dict[int, TrialRow] = field(default_factory=dict)
    _tails: dict[int, RunTail] = field(default_factory=dict)
    _study: str | None = None

    @property
    def storage(self) -> Any:
        """The Optuna storage; a journal file that does not exist yet is not created (``FileNotFoundError``)."""
        if self._storage is None:
            ref = resolve(self.storage_url, self.runs_dir)
            if ref.journal is not None and not ref.journal.is_file():
                raise FileNotFoundError(2, "no sweeps in this storage yet", str(ref.journal))
            self._storage = open_storage(bounded(ref))
        return self._storage

    def forget(self) -> None:
        """Send every row and curve again at the next poll (the view started its table afresh)."""
        self._study = None

    def studies(self) -> list[StudyInfo]:
        """Every study in the storage, newest first."""
        storage = self.storage
        return [study_info(read_sweep(storage, name)) for name in reversed(study_names(storage))]

    def poll(self, study: str) -> Poll:
        """The study's summary, its rows that changed since the last poll, and the curves that grew."""
        if study != self._study:
            self._study, self._rows, self._tails = study, {}, {}
        storage = self.storage
        try:
            storage.get_study_id_from_name(study)
        except KeyError:
            raise StudyMissing(study) from None
        view = read_sweep(storage, study)
        info = study_info(view)
        now = self.clock()
        changed = []
        for found in view.trials:
            row = trial_row(found, now)
            if self._rows.get(row.number) != row:
                self._rows[row.number] = row
                changed.append(row)
        drawn = {r.number for r in self._rows.values() if r.state == "running" and r.run_dir}
        if info.best_number is not None and self._rows[info.best_number].run_dir:
            drawn.add(info.best_number)
        dropped = tuple(n for n in self._tails if n not in drawn)
        for number in dropped:
            del self._tails[number]
        sent = []
        for number in sorted(drawn):
            tail = self._tails.get(number)
            fresh = tail is None
            if tail is None:
                tail = self._tails[number] = RunTail(Path(self._rows[number].run_dir))
            if tail.update() or fresh:
                xs, ys = tail.curves.series(info.metric)
                if xs:
                    sent.append(Curve(number, *thin(list(xs), list(ys))))
        return Poll(study=info, changed=tuple(changed), curves=tuple(sent), dropped_curves=dropped)
