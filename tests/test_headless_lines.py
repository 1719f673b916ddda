"""Headless output as a script or a person reads it (issue 10): epoch lines with their time,
notes on stderr, rounded JSON with a time on every event, a summary that says what made it,
and the map over a data file's own range."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.test_app_person import write_ab_csv

pytestmark = pytest.mark.framework

#: The documented epoch line (README): textbook metrics, then the epoch's time.
EPOCH_LINE = re.compile(
    r"^\[Epoch +(\d+)/(\d+)\] loss: (\d+\.\d{5}), acc: (\d\.\d{5}) val_loss: (\d+\.\d{5}), "
    r"val_acc: (\d\.\d{5}) \((\d+(?:\.\d)?) (ms|s)\)$")


def file_args(path: Path) -> list[str]:
    return ["--preset", "csv", "--set", f"data.path={path}", "--set", "data.columns=[a,b]",
            "--set", "data.label_column=y", "--backend", "torch", "--epochs", "3", "--no-ui"]


def significant_digits(value: float) -> int:
    digits = f"{value:.15g}".lstrip("-").replace(".", "").lstrip("0").split("e")[0]
    return len(digits.rstrip("0")) or 1


def test_text_output_epoch_times_notes_on_stderr_file_range_and_summary(tmp_path):
    write_ab_csv(tmp_path / "ab.csv")
    out = tmp_path / "run"
    r = run_cli(*file_args(tmp_path / "ab.csv"), "--output", str(out), env={"NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    epochs = [line for line in lines if line.startswith("[Epoch")]
    assert len(epochs) == 3
    for n, line in enumerate(epochs, 1):
        match = EPOCH_LINE.match(line)
        assert match, line
        assert int(match[1]) == n and int(match[2]) == 3
        seconds = float(match[7]) / (1000 if match[8] == "ms" else 1)
        assert 0 < seconds < 60
    # The epoch lines follow each other, with notes (about the file) on stderr only.
    first = lines.index(epochs[0])
    assert lines[first:first + 3] == epochs
    assert "note:" not in r.stdout and "note: ab.csv: 120 rows, binary, columns a, b → y" in r.stderr
    # The map spans the file's own range and names its columns.
    assert "decision boundary over a [-10, 110] x b [-10, 110] (a across, b up), epoch 3:" in r.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "torch" and summary["device"] == "CPU" and summary["params"] == 105
    versions = summary["versions"]
    assert set(versions) == {"python", "torch", "tui_trainer"} and all(versions.values())
    assert versions["torch"].startswith("2.")
    assert "kind" not in summary["final"] and summary["final"]["epoch"] == 3
    assert summary["kind"] == "run_finished"


def test_json_events_have_times_rounded_floats_and_the_files_extent(tmp_path):
    write_ab_csv(tmp_path / "ab.csv")
    r = run_cli(*file_args(tmp_path / "ab.csv"), "--json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert {e["kind"] for e in events} >= {"run_started", "epoch_ended", "boundary_updated", "run_finished"}
    times = [datetime.fromisoformat(e["time"]) for e in events]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)

    def floats(value, key=None):
        if isinstance(value, float):
            yield key, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from floats(v, k)
        elif isinstance(value, list):
            for v in value:
                yield from floats(v, key)

    for event in events:
        for key, value in floats(event):
            if key == "seconds":
                assert round(value, 4) == value, (event["kind"], key, value)
            else:
                assert significant_digits(value) <= 6, (event["kind"], key, value)
    boundary = next(e for e in events if e["kind"] == "boundary_updated")
    assert boundary["extent"] == [-10.0, 110.0, -10.0, 110.0] and boundary["axes"] == ["a", "b"]
    finished = events[-1]
    assert finished["kind"] == "run_finished" and "kind" not in finished["final"]


def test_tensorflows_import_chatter_never_reaches_the_terminal():
    """TensorFlow's C++ prints two lines at import whatever TF_CPP_MIN_LOG_LEVEL says; in the app they
    landed on the screen. With the level unset, as a person runs it, stderr stays empty."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-m", "tui_trainer", "--preset", "circle", "--backend", "tensorflow",
                        "--epochs", "2", "--no-ui"], capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert r.returncode == 0, r.stderr
    assert "absl" not in r.stderr and "oneDNN" not in r.stderr and r.stderr == "", r.stderr
