"""Progress inside long epochs, seen the way each face sees it, from real runs.

Epochs here take milliseconds, so the tests lower the "epoch longer than a
second" threshold with ``TUI_TRAINER_PROGRESS_AFTER``/``_EVERY`` (seconds),
the same knobs a user has, rather than training for minutes.
"""

from __future__ import annotations

import json
import math
import os
import pty
import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.conftest import REPO, run_cli
from tui_trainer.app.messages import EpochProgressed, message_for
from tui_trainer.app.metrics import progress_parts
from tui_trainer.core.events import EpochProgress
from tui_trainer.faces.progress_line import ERASE

pytestmark = pytest.mark.framework

NOW = {"TUI_TRAINER_PROGRESS_AFTER": "0", "TUI_TRAINER_PROGRESS_EVERY": "0"}


def points_file(tmp_path, n: int):
    """An .npz of n xor-labelled points: enough batches (or compiled chunks) for progress to show."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)
    path = tmp_path / f"points{n}.npz"
    np.savez(path, x1=x1, x2=x2, label=np.where(x1 * x2 >= 0, 1, -1))
    return path


def json_events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize(("backend", "n"), [("torch", 2000), ("tensorflow", 12000)])
def test_json_carries_progress_before_each_epoch_line(tmp_path, backend, n):
    # TensorFlow reports once per compiled chunk (4,096 samples), so it needs more than one chunk.
    path = points_file(tmp_path, n)
    r = run_cli("--no-ui", "--json", "--preset", "csv", "--backend", backend, "--epochs", "2",
                "--set", f"data.path={path}", env=NOW)
    assert r.returncode == 0, r.stderr
    events = json_events(r.stdout)
    progress = [e for e in events if e["kind"] == "progress"]
    assert progress, [e["kind"] for e in events]
    first = progress[0]
    assert set(first) >= {"epoch", "epochs", "batches_done", "batches", "samples_done", "samples", "samples_per_s",
                          "epoch_eta", "run_eta"}
    assert first["epoch"] == 1 and first["epochs"] == 2
    assert 0 < first["samples_done"] < first["samples"] == int(n * 0.7)
    assert 0 < first["batches_done"] < first["batches"] == math.ceil(first["samples"] / 10)
    assert first["samples_per_s"] > 0 and first["run_eta"] >= first["epoch_eta"] >= 0
    # Every progress object precedes its own epoch's line.
    kinds = [(e["kind"], e.get("epoch")) for e in events]
    for p in progress:
        assert kinds.index(("progress", p["epoch"])) < kinds.index(("epoch_ended", p["epoch"]))
    # At most one a second, even though the engine reports on every batch here.
    seconds = events[-1]["seconds"]
    assert len(progress) <= math.floor(seconds) + 1


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    r = run_cli("--no-ui", "--preset", "csv", "--backend", "torch", "--epochs", "2",
                "--set", f"data.path={points_file(tmp_path, 2000)}", env=NOW)
    assert r.returncode == 0, r.stderr
    assert "batches" not in r.stderr and "\x1b" not in r.stderr and "\r" not in r.stderr
    assert "\r" not in r.stdout and "batches" not in r.stdout
    assert sum(line.startswith("[Epoch") for line in r.stdout.splitlines()) == 2


def test_progress_line_on_a_terminal_is_drawn_then_erased(tmp_path):
    """stderr a real pseudo-terminal, stdout a pipe: the line goes to the terminal only."""
    master, slave = pty.openpty()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TUI_TRAINER_PROGRESS_AFTER": "0",
           "TUI_TRAINER_PROGRESS_EVERY": "0.01", "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "--no-ui", "--preset", "csv", "--backend", "torch", "--epochs", "3",
         "--set", f"data.path={points_file(tmp_path, 20000)}"],
        stdout=subprocess.PIPE, stderr=slave, cwd=REPO, env=env, timeout=240, check=False,
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    assert proc.returncode == 0
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert "epoch 1/3" in terminal and "batches" in terminal and "samples/s" in terminal and "run ETA" in terminal
    assert terminal.rstrip("\n").endswith(ERASE)  # nothing left on screen once the run ends
    stdout = proc.stdout.decode()
    assert "\r" not in stdout and "batches" not in stdout
    assert sum(line.startswith("[Epoch") for line in stdout.splitlines()) == 3


def test_run_folder_keeps_whole_epochs_only(tmp_path):
    out = tmp_path / "run"
    r = run_cli("--no-ui", "--preset", "csv", "--backend", "torch", "--epochs", "2", "--output", str(out),
                "--set", f"data.path={points_file(tmp_path, 2000)}", env=NOW)
    assert r.returncode == 0, r.stderr
    kinds = [json.loads(line)["kind"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert "progress" not in kinds and kinds.count("epoch_ended") == 2


def test_off_switch(tmp_path):
    r = run_cli("--no-ui", "--json", "--preset", "csv", "--backend", "torch", "--epochs", "1",
                "--set", f"data.path={points_file(tmp_path, 2000)}", env={**NOW, "TUI_TRAINER_PROGRESS": "off"})
    assert r.returncode == 0, r.stderr
    assert "progress" not in [e["kind"] for e in json_events(r.stdout)]


def test_app_status_line_shows_the_epoch_bar():
    event = EpochProgress(epoch=3, epochs=10, batches_done=900, batches=1875, samples_done=28800, samples=60000,
                          samples_per_s=14400.0, epoch_eta=2.2, run_eta=33.0)
    assert isinstance(message_for(7, event), EpochProgressed)
    parts = [words for words, _ in progress_parts(event, 10, show_timings=True)]
    assert parts[0].startswith("epoch 3/10 ━━━━━╺") and parts[0].endswith(" 48%")
    assert parts[1] == "900/1,875 batches, 14,400/s, epoch ETA 2.2s"
    assert [w for w, _ in progress_parts(event, 10, show_timings=False)][1] == "900/1,875 batches"
