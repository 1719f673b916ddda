"""Readers for the three records of a run: printed epoch lines, JSON events, history files.

Written independently of the code that writes them (no import from tui_trainer),
and tolerant of what other features may add: a trailing ``(N ms)`` on epoch
lines, extra JSON keys and event kinds, extra CSV columns, and floats rounded to
5-6 significant digits.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

#: ``[Epoch   3/20] loss: 0.12345, acc: 0.50000 val_loss: 0.23456, val_acc: 0.60000`` (+ optional ``(2 ms)``).
EPOCH_LINE = re.compile(
    r"^\[Epoch\s+(?P<epoch>\d+)/(?P<epochs>\d+)\]\s+loss: (?P<loss>\S+), (?P<metric>acc|mae): (?P<m>\S+)"
    r"\s+val_loss: (?P<val_loss>\S+), val_(?P=metric): (?P<val_m>[^\s,]+)(?:\s+\(.*\))?\s*$"
)
FIELDS = ("loss", "acc", "val_loss", "val_acc", "mae", "val_mae")


def number(text: str | None) -> float | None:
    """A printed number; ``n/a`` and empty cells are None, ``nan``/``inf`` stay floats."""
    if text is None or text in ("", "n/a", "None", "null"):
        return None
    return float(text)


def parse_epoch_lines(stdout: str) -> list[dict[str, Any]]:
    """Every epoch line of headless stdout as {"epoch", "loss", "acc"/"mae", "val_loss", ...}."""
    rows = []
    for line in stdout.splitlines():
        if not line.startswith("[Epoch"):
            continue
        m = EPOCH_LINE.match(line)
        assert m, f"epoch line not in the documented form: {line!r}"
        metric = m["metric"]
        rows.append({"epoch": int(m["epoch"]), "epochs": int(m["epochs"]), "loss": number(m["loss"]),
                     metric: number(m["m"]), "val_loss": number(m["val_loss"]), f"val_{metric}": number(m["val_m"])})
    return rows


def _strict_constant(name: str) -> float:
    raise AssertionError(f"JSON holds {name}, which is not JSON (NaN/inf must be null)")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Strict JSON lines: NaN/Infinity tokens fail instead of being accepted as Python would."""
    return [json.loads(line, parse_constant=_strict_constant) for line in text.splitlines() if line.strip()]


def epoch_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("kind") == "epoch_ended"]


def read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [{"epoch": int(r["epoch"]), **{k: number(r.get(k)) for k in FIELDS}} for r in rows]


def close(a: float | None, b: float | None, *, printed: bool = False) -> bool:
    """Equal up to rounding: 5-6 significant digits in JSON, 5 decimals on printed lines."""
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=2e-5, abs_tol=6e-6 if printed else 1e-9)


def as_json(value: float | None) -> float | None:
    """What JSON can hold: NaN and infinities become null."""
    return None if value is None or not math.isfinite(value) else value


def assert_same_epochs(expected: list[dict[str, Any]], got: list[dict[str, Any]], what: str, *,
                       printed: bool = False, json_side: bool = False, fields: tuple[str, ...] = FIELDS) -> None:
    """Value by value, epoch by epoch; a missing key and None are the same (no metric).

    ``json_side``: ``got`` is JSON, so a NaN/inf in ``expected`` must be null there.
    """
    assert [r["epoch"] for r in got] == [r["epoch"] for r in expected], what
    for want, row in zip(expected, got, strict=True):
        for key in fields:
            a, b = want.get(key), row.get(key)
            if json_side:
                a = as_json(a)
            assert close(a, b, printed=printed), f"{what}: epoch {want['epoch']} {key}: {b!r} != {a!r}"
