"""The command line as a user (or CI job) runs it: a real subprocess each time."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from tests.conftest import REPO, run_cli
from tests.records import assert_same_epochs, parse_epoch_lines, read_csv

ANSI = "\x1b["


def test_help_is_fast_and_imports_no_framework():
    code = (
        "import sys, time; t = time.perf_counter(); from tui_trainer.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('tensorflow', 'torch', 'keras', 'textual', 'plygdata') if m in sys.modules]\n"
        "print('LOADED', loaded, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60).stdout
    line = out.strip().splitlines()[-1]
    assert line.startswith("LOADED [] "), line
    assert float(line.split()[-1]) < 1.0
    assert "--no-ui" in out and "exit codes" in out


@pytest.mark.framework
def test_headless_circle_torch_prints_textbook_lines_and_summary():
    r = run_cli("--preset", "circle", "--no-ui", "--backend", "torch", "--epochs", "30")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    epochs = [line for line in lines if line.startswith("[Epoch")]
    assert len(epochs) == 30
    assert epochs[0].startswith("[Epoch   1/30] loss: ") and ", acc: " in epochs[0] and " val_loss: " in epochs[0]
    assert ", val_acc: " in epochs[0]
    assert any(line.startswith("finished: completed after 30 epochs") for line in lines)
    assert any(line.startswith("total params: 25") for line in lines)
    assert any("decision boundary" in line for line in lines)
    assert ANSI not in r.stdout  # not a terminal: no escapes


@pytest.mark.framework
def test_min_val_acc_met_and_missed():
    ok = run_cli("--no-ui", "--backend", "torch", "--min-val-acc", "0.95")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr
    missed = run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--min-val-acc", "0.999")
    assert missed.returncode == 1 and "target missed" in missed.stderr
    loss = run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--max-val-loss", "0.0001")
    assert loss.returncode == 1 and "--max-val-loss" in loss.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "train.optimizer=adamm"], "train.optimizer: 'adamm' is not allowed; choose one of sgd, momentum"),
        (["--set", "train.epoch=5"], "did you mean 'epochs'"),
        (["--set", "data.noise=0.9"], "data.noise: 0.9 is out of range"),
        (["--set", "model.hidden=[3,-1]"], "model.hidden"),
        (["--preset", "circel"], "did you mean 'circle'"),
        (["--epochs", "0"], "train.epochs: 0 is out of range"),
        (["--backend", "jax"], "invalid choice: 'jax'"),
        (["--set", "nonsense"], "section.key=value"),
        (["--preset", "reg-plane", "--min-val-acc", "0.5"], "regression"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    r = run_cli("--no-ui", *args)
    assert r.returncode == 2
    assert fragment in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.framework
def test_bad_data_file_is_exit_2(tmp_path):
    bad = tmp_path / "pts.csv"
    bad.write_text("x1,x2,label\n1,2,1\n3,4,1\n")
    for path, fragment in ((tmp_path / "missing.csv", "missing.csv"),
                           (bad, "pts.csv: label column 'label' has only one class (1)")):
        r = run_cli("--no-ui", "--backend", "torch", "--set", "data.dataset=file", "--set", f"data.path={path}",
                    "--output", str(tmp_path / "out"))
        assert r.returncode == 2 and fragment in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""
        assert not (tmp_path / "out").exists()  # nothing written for a run that never started


@pytest.mark.framework
def test_diverged_is_exit_3():
    r = run_cli("--preset", "reg-plane", "--no-ui", "--backend", "torch", "--set", "train.learning_rate=10")
    assert r.returncode == 3
    assert "finished: diverged" in r.stdout and "diverged" in r.stderr


@pytest.mark.framework
def test_json_lines(tmp_path):
    r = run_cli("--no-ui", "--json", "--backend", "torch", "--epochs", "3")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("epoch_ended") == 3 and "boundary_updated" in kinds
    first = events[0]
    assert first["summary"]["params"] == 25 and first["config"]["train"]["backend"] == "torch"
    epochs = [e for e in events if e["kind"] == "epoch_ended"]
    assert [(e["epoch"], e["epochs"]) for e in epochs] == [(1, 3), (2, 3), (3, 3)]
    n_train, n_val = first["n_train"], first["n_val"]
    assert (n_train, n_val) == (250, 250)  # the circle preset: 500 points, half for validation
    for e in epochs:
        # Accuracies are counts of samples: k / n exactly (up to JSON rounding); losses are MSE of ±1 labels.
        assert abs(e["acc"] * n_train - round(e["acc"] * n_train)) < 1e-3
        assert abs(e["val_acc"] * n_val - round(e["val_acc"] * n_val)) < 1e-3
        assert 0 < e["loss"] < 4 and 0 < e["val_loss"] < 4 and e["loss"] != e["val_loss"] and e["seconds"] > 0
        assert e["mae"] is None and e["val_mae"] is None
    done = events[-1]
    assert done["reason"] == "completed" and done["epochs_run"] == 3
    assert {k: done["final"][k] for k in ("epoch", "loss", "val_loss", "acc", "val_acc")} == {
        k: epochs[-1][k] for k in ("epoch", "loss", "val_loss", "acc", "val_acc")}
    best = min(epochs, key=lambda e: e["val_loss"])
    assert done["best_epoch"] == best["epoch"] and done["best_val_loss"] == best["val_loss"]


def test_json_needs_no_ui():
    r = run_cli("--json")
    assert r.returncode == 2 and "--no-ui" in r.stderr


@pytest.mark.framework
def test_output_folder(tmp_path):
    out = tmp_path / "run"
    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "4", "--output", str(out))
    assert r.returncode == 0, r.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["train"]["epochs"] == 4 and config["train"]["backend"] == "torch"
    rows = read_csv(out / "history.csv")
    assert_same_epochs(parse_epoch_lines(r.stdout), rows, "history.csv vs printed lines", printed=True)
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    jsonl = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert jsonl[0]["kind"] == "run_started" and jsonl[-1]["kind"] == "run_finished"
    assert (out / "model.pt").stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["weights"] == "model.pt"
    # A second run must not overwrite the first one silently.
    before = (out / "history.csv").read_text()
    again = run_cli("--no-ui", "--backend", "torch", "--epochs", "2", "--output", str(out))
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert (out / "history.csv").read_text() == before
    forced = run_cli("--no-ui", "--backend", "torch", "--epochs", "2", "--output", str(out), "--overwrite")
    assert forced.returncode == 0 and len(list(csv.DictReader((out / "history.csv").open()))) == 2


def test_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "never"
    r = run_cli("--no-ui", "--set", "train.epochs=-1", "--output", str(out))
    assert r.returncode == 2 and not out.exists()


@pytest.mark.framework
def test_tensorflow_output_saves_keras_weights(tmp_path):
    out = tmp_path / "tf"
    r = run_cli("--no-ui", "--backend", "tensorflow", "--epochs", "2", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "model.keras").stat().st_size > 0
    assert "[Epoch 2/2]" not in r.stdout and "[Epoch   2/2]" in r.stdout


@pytest.mark.framework
def test_ctrl_c_exits_130_and_keeps_history(tmp_path):
    out = tmp_path / "interrupted"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", "torch", "--epochs", "100000",
         "--set", "train.batch_size=1", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("[Epoch") and int(line[len("[Epoch"):].split("/")[0]) >= 2:
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "finished: stopped" in stdout
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) >= 2
    assert (out / "model.pt").exists()


def test_list_presets():
    r = run_cli("--list-presets")
    assert r.returncode == 0
    names = {line.split()[0]: line for line in r.stdout.splitlines()}
    for name in ("circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"):
        assert "built-in" in names[name]
    assert "textbook" in names["circle"]


def test_show_config_merges_overrides():
    r = run_cli("--preset", "xor", "--set", "model.hidden=[5]", "--seed", "9", "--show-config")
    cfg = tomllib.loads(r.stdout)
    assert cfg["data"]["dataset"] == "xor" and cfg["model"]["hidden"] == [5] and cfg["data"]["seed"] == 9


@pytest.mark.framework
@pytest.mark.parametrize(("name", "target"), [
    ("xor", ["--min-val-acc", "0.95"]), ("gauss", ["--min-val-acc", "0.95"]), ("spiral", ["--min-val-acc", "0.9"]),
    ("reg-plane", ["--max-val-loss", "0.01"]), ("reg-gauss", ["--max-val-loss", "0.05"]),
])
def test_every_builtin_playground_preset_learns_its_data_on_torch(name, target):
    r = run_cli("--preset", name, "--no-ui", "--backend", "torch", *target)
    assert r.returncode == 0, (name, r.stdout[-1500:], r.stderr)  # exit 1 would mean the target was missed
    assert "finished: completed" in r.stdout or "finished: early-stopped" in r.stdout
