"""Reading a sweep's Optuna storage for the app's sweep view, off the UI thread.

The view asks once a second what changed in one study; this module answers
with small frozen rows (a trial's number, state, value, params and seconds)
and only the rows that differ from the last answer, plus the curves of the
trials worth drawing (the running ones and the best), read from their run
folders' event logs with ``RunTail`` as ``compare`` does.  Everything here
runs in the view's worker thread: Optuna is imported there, on first use,
never for the app's first frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.runs.comparison import RunTail

#: Optuna's trial states as the view names them (``FAIL`` reads ``failed``).
STATE_NAMES = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
               "WAITING": "waiting"}
#: Metrics a sweep optimises and the direction that is better, when the study does not say.
METRIC_DIRECTIONS = {"val_loss": "minimize", "val_acc": "maximize", "val_mae": "minimize"}
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


@dataclass(frozen=True)
class TrialRow:
    """One trial as a table row: only plain values, so the row is cheap to compare and to post."""

    number: int
    state: str
    value: float | None
    params: tuple[tuple[str, str], ...]
    seconds: float | None
    run_dir: str = ""
    run_id: str = ""


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
    running: int = 0


def show_param(value: Any) -> str:
    """A parameter's value in a few characters: floats to 4 significant digits, anything else as written."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def is_url(storage: str) -> bool:
    """An Optuna database URL (``sqlite:///``, ``postgresql://``...) rather than a journal file's path."""
    return "://" in storage


def default_storage(runs_dir: str | None = None) -> str:
    """The journal file that ``tui-trainer sweep`` uses when given no ``--storage``."""
    from tui_trainer.runs.store import runs_root

    return str(runs_root(runs_dir) / ".sweeps" / "journal.log")


class StudyMissing(LookupError):
    """The storage has no study of that name (yet: a sweep just started may not have made it)."""


def mask_storage(text: str, secret_of: str | None = None) -> str:
    """``text`` fit to show: every URL's password (and ``secret_of``'s, wherever it appears) as ``***``."""
    import re
    from urllib.parse import unquote, urlsplit

    secrets = []
    for url in [*re.findall(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", text), *([secret_of] if secret_of else [])]:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            secrets += [password, unquote(password)]
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def open_storage(storage: str) -> Any:
    """The Optuna storage for a URL or a journal file (a file that does not exist yet is not created)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if is_url(storage):
        return optuna.storages.get_storage(storage)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = Path(storage).expanduser()
    if not path.is_file():
        raise FileNotFoundError(2, "no sweeps in this storage yet", str(path))
    return JournalStorage(JournalFileBackend(str(path)))


def study_info(storage: Any, name: str, study_id: int, trials: list[Any] | None = None) -> StudyInfo:
    """The study's name, metric, direction and best trial (from its user attributes and its trials)."""
    attrs = storage.get_study_user_attrs(study_id)
    directions = storage.get_study_directions(study_id)
    metric = str(attrs.get("metric") or "val_loss")
    direction = str(attrs.get("direction") or (directions[0].name.lower() if directions else
                                                METRIC_DIRECTIONS.get(metric, "minimize")))
    if trials is None:
        trials = storage.get_all_trials(study_id, deepcopy=False)
    best = best_trial(trials, direction)
    return StudyInfo(name=name, trials=len(trials), direction=direction, metric=metric,
                     preset=str(attrs.get("preset") or ""), best_value=None if best is None else best.value,
                     best_number=None if best is None else best.number)


def best_trial(trials: list[Any], direction: str) -> Any:
    """The complete trial with the best finite value, the earliest on a tie (as Optuna picks it)."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None and math.isfinite(t.value)]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    return min(done, key=lambda t: (sign * t.value, t.number))


def list_studies(storage: Any) -> list[StudyInfo]:
    """Every study in the storage, newest (highest id) first."""
    studies = storage.get_all_studies()
    infos = [study_info(storage, s.study_name, s._study_id) for s in studies]
    order = {s.study_name: s._study_id for s in studies}
    return sorted(infos, key=lambda s: order[s.name], reverse=True)


def trial_row(trial: Any, now: float) -> TrialRow:
    """A trial as a row; a running trial's seconds count up to ``now``, a waiting one has none."""
    start = trial.datetime_start.timestamp() if trial.datetime_start is not None else None
    end = trial.datetime_complete.timestamp() if trial.datetime_complete is not None else None
    seconds = None if start is None else (end if end is not None else now) - start
    value = trial.value if trial.state.name == "COMPLETE" else None
    if trial.state.name == "PRUNED" and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    return TrialRow(number=trial.number, state=STATE_NAMES.get(trial.state.name, trial.state.name.lower()),
                    value=value, params=tuple((k, show_param(v)) for k, v in sorted(trial.params.items())),
                    seconds=None if seconds is None else round(max(0.0, seconds), 0 if end is None else 1),
                    run_dir=str(trial.user_attrs.get("run_dir") or ""),
                    run_id=str(trial.user_attrs.get("run_id") or ""))


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
    clock: Any = time.time
    _storage: Any = None
    _rows: dict[int, TrialRow] = field(default_factory=dict)
    _tails: dict[int, RunTail] = field(default_factory=dict)
    _study: str | None = None

    @property
    def storage(self) -> Any:
        if self._storage is None:
            self._storage = open_storage(self.storage_url)
        return self._storage

    def studies(self) -> list[StudyInfo]:
        return list_studies(self.storage)

    def poll(self, study: str) -> Poll:
        """The study's summary, its rows that changed since the last poll, and the curves that grew."""
        if study != self._study:
            self._study, self._rows, self._tails = study, {}, {}
        storage = self.storage
        try:
            study_id = storage.get_study_id_from_name(study)
        except KeyError:
            raise StudyMissing(study) from None
        trials = storage.get_all_trials(study_id, deepcopy=False)
        info = study_info(storage, study, study_id, trials)
        now = self.clock()
        changed = []
        for trial in trials:
            row = trial_row(trial, now)
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
        return Poll(study=info, changed=tuple(changed), curves=tuple(sent), dropped_curves=dropped,
                    running=sum(1 for r in self._rows.values() if r.state == "running"))
