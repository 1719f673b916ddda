"""Writes a run to a folder as it happens: config.toml, history.csv/.jsonl, weights.

Histories are appended and flushed per epoch, so a run that is interrupted or
crashes keeps every epoch it finished.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO

from tui_trainer.errors import UserError
from tui_trainer.events import EpochEnded, Event, RunFailed, RunFinished, RunStarted, to_json_dict

RUN_FILES = ("config.toml", "history.csv", "history.jsonl", "summary.json", "model.keras", "model.pt")
CSV_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc", "mae", "val_mae", "seconds")


def check_output_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse to mix a new run into a folder that holds an old one, unless told to."""
    if path.exists() and not path.is_dir():
        raise UserError(f"--output: {path} exists and is not a folder")
    if path.is_dir() and not overwrite:
        existing = [name for name in RUN_FILES if (path / name).exists()]
        if existing:
            raise UserError(
                f"--output: {path} already holds a run ({', '.join(existing)}); choose another folder or add --overwrite"
            )


class RunExporter:
    def __init__(self, directory: Path, session_getter) -> None:
        self.dir = Path(directory)
        self._session_getter = session_getter
        self._csv: IO[str] | None = None
        self._jsonl: IO[str] | None = None
        self._writer = None
        self.weights: Path | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(to_json_dict(event), allow_nan=False) + "\n")
            self._jsonl.flush()
        if isinstance(event, EpochEnded) and self._writer is not None:
            self._writer.writerow({k: _csv_value(getattr(event, k)) for k in CSV_COLUMNS})
            self._csv.flush()
        elif isinstance(event, RunFinished):
            self._finish(event)
        elif isinstance(event, RunFailed):
            self.close()

    def _start(self, event: RunStarted) -> None:
        from tui_trainer.presets import dumps

        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config.toml").write_text(dumps(event.config), encoding="utf-8")
        self._csv = open(self.dir / "history.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._csv, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()
        self._csv.flush()
        self._jsonl = open(self.dir / "history.jsonl", "w", encoding="utf-8")  # noqa: SIM115

    def _finish(self, event: RunFinished) -> None:
        session = self._session_getter()
        if session is not None and session.backend is not None and event.epochs_run > 0:
            self.weights = session.save(self.dir)
        summary = to_json_dict(event)
        summary["weights"] = self.weights.name if self.weights else None
        (self.dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        self.close()

    def close(self) -> None:
        for handle in (self._csv, self._jsonl):
            if handle is not None and not handle.closed:
                handle.close()


def _csv_value(value: float | int | None) -> str | float | int:
    return "" if value is None else value
