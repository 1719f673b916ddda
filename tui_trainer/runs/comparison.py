"""Several runs side by side, as data: their curves and the table that compares them.

The ``compare`` command and the app's overlay both draw from this, so they show
the same numbers.  A run is read from its folder (``config.toml``, the event
log ``history.jsonl`` or, failing that, ``history.csv``, and ``study.json``
when it was a variant of a study); the table lists only the config fields that
differ between the runs, because those are what the comparison is about.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError

STUDY_FILE = "study.json"
#: Keys that never make two runs different in a way worth a column.
IGNORED_KEYS = ("description",)
#: Per-layer settings, which a preset may give as one value for every layer.
PER_LAYER = ("model.activation", "model.dropout")
METRICS = ("loss", "acc", "mae", "val_loss", "val_acc", "val_mae")


@dataclass
class RunCurves:
    """One run's per-epoch metrics and flattened config (``{"model.hidden": [16, 16], ...}``)."""

    label: str
    config: dict[str, Any]
    epochs: list[dict[str, float | None]] = field(default_factory=list)
    folder: Path | None = None
    study: str = ""

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for row in self.epochs:
            value = row.get(metric)
            if value is not None and math.isfinite(value):
                xs.append(int(row["epoch"]))
                ys.append(float(value))
        return xs, ys

    @property
    def regression(self) -> bool:
        return any(row.get("val_mae") is not None for row in self.epochs) and not any(
            row.get("val_acc") is not None for row in self.epochs)

    def add_epoch(self, row: Mapping[str, Any]) -> None:
        self.epochs.append({"epoch": int(row["epoch"]), **{m: _number(row.get(m)) for m in METRICS}})


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config tables → dotted keys; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _read_study(folder: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((folder / STUDY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"run {folder}: config.toml can't be read ({exc})") from None


class RunTail:
    """Follows one run folder's event log: each ``update`` reads only the whole lines added since.

    The app's overlay calls it about once a second for every run on screen, so a
    run being written (a study's variant) fills in live without re-reading its log.
    """

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        study = _read_study(folder)
        self.folder = folder
        self.curves = RunCurves(label=str(study.get("variant") or folder.name), config={}, folder=folder,
                                study=str(study.get("study") or ""))
        self.offset = 0
        self._raw_config: dict[str, Any] = {}

    def update(self) -> bool:
        """Read what was appended; True when there are new epochs (or the config arrived)."""
        changed = False
        if not self._raw_config:
            with contextlib.suppress(UserError):
                self._raw_config = _read_config(self.folder)
            changed = bool(self._raw_config)
        log = self.folder / "history.jsonl"
        try:
            with log.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            data = b""
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next update
        if end:
            self.offset += end
            for line in data[:end].decode("utf-8", errors="replace").splitlines():
                changed = self._line(line) or changed
        if changed:
            self.curves.config = normalise(self._raw_config)
        return changed

    def _line(self, line: str) -> bool:
        try:
            event = json.loads(line)
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        if event.get("kind") == "epoch_ended" and isinstance(event.get("epoch"), int):
            self.curves.add_epoch(event)
            return True
        if event.get("kind") == "run_started" and not self._raw_config and isinstance(event.get("config"), dict):
            self._raw_config = event["config"]
            return True
        return False


def read_run(folder: Path) -> RunCurves:
    """A run folder's curves; ``UserError`` naming the folder when it holds no run."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"run {folder}: not a folder")
    log, table = folder / "history.jsonl", folder / "history.csv"
    if log.is_file():
        tail = RunTail(folder)
        _read_config(folder)  # a broken config.toml is reported, not skipped
        tail.update()
        tail.curves.config = normalise(tail._raw_config)
        return tail.curves
    if not table.is_file():
        raise UserError(f"run {folder}: holds no history (history.jsonl or history.csv)")
    study = _read_study(folder)
    run = RunCurves(label=str(study.get("variant") or folder.name), config=normalise(_read_config(folder)),
                    folder=folder, study=str(study.get("study") or ""))
    with table.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if (row.get("epoch") or "").isdigit():
                run.add_epoch(row)
    return run


def normalise(config: Mapping[str, Any]) -> dict[str, Any]:
    """A nested config as flat comparable values: a per-layer list of one repeated value is that value.

    So ``dropout = [0.0]`` (one layer) and ``[0.0, 0.0]`` (two) don't count as a difference.
    """
    out = {k: v for k, v in flatten(config).items() if k not in IGNORED_KEYS}
    for key in PER_LAYER:
        value = out.get(key)
        if isinstance(value, list) and value and len({json.dumps(v) for v in value}) == 1:
            out[key] = value[0]
    return out


def differing_keys(runs: Sequence[RunCurves]) -> list[str]:
    """Config keys whose values are not the same in every run, in config order."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.config if k not in keys)

    def text(run: RunCurves, key: str) -> str:
        return json.dumps(run.config[key], sort_keys=True, default=str) if key in run.config else "<absent>"

    return [k for k in keys if len({text(r, k) for r in runs}) > 1]


def _best(run: RunCurves, metric: str, lower: bool) -> tuple[float | None, int | None]:
    xs, ys = run.series(metric)
    if not ys:
        return None, None
    pick = min if lower else max
    value = pick(ys)
    return value, xs[ys.index(value)]


def summary_row(run: RunCurves, keys: Iterable[str]) -> dict[str, Any]:
    """One table row: what differs, epochs, best val metrics with their epoch, final train/val gap."""
    last = run.epochs[-1] if run.epochs else {}
    best_loss, best_loss_epoch = _best(run, "val_loss", lower=True)
    if run.regression:
        metric, (best_metric, best_metric_epoch) = "val_mae", _best(run, "val_mae", lower=True)
    else:
        metric, (best_metric, best_metric_epoch) = "val_acc", _best(run, "val_acc", lower=False)
    loss, val_loss = last.get("loss"), last.get("val_loss")
    return {
        "run": run.label,
        "folder": None if run.folder is None else str(run.folder),
        "study": run.study or None,
        "differs": {k: run.config.get(k) for k in keys},
        "epochs": int(last["epoch"]) if last else 0,
        "best_val_loss": best_loss,
        "best_val_loss_epoch": best_loss_epoch,
        "best_metric": metric,
        "best_val_metric": best_metric,
        "best_val_metric_epoch": best_metric_epoch,
        "final_loss": loss,
        "final_val_loss": val_loss,
        "final_gap": None if loss is None or val_loss is None else val_loss - loss,
    }


def compare_rows(runs: Sequence[RunCurves]) -> list[dict[str, Any]]:
    keys = differing_keys(runs)
    return [summary_row(run, keys) for run in runs]


def unique_names(runs: Sequence[RunCurves]) -> list[str]:
    """Distinct labels (two studies' "baseline" become "baseline", "baseline#2")."""
    seen: dict[str, int] = {}
    names = []
    for run in runs:
        n = seen.get(run.label, 0) + 1
        seen[run.label] = n
        names.append(run.label if n == 1 else f"{run.label}#{n}")
    return names


def unique_labels(runs: Sequence[RunCurves]) -> None:
    """Give the runs distinct labels, in place (see ``unique_names``)."""
    for run, name in zip(runs, unique_names(runs), strict=True):
        run.label = name
