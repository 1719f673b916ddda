"""Sweeps: a hyperparameter search with Optuna, where every trial is an ordinary run.

What is ours and what is Optuna's: Optuna samples (TPE by default), prunes (the
median pruner by default), stores the study (a journal file, SQLite, PostgreSQL,
MySQL), counts trials across workers (``MaxTrialsCallback``), keeps heartbeats
and retries a dead worker's trial (``RetryHeartbeatStaleTrialCallback``).  Ours:
reading ``--param FIELD=SPEC`` and a preset's ``[sweep]`` table against the
config's fields, turning a trial into a run in the run store (its folder, its
events, ``study.json`` naming the sweep, so ``runs``, ``attach`` and ``compare``
work on trials), reporting each epoch's validation metric to the trial, and
keeping a database password out of everything printed or written.

The API the faces use (the CLI in ``faces/sweep_cli``, the app's sweep view):

* ``parse_param(text)`` → ``ParamSpec``; ``load_plan(...)`` → ``SweepPlan``, all
  checked before any heavy import (``ConfigError``: one line, exit 2);
* ``StorageRef.resolve(url, runs_dir, password_file)``: the storage URL with
  its password, ``.masked`` for printing, ``.open()`` for Optuna;
* ``create_or_join(plan, storage)``: the study, its user attrs set
  (``preset``, ``metric``, ``direction``, ``params``, ``trials``);
* ``run_worker(plan, storage, stop)``: one worker's ``optimize`` loop in this
  process (the CLI starts ``--jobs`` of them as separate processes);
* ``read_sweep(storage, name)`` → ``SweepView`` (trials as ``TrialRow``, the
  best one): what ``sweep show`` and the app draw, also while it runs elsewhere;
* ``study_names(storage)``, ``set_line(params)``, ``best_config(view)``.

Optuna is imported inside functions only: ``--help`` and bad input never wait for it.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from tui_trainer.core import config as cfgmod
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError, UserError

#: Validation metric → the direction that is better.
METRICS = {"val_loss": "minimize", "val_acc": "maximize", "val_mae": "minimize"}
SPEC_KINDS = ("log", "float", "int", "choice")
#: ``--pruner NAME`` → Optuna's pruner class (in ``optuna.pruners``).
PRUNERS = {"median": "MedianPruner", "percentile": "PercentilePruner", "hyperband": "HyperbandPruner",
           "successive-halving": "SuccessiveHalvingPruner", "threshold": "ThresholdPruner", "none": "NopPruner"}
#: ``--sampler NAME`` → Optuna's sampler class (in ``optuna.samplers``).
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler", "qmc": "QMCSampler"}
#: Keys a preset's ``[sweep]`` table may hold.
SWEEP_KEYS = ("params", "metric", "trials", "pruner", "sampler", "study")
#: The default storage: a journal file inside the run store (a dot folder: not a run).
SWEEPS_DIR = ".sweeps"
JOURNAL_NAME = "journal.log"
#: Where a password may come from instead of the command line (``ps`` shows argv).
PASSWORD_ENV = "TUI_TRAINER_STORAGE_PASSWORD"
#: The trial states that count towards ``--trials`` (a failed trial does not: its retry does).
COUNTED = ("COMPLETE", "PRUNED", "RUNNING", "WAITING")
#: The most epochs a trial reports to its study (longer runs report every k-th epoch: ``report_stride``).
MAX_REPORTS = 100
#: Seconds between heartbeats of a running trial (database storages), and a worker's grace before it is dead.
HEARTBEAT = 10
MASK = "***"


# -- parameter specs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ParamSpec:
    """One searched config field: a numeric range (``log``, ``float``, ``int``) or a list of choices."""

    field: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def text(self) -> str:
        """Back to ``FIELD=SPEC`` (what ``--param`` takes)."""
        if self.kind == "choice":
            return f"{self.field}=choice:{','.join(_toml_value(c) for c in self.choices)}"
        low, high = (int(self.low), int(self.high)) if self.kind == "int" else (self.low, self.high)
        return f"{self.field}={self.kind}:{low}..{high}"

    def values_to_check(self) -> list[Any]:
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]

    def suggest(self, trial: Any) -> Any:
        """The trial's value of this field (Optuna's ``suggest_*``; a retried trial gets its old value)."""
        if self.kind == "log":
            return trial.suggest_float(self.field, self.low, self.high, log=True)
        if self.kind == "float":
            return trial.suggest_float(self.field, self.low, self.high)
        if self.kind == "int":
            return trial.suggest_int(self.field, int(self.low), int(self.high))
        # Optuna's categorical values are plain scalars: a list choice ([8,8]) is stored as its TOML text.
        labels = [_toml_value(c) if isinstance(c, list | dict) else c for c in self.choices]
        return from_param(trial.suggest_categorical(self.field, labels))

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "kind": self.kind, "low": self.low, "high": self.high,
                "choices": list(self.choices)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParamSpec:
        return cls(data["field"], data["kind"], data.get("low", 0.0), data.get("high", 0.0),
                   tuple(data.get("choices") or ()))


def _toml_value(value: Any) -> str:
    """A value as ``--set`` would take it: ``[8, 8]`` → ``[8,8]``, strings bare."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_param(value: Any) -> Any:
    """A stored categorical value back to the config's value (``"[8,8]"`` → ``[8, 8]``)."""
    if isinstance(value, str) and value.startswith("["):
        return cfgmod.parse_value(value)
    return value


def _split_choices(text: str) -> list[str]:
    """``[3,3],[8,8],relu`` → ``["[3,3]", "[8,8]", "relu"]``: commas inside brackets stay."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def _number(where: str, text: str, kind: str) -> float:
    try:
        value = int(text) if kind == "int" else float(text)
    except ValueError:
        what = "a whole number" if kind == "int" else "a number"
        raise ConfigError(where, f"{text.strip()!r} is not {what}") from None
    if not math.isfinite(value):
        raise ConfigError(where, f"{text.strip()!r} is not a finite number")
    return float(value)


EXAMPLES = ("train.learning_rate=log:0.001..0.3, model.hidden=choice:[3,3],[8,8], "
            "model.activation=choice:relu,tanh, train.batch_size=int:8..64")


def parse_param(text: str, where: str = "--param") -> ParamSpec:
    """``FIELD=KIND:SPEC`` → ``ParamSpec``, or a ``ConfigError`` naming what is wrong and what is allowed."""
    if "=" not in text:
        raise ConfigError(where, f"{text!r} must look like FIELD=KIND:SPEC, e.g. {EXAMPLES}")
    name, _, spec = text.partition("=")
    name = name.strip()
    cfgmod.check_set_key(name, where=where)
    if name == "description":
        raise ConfigError(where, "description is text, not something to search over")
    return parse_spec(name, spec, where)


def parse_spec(name: str, spec: str, where: str = "--param") -> ParamSpec:
    here = f"{where} {name}"
    kind, sep, body = spec.strip().partition(":")
    kind = kind.strip()
    if not sep or kind not in SPEC_KINDS:
        raise ConfigError(here, f"{spec.strip()!r} must start with one of {', '.join(k + ':' for k in SPEC_KINDS)} "
                                f"(e.g. log:0.001..0.3, int:8..64, choice:relu,tanh)")
    if kind == "choice":
        parts = _split_choices(body)
        if not body.strip() or any(not p for p in parts):
            raise ConfigError(here, f"choice:{body} needs values separated by commas, e.g. choice:relu,tanh "
                                    "or choice:[3,3],[8,8]")
        choices = tuple(cfgmod.parse_value(p) for p in parts)
        texts = [_toml_value(c) for c in choices]
        if len(set(texts)) != len(texts):
            raise ConfigError(here, f"choice:{body} lists a value twice")
        for choice in choices:
            if isinstance(choice, dict):
                raise ConfigError(here, f"{choice!r}: a choice is a number, a word or a list")
        return ParamSpec(name, kind, choices=choices)
    lo_text, dots, hi_text = body.partition("..")
    if not dots:
        raise ConfigError(here, f"{kind}:{body} must be a range LOW..HIGH, e.g. {kind}:"
                                f"{'8..64' if kind == 'int' else '0.001..0.3'}")
    low, high = _number(here, lo_text, kind), _number(here, hi_text, kind)
    if not low < high:
        raise ConfigError(here, f"{kind}:{body}: LOW must be below HIGH")
    if kind == "log" and low <= 0:
        raise ConfigError(here, f"log:{body}: a log range needs LOW > 0")
    return ParamSpec(name, kind, low, high)


def check_against(base: Mapping[str, Any], params: Sequence[ParamSpec], source: str = "--param") -> None:
    """Every value a spec can take (a range's ends, each choice) makes a valid config with ``base``."""
    fields = [p.field for p in params]
    for name in fields:
        if fields.count(name) > 1:
            raise ConfigError(source, f"{name} is searched twice; give each field one spec")
    for spec in params:
        for value in spec.values_to_check():
            try:
                cfgmod.from_dict(cfgmod.merge(dict(base), cfgmod.dotted_to_nested({spec.field: value})))
            except ConfigError as exc:
                shown = _toml_value(value)
                raise ConfigError(f"{source} {spec.field}", f"{shown} is not allowed ({exc.reason})") from None


# -- the plan ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker needs, checked: the base config, what to search and how to judge a trial."""

    preset: str
    base: dict[str, Any]
    params: tuple[ParamSpec, ...]
    metric: str = "val_loss"
    trials: int = 20
    study: str = ""
    pruner: str = "median"
    sampler: str = "tpe"
    sampler_seed: int | None = None
    runs_dir: str | None = None
    retries: int = 1
    heartbeat: int = HEARTBEAT

    @property
    def direction(self) -> str:
        return METRICS[self.metric]

    @property
    def label(self) -> str:
        return Path(self.preset).stem if self.preset.endswith(".toml") else self.preset

    def config_for(self, values: Mapping[str, Any]) -> Config:
        return cfgmod.from_dict(cfgmod.merge(self.base, cfgmod.dotted_to_nested(dict(values))))

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "base": self.base, "params": [p.to_json() for p in self.params],
                "metric": self.metric, "trials": self.trials, "study": self.study, "pruner": self.pruner,
                "sampler": self.sampler, "sampler_seed": self.sampler_seed, "runs_dir": self.runs_dir,
                "retries": self.retries, "heartbeat": self.heartbeat}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SweepPlan:
        fields = dict(data)
        fields["params"] = tuple(ParamSpec.from_json(p) for p in data["params"])
        return cls(**fields)


def parse_pruner(text: str) -> tuple[str, dict[str, Any]]:
    """``median`` or ``median:n_startup_trials=2,n_warmup_steps=5`` → (name, keyword arguments for Optuna)."""
    name, _, args = text.partition(":")
    name = name.strip()
    if name not in PRUNERS:
        from tui_trainer.core.errors import choice_error

        raise choice_error("--pruner", name, tuple(PRUNERS))
    kwargs: dict[str, Any] = {}
    for item in filter(None, (a.strip() for a in args.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ConfigError("--pruner", f"{item!r} must be KEY=VALUE, e.g. median:n_startup_trials=2")
        kwargs[key.strip()] = cfgmod.parse_value(value)
    return name, kwargs


def sweep_table(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A preset's ``[sweep]`` table, checked: ``params`` as ``ParamSpec``s, the rest as given."""
    table = raw.get("sweep")
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise ConfigError("sweep", "must be a table: [sweep] with [sweep.params]", source=source)
    for key in table:
        if key not in SWEEP_KEYS:
            from tui_trainer.core.errors import did_you_mean

            raise ConfigError(f"sweep.{key}", f"unknown key; allowed keys in [sweep]: {', '.join(SWEEP_KEYS)}"
                                              f"{did_you_mean(key, SWEEP_KEYS)}", source=source)
    out = {k: v for k, v in table.items() if k != "params"}
    params = table.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError("sweep.params", "must be a table of FIELD = \"KIND:SPEC\"", source=source)
    from tui_trainer.runs.comparison import flatten

    specs = []
    for name, spec in flatten(params).items():
        where = f"sweep.params.{name}"
        if not isinstance(spec, str):
            raise ConfigError(where, f"{spec!r} must be a string such as \"log:0.001..0.3\"", source=source)
        try:
            cfgmod.check_set_key(name, where=where)
            specs.append(parse_spec(name, spec, where="[sweep.params]"))
        except ConfigError as exc:
            raise exc.with_source(source) from None
    out["params"] = specs
    return out


def load_plan(preset: str, overrides: Mapping[str, Any] | None = None, params: Sequence[str] = (), *,
              metric: str | None = None, trials: int | None = None, study: str | None = None,
              pruner: str | None = None, sampler: str | None = None, sampler_seed: int | None = None,
              runs_dir: str | None = None, retries: int = 1, heartbeat: int = HEARTBEAT) -> SweepPlan:
    """The checked plan: the preset's ``[sweep]`` table, with the command line's choices winning.

    ``--param`` for a field replaces the table's spec for that field; other table specs stay.
    """
    from tui_trainer.core.presets import load_preset, load_preset_data

    raw, path = load_preset_data(preset)
    table = sweep_table(raw, str(path))
    config = load_preset(preset, dict(overrides or {}))
    base = config.to_dict()
    specs = {p.field: p for p in table.get("params", [])}
    given: set[str] = set()
    for text in params:
        spec = parse_param(text)
        if spec.field in given:
            raise ConfigError("--param", f"{spec.field} is searched twice; give each field one spec")
        given.add(spec.field)
        specs[spec.field] = spec  # the command line replaces the table's spec for that field
    if not specs:
        raise ConfigError("--param", f"nothing to search: give --param FIELD=SPEC (e.g. {EXAMPLES}) "
                                     "or a [sweep.params] table in the preset")
    check_against(base, list(specs.values()))
    metric = metric or str(table.get("metric", "val_loss"))
    if metric not in METRICS:
        from tui_trainer.core.errors import choice_error

        raise choice_error("--metric", metric, tuple(METRICS))
    if metric == "val_acc" and config.task == "regression":
        raise ConfigError("--metric", f"{config.data.dataset} is a regression dataset with no accuracy; "
                                      "use val_loss or val_mae")
    if metric == "val_mae" and config.task != "regression":
        raise ConfigError("--metric", "val_mae is for regression datasets; use val_loss or val_acc")
    count = trials if trials is not None else table.get("trials", 20)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError("--trials", f"{count!r}: give a whole number of trials >= 1")
    pruner_text = pruner or str(table.get("pruner", "median"))
    parse_pruner(pruner_text)
    sampler_name = sampler or str(table.get("sampler", "tpe"))
    if sampler_name not in SAMPLERS:
        from tui_trainer.core.errors import choice_error

        raise choice_error("--sampler", sampler_name, tuple(SAMPLERS))
    name = study or str(table.get("study", "")) or default_study_name(preset)
    if not name.strip() or any(ord(c) < 32 for c in name) or len(name) > 200:
        raise ConfigError("--study", f"{name!r}: a study name is 1-200 printable characters")
    if retries < 0:
        raise ConfigError("--retries", f"{retries}: give a number >= 0")
    if heartbeat < 1:
        raise ConfigError("--heartbeat", f"{heartbeat}: give a number of seconds >= 1")
    return SweepPlan(preset=preset, base=base, params=tuple(specs.values()), metric=metric, trials=count,
                     study=name, pruner=pruner_text, sampler=sampler_name, sampler_seed=sampler_seed,
                     runs_dir=runs_dir, retries=retries, heartbeat=heartbeat)


def default_study_name(preset: str) -> str:
    stem = Path(preset).stem if preset.endswith(".toml") else preset
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "sweep"
    return f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


def set_line(params: Mapping[str, Any]) -> str:
    """A trial's params as the options that train it again: ``--set train.learning_rate=0.01 ...``."""
    return " ".join(f"--set {name}={_set_value(from_param(value))}" for name, value in params.items())


def _set_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return _toml_value(value)


def params_text(params: Mapping[str, Any]) -> str:
    """``learning_rate=0.0123 hidden=[8,8]``: short names unless two sections share one."""
    shorts = [name.split(".")[-1] for name in params]
    out = []
    for (name, value), short in zip(params.items(), shorts, strict=True):
        label = short if shorts.count(short) == 1 else name
        out.append(f"{label}={_set_value(from_param(value))}")
    return " ".join(out)


# -- storage -------------------------------------------------------------------------------------

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<at>@)")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&\s]*)", re.IGNORECASE)


def mask_url(text: str) -> str:
    """Any storage URL inside ``text`` with its password replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)


@dataclass(frozen=True)
class StorageRef:
    """Where a sweep lives: the full URL (with its password, never printed) and what may be shown."""

    url: str
    password: str = field(default="", repr=False)
    journal: Path | None = None
    #: The URL as the user wrote it (before the driver was named), for printing through ``masked``.
    given: str = ""

    def __repr__(self) -> str:
        return f"StorageRef({self.masked!r})"

    @property
    def masked(self) -> str:
        return self.scrub(self.given or self.url) if self.journal is None else str(self.journal)

    def scrub(self, text: object) -> str:
        """``text`` with this storage's password (and any URL password) masked: for every message we print."""
        out = mask_url(str(text))
        if self.password:
            out = out.replace(self.password, MASK).replace(quote(self.password, safe=""), MASK)
        return out

    @classmethod
    def resolve(cls, url: str | None, runs_dir: str | None = None, password_file: str | None = None) -> StorageRef:
        """``--storage`` (or the run store's journal), with a password from the file or the environment.

        A URL without a password takes ``--storage-password-file``'s first line, else
        ``$TUI_TRAINER_STORAGE_PASSWORD``; PostgreSQL also reads ``PGPASSWORD`` itself (libpq).
        """
        from tui_trainer.runs.store import runs_root

        if url is None or url == "":
            if url == "":
                raise ConfigError("--storage", "an empty URL; give e.g. postgresql://user@host/db or a journal file")
            return cls(url="", journal=runs_root(runs_dir) / SWEEPS_DIR / JOURNAL_NAME)
        if "://" not in url:
            path = Path(url).expanduser()
            if path.is_dir():
                raise ConfigError("--storage", f"{path} is a folder; a journal storage is a file (e.g. {path}/journal.log)")
            return cls(url="", journal=path)
        given = url
        scheme = url.split("://", 1)[0].lower()
        if scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres", "mysql"):
            raise ConfigError("--storage", f"{mask_url(url)}: choose sqlite:///FILE, postgresql://USER@HOST/DB, "
                                           "mysql://USER@HOST/DB or a journal file path")
        if scheme in ("postgresql", "postgres"):
            # SQLAlchemy's default PostgreSQL driver is psycopg2; the sweep extra installs psycopg (3).
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        match = _URL_PASSWORD.search(url)
        password = match["password"] if match else ""
        if not password and scheme != "sqlite":
            password = _password_from(password_file)
            if password:
                url = _with_password(url, password)
            elif scheme.startswith("postgres"):
                password = os.environ.get("PGPASSWORD", "")  # libpq reads it itself; kept only to be masked
        elif password_file:
            raise ConfigError("--storage-password-file", "the URL already has a password; give it one way only")
        return cls(url=url, password=password, given=given)

    def open(self) -> Any:
        """The Optuna storage (journal file, or a database with heartbeats and retries of dead trials)."""
        import optuna

        if self.journal is not None:
            from optuna.storages.journal import JournalFileBackend

            try:
                self.journal.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"--storage {self.journal}: can't create its folder ({exc.strerror or exc})") from None
            return optuna.storages.JournalStorage(_journal_backend(JournalFileBackend, str(self.journal)))
        return self.url


def _journal_backend(base: type, path: str) -> Any:
    """Optuna's journal file backend, locked with ``FlockJournalLock``, appending without an fsync.

    Optuna fsyncs the journal after every line; a trial writes a line every epoch
    (its validation metric), and an fsync takes about 10 ms on the development
    machine: ten times a playground epoch.  Without it a line reaches every other
    process at once all the same (the page cache), and only a power cut could lose
    the last lines, the same promise the run folders' logs make.
    """

    class Backend(base):
        def __init__(self, file_path: str) -> None:
            self._lock_obj = FlockJournalLock(file_path)
            super().__init__(file_path, lock_obj=self._lock_obj)
            self._path = file_path

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
            self._lock_obj.acquire()
            try:
                fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    done = 0
                    while done < len(data):
                        done += os.write(fd, data[done:])
                finally:
                    os.close(fd)
            finally:
                self._lock_obj.release()

    return Backend(path)


class FlockJournalLock:
    """The journal file's write lock as an ``flock`` on ``JOURNAL.flock`` (Optuna's lock interface).

    Optuna's own file locks (a symlink, or a file created exclusively) outlive a
    worker killed while it appends: every other worker then waits out a 30 s grace
    period, polling with a back-off that grows to a second, which also starves one
    of two busy writers.  The kernel drops an ``flock`` the moment its holder dies,
    and a blocked ``flock`` wakes as soon as it is free.  Writers of one journal must
    agree on the lock: tui-trainer's all use this one (optuna-dashboard's reads take no
    lock; a note written from it uses Optuna's own).
    """

    def __init__(self, journal: str) -> None:
        self.path = journal + ".flock"
        self._fd: int | None = None
        self._threads = threading.Lock()

    def acquire(self) -> bool:
        import fcntl

        self._threads.acquire()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        import fcntl

        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
                self._threads.release()


def _password_from(password_file: str | None) -> str:
    if password_file:
        try:
            lines = Path(password_file).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ConfigError("--storage-password-file", f"{password_file}: can't read it ({reason})") from None
        if not lines or not lines[0]:
            raise ConfigError("--storage-password-file", f"{password_file}: the first line is empty")
        return lines[0]
    return os.environ.get(PASSWORD_ENV, "")


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    netloc, slash, path = rest.partition("/")
    if "@" not in netloc:
        raise ConfigError("--storage", f"{mask_url(url)}: name the user (USER@HOST) to use a password from "
                                       f"{PASSWORD_ENV} or --storage-password-file")
    user, _, host = netloc.rpartition("@")
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}{slash}{path}"


def without_password(storage: str) -> tuple[str, str]:
    """A database URL without its password, and the password: ``_with_password``'s inverse.

    A journal path, or a URL without a password, comes back as it is with ``""``.
    """
    if "://" not in storage:
        return storage, ""
    parts = urlsplit(storage)
    try:
        password = parts.password
    except ValueError:
        return storage, ""
    if not password:
        return storage, ""
    user, _, host = parts.netloc.rpartition("@")
    bare = urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}@{host}"))
    return bare, unquote(password)


def open_storage(ref: StorageRef, heartbeat: int | None = None, retries: int = 1) -> Any:
    """An Optuna storage object; database storages get heartbeats (a dead worker's trial is failed
    and retried by Optuna).  ``UserError`` (password masked) when it can't be reached."""
    import optuna

    _quiet_optuna()
    if ref.journal is not None:
        return ref.open()
    kwargs: dict[str, Any] = {}
    if heartbeat is not None:
        kwargs = {"heartbeat_interval": heartbeat, "grace_period": 2 * heartbeat,
                  "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(retries)}
    if ref.url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 30}}
    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(ref.url, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any driver error: one masked line
            # Two machines meeting an empty database both create Optuna's tables; one loses that race
            # ("duplicate key", "already exists") and simply finds them there a moment later.
            text = str(exc).lower()
            if attempt < 3 and ("duplicate" in text or "already exists" in text or "unique" in text):
                time.sleep(0.5 * (attempt + 1))
                continue
            raise UserError(f"--storage {ref.masked}: can't open it ({ref.scrub(_first_line(exc))})") from None
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _quiet_optuna() -> None:
    import optuna

    # Optuna logs every failed trial with its traceback at WARNING; the sweep says why in one line itself.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.logging.disable_propagation()
    import warnings

    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)


# -- the study -----------------------------------------------------------------------------------

def _pruner(text: str, epochs: int = 0) -> Any:
    """Optuna's pruner; the median and percentile pruners wait a tenth of the epochs unless told otherwise
    (Optuna's default, no wait, prunes on the first epoch's noise)."""
    import optuna

    name, kwargs = parse_pruner(text)
    if name in ("median", "percentile") and epochs >= 10:
        kwargs.setdefault("n_warmup_steps", epochs // 10)
    try:
        return getattr(optuna.pruners, PRUNERS[name])(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError("--pruner", f"{text}: {exc}") from None


def _epochs(plan: SweepPlan) -> int:
    epochs = plan.base.get("train", {}).get("epochs", 0)
    return epochs if isinstance(epochs, int) else 0


def _sampler(plan: SweepPlan) -> Any:
    import optuna

    cls = getattr(optuna.samplers, SAMPLERS[plan.sampler])
    return cls(seed=plan.sampler_seed) if plan.sampler_seed is not None else cls()


def create_or_join(plan: SweepPlan, storage: Any, ref: StorageRef) -> Any:
    """The plan's study in ``storage``: created (its user attrs say what it searches) or joined.

    Joining checks the study searches the same metric the same way.
    """
    import optuna

    try:
        direction = (optuna.study.StudyDirection.MINIMIZE if plan.direction == "minimize"
                     else optuna.study.StudyDirection.MAXIMIZE)
        study = optuna.create_study(study_name=plan.study, storage=storage, direction=direction,
                                    sampler=_sampler(plan), pruner=_pruner(plan.pruner, _epochs(plan)),
                                    load_if_exists=True)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the database said no: one masked line
        raise UserError(f"--storage {ref.masked}: can't create study {plan.study!r} ({ref.scrub(_first_line(exc))})") from None
    attrs = study.user_attrs
    if attrs.get("metric") not in (None, plan.metric):
        raise UserError(f"--study {plan.study}: that study in {ref.masked} searches {attrs.get('metric')}, "
                        f"not {plan.metric}; name another study or use --metric {attrs.get('metric')}")
    if "metric" not in attrs:
        for key, value in (("preset", plan.label), ("metric", plan.metric), ("direction", plan.direction),
                           ("params", [p.text() for p in plan.params]), ("trials", plan.trials),
                           ("base", plan.base), ("report_every", report_stride(plan))):
            study.set_user_attr(key, value)
    return study


def report_stride(plan: SweepPlan) -> int:
    """Every how many epochs a trial reports to the study: at most ``MAX_REPORTS`` reports a trial.

    A report is a storage write (on a database a transaction, ~20 ms on the busy
    development machine); a 2,000-epoch trial reporting every epoch would spend
    40 s on them.  The stride is the study's (its ``report_every`` attribute), so
    every trial, on every machine, reports the same epochs: a pruner compares
    trials at the same step.  ``train.epochs`` searched counts at its largest.
    """
    epochs = _epochs(plan)
    for spec in plan.params:
        if spec.field == "train.epochs":
            epochs = max([int(spec.high)] if spec.kind != "choice" else [int(c) for c in spec.choices])
    return max(1, math.ceil(epochs / MAX_REPORTS))


def counted(study: Any, *, before: int | None = None) -> int:
    """Trials that count towards ``--trials`` (not failed), optionally only those numbered below ``before``."""
    from optuna.trial import TrialState

    states = tuple(getattr(TrialState, s) for s in COUNTED)
    trials = study.get_trials(deepcopy=False, states=states)
    return sum(1 for t in trials if before is None or t.number < before)


def waiting(study: Any) -> int:
    """Trials queued and not yet taken by a worker (Optuna's retries of failed trials, enqueued trials)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def reap_dead(study: Any, retries: int) -> list[int]:
    """This host's running trials whose worker process is gone: failed, and retried, as Optuna does for
    a stale heartbeat (journal files have no heartbeat; a process here can still be asked if it lives)."""
    import optuna
    from optuna.trial import TrialState

    from tui_trainer.runs.folder import host_name
    from tui_trainer.runs.store import pid_alive

    host = host_name()
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != host or pid_alive(attrs.get("pid")):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process reaped it first
        reaped.append(trial.number)
        optuna.storages.RetryHeartbeatStaleTrialCallback(retries)(study, study._storage.get_trial(trial._trial_id))
    return reaped


class PruneSchedule:
    """When to ask the pruner: every epoch, unless asking costs more than a tenth of the time between asks.

    Every epoch's value is reported (a pruner compares trials at the same epoch,
    so every trial must have every epoch), but the question itself reads every
    finished trial from the storage: on a database and millisecond epochs it took
    longer than the epoch (3.9x the run alone in ``bench_sweep.py``).  Asking at
    most a tenth of the time keeps that cost under ~10 %; slow epochs are asked
    about every epoch.
    """

    def __init__(self, share: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.clock = clock
        self.cost = 0.0
        self.last = -math.inf

    def due(self) -> bool:
        return self.clock() - self.last >= self.cost / self.share

    def __enter__(self) -> PruneSchedule:
        self._start = self.clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.last = self.clock()
        self.cost = self.last - self._start


class Surplus(Exception):
    """A trial asked for after the sweep had its ``--trials``: it fails at once, trains nothing, counts nothing."""


class TrialFailed(Exception):
    """The trial's run failed (not bad input): the trial is FAIL, the sweep goes on."""


class Interrupted(Exception):
    """The worker was told to stop (Ctrl-C, SIGTERM): the trial is FAIL, the worker ends."""


@dataclass
class WorkerResult:
    trials: list[int] = field(default_factory=list)
    error: UserError | None = None
    interrupted: bool = False


def run_worker(plan: SweepPlan, ref: StorageRef, stop: threading.Event | None = None,
               on_trial: Callable[[Any], None] | None = None) -> WorkerResult:
    """One worker: ``optimize`` until the study has ``plan.trials`` trials (all workers together).

    Every trial is a run in the run store.  Bad input raises ``UserError`` (after
    the trial is marked failed); ``stop`` ends the current trial's run and the loop.
    """
    import optuna

    stop = stop or threading.Event()
    storage = open_storage(ref, plan.heartbeat, plan.retries)
    study = create_or_join(plan, storage, ref)
    result = WorkerResult()
    current: dict[str, Any] = {}
    def watch() -> None:
        stop.wait()
        _stop_current(current, study)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if counted(study) >= plan.trials and not waiting(study):
        # Enough trials are running or done.  A waiting one (a dead trial's retry) still needs a worker,
        # although it counts: this may be the worker started again for it.
        return result
    stride = study.user_attrs.get("report_every", 1)
    every = stride if isinstance(stride, int) and stride >= 1 else 1

    def objective(trial: Any) -> float:
        if stop.is_set():
            raise Interrupted()
        if counted(study, before=trial.number) >= plan.trials:
            trial.set_user_attr("surplus", True)
            study.stop()
            raise Surplus()
        result.trials.append(trial.number)
        return run_trial(plan, ref, study, trial, current, stop, every)

    callbacks: list[Callable[[Any, Any], None]] = [optuna.study.MaxTrialsCallback(plan.trials, states=tuple(
        getattr(optuna.trial.TrialState, s) for s in COUNTED))]
    if on_trial is not None:
        callbacks.append(lambda s, t: on_trial(t))
    try:
        study.optimize(objective, callbacks=callbacks, catch=(Surplus, TrialFailed), gc_after_trial=False)
    except Interrupted:
        result.interrupted = True
    except UserError as exc:
        result.error = exc
    return result


def _stop_current(current: dict[str, Any], study: Any) -> None:
    """Stop the running trial's run after its batch (the objective then ends the loop: ``study.stop`` may only
    be called from inside it)."""
    control = current.get("control")
    if control is not None:
        control.stop()


def run_trial(plan: SweepPlan, ref: StorageRef, study: Any, trial: Any, current: dict[str, Any],
              stop: threading.Event, every: int = 1) -> float:
    """The trial as a run: its own folder and events; each epoch's metric reported, pruned when hopeless."""
    import optuna

    from tui_trainer.core.control import RunControl
    from tui_trainer.core.events import EpochEnded
    from tui_trainer.engine.session import Session
    from tui_trainer.runs.comparison import STUDY_FILE
    from tui_trainer.runs.export import RunExporter
    from tui_trainer.runs.folder import host_name
    from tui_trainer.runs.launch import serve_run
    from tui_trainer.runs.store import create_run_folder, runs_root

    trial.set_user_attr("host", host_name())
    trial.set_user_attr("pid", os.getpid())
    reap_dead(study, plan.retries)
    values = {spec.field: spec.suggest(trial) for spec in plan.params}
    try:
        config = plan.config_for(values)
    except ConfigError as exc:
        trial.set_user_attr("error", exc.reason)
        raise TrialFailed(str(exc)) from None  # a combination the config refuses: this trial only
    folder = create_run_folder(runs_root(plan.runs_dir), f"{plan.label}-trial{trial.number}")
    info = {"study": plan.study, "variant": f"trial {trial.number}", "index": trial.number, "preset": plan.preset,
            "overrides": values, "sweep": {"study": plan.study, "trial": trial.number, "storage": ref.masked,
                                           "metric": plan.metric}}
    (folder / STUDY_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    trial.set_user_attr("run_id", folder.name)
    trial.set_user_attr("run_dir", str(folder.resolve()))
    session = Session(config)
    session.keep_history = False
    session.freeze_gc = True  # thawed at the trial's end, so the worker's next trial starts afresh
    control = RunControl()
    current["control"] = control
    if stop.is_set():
        control.stop()
    meta = {"preset": plan.label, "epochs_total": config.train.epochs, "dataset": config.data.dataset,
            "backend": config.train.backend, "study": plan.study, "trial": trial.number}
    exporter = RunExporter(folder, lambda: session, meta=meta, created=True, on_fault=lambda exc: control.stop())
    exporter.open()
    server = serve_run(exporter, control, lambda: session)
    best: list[float] = []
    pruned: list[int] = []
    asking = PruneSchedule()
    better = min if plan.direction == "minimize" else max

    def emit(event: Any) -> None:
        exporter(event)
        if server is not None:
            server(event)
        if isinstance(event, EpochEnded):
            value = getattr(event, plan.metric)
            if value is None or not math.isfinite(value):
                return
            best.append(better(best[-1], value) if best else value)
            if event.epoch % every:
                return
            trial.report(value, event.epoch)
            if pruned or not asking.due():
                return
            with asking:
                hopeless = trial.should_prune()
            if hopeless:
                pruned.append(event.epoch)
                exporter.end_state = "pruned"
                control.stop()

    try:
        run = session.run(emit, control)
    finally:
        current.pop("control", None)
        if server is not None:
            server.close(drain=0.2)
        exporter.close()
    if not folder.is_dir():  # a run that ended before its first epoch leaves no folder: the trial names none
        trial.set_user_attr("run_id", None)
        trial.set_user_attr("run_dir", None)
    if run.failed is not None:
        trial.set_user_attr("error", run.failed.message)
        if isinstance(run.error, UserError):
            raise UserError(f"trial {trial.number} ({params_text(values)}): {run.failed.message}")
        raise TrialFailed(run.failed.message)
    if exporter.error is not None:
        trial.set_user_attr("error", exporter.fault_message())
        raise TrialFailed(exporter.fault_message())
    if pruned:
        trial.set_user_attr("pruned_at", pruned[0])
        raise optuna.TrialPruned(f"pruned at epoch {pruned[0]}")
    if stop.is_set() and run.finished is not None and run.finished.reason == "stopped":
        trial.set_user_attr("error", f"interrupted at epoch {run.finished.epochs_run}")
        raise Interrupted()
    if not best:
        trial.set_user_attr("error", f"no finite {plan.metric} in any epoch")
        raise TrialFailed(f"no finite {plan.metric}")
    return best[-1]


# -- reading a sweep -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    value: float | None
    params: dict[str, Any]
    seconds: float | None
    run_id: str | None
    run_dir: str | None
    started: float | None  # epoch seconds
    finished: float | None
    last_step: int | None
    #: The last reported epoch's metric (what a running trial has reached so far).
    last_value: float | None = None
    note: str = ""

    @property
    def done(self) -> bool:
        return self.state in ("COMPLETE", "PRUNED", "FAIL")

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "value": self.value, "params": self.params,
                "seconds": self.seconds, "run_id": self.run_id, "run_dir": self.run_dir, "epoch": self.last_step,
                "last_value": self.last_value, "note": self.note}


@dataclass(frozen=True)
class SweepView:
    name: str
    direction: str
    metric: str
    preset: str
    trials_asked: int | None
    trials: tuple[TrialRow, ...]
    best: TrialRow | None

    def count(self, state: str) -> int:
        return sum(1 for t in self.trials if t.state == state)


def trial_row(trial: Any) -> TrialRow:
    start = trial.datetime_start.timestamp() if trial.datetime_start else None
    end = trial.datetime_complete.timestamp() if trial.datetime_complete else None
    seconds = (end or time.time()) - start if start is not None else None
    attrs = trial.user_attrs
    note = ""
    if attrs.get("surplus"):
        note = "surplus: the sweep had its trials; trained nothing"
    elif attrs.get("error"):
        note = str(attrs["error"])
    elif attrs.get("pruned_at"):
        note = f"pruned at epoch {attrs['pruned_at']}"
    retried = trial.system_attrs.get("failed_trial")
    if retried is not None:
        note = (note + "; " if note else "") + f"retry of trial {retried}"
    steps = trial.intermediate_values
    return TrialRow(number=trial.number, state=trial.state.name, value=trial.value, params=dict(trial.params),
                    seconds=seconds, run_id=attrs.get("run_id"), run_dir=attrs.get("run_dir"), started=start,
                    finished=end, last_step=max(steps) if steps else None,
                    last_value=steps[max(steps)] if steps else None, note=note)


def study_names(storage: Any) -> list[str]:
    import optuna

    return [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]


def read_sweep(storage: Any, name: str) -> SweepView:
    """A sweep's trials and best one, as stored now (a sweep running elsewhere included)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = study_names(storage)
        known = f"; studies there: {', '.join(names[-5:])}" if names else "; it holds no studies"
        raise UserError(f"sweep {name!r}: no such study{known}") from None
    attrs = study.user_attrs
    rows = tuple(trial_row(t) for t in study.get_trials(deepcopy=False))
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    direction = study.direction.name.lower()
    best = None
    if done:
        pick = min if direction == "minimize" else max
        best = pick(done, key=lambda r: (r.value if r.value is not None else math.inf, -r.number))
    return SweepView(name=name, direction=direction, metric=str(attrs.get("metric", "value")),
                     preset=str(attrs.get("preset", "")), trials_asked=attrs.get("trials"), trials=rows, best=best)


def best_config(view: SweepView, base: Mapping[str, Any] | None = None) -> Config:
    """The best trial's config: its run folder's ``config.toml``, else the study's base with its params."""
    if view.best is None:
        raise UserError(f"sweep {view.name}: no trial has completed yet")
    if view.best.run_dir:
        path = Path(view.best.run_dir) / "config.toml"
        if path.is_file():
            from tui_trainer.core.presets import load_preset

            return load_preset(str(path))
    if base is None:
        raise UserError(f"sweep {view.name}: the best trial's run folder is not on this machine")
    values = {k: from_param(v) for k, v in view.best.params.items()}
    return cfgmod.from_dict(cfgmod.merge(dict(base), cfgmod.dotted_to_nested(values)))
