"""What the README promises about a headless run, on both backends, as a user runs it (real subprocesses).

* the three records of a run (printed lines, ``--json`` events, history.csv and
  history.jsonl) agree value by value;
* the history files are readable while the run is still going;
* ``--max-val-loss``/``--min-val-acc`` judge the final epoch, also when an
  early-stopped run's best epoch was better;
* exit codes: 3 diverged (with and without ``--json``; NaN is null in JSON),
  130 Ctrl-C (history kept; a second Ctrl-C quits at once), 4 an unexpected
  failure inside the framework (here: saving the weights onto a folder).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, run_cli
from tests.records import (
    assert_same_epochs,
    epoch_events,
    json_lines,
    parse_epoch_lines,
    read_csv,
)

pytestmark = pytest.mark.framework

BACKENDS = ["torch", "tensorflow"]
WEIGHTS = {"torch": "model.pt", "tensorflow": "model.keras"}
# Gauss with a large learning rate stops early on both backends, a few epochs after its best one.
EARLY_STOP = ["--preset", "gauss", "--epochs", "200", "--set", "train.patience=2", "--set", "train.learning_rate=0.3"]


def headless(backend: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_cli("--no-ui", "--backend", backend, *args, timeout=timeout)


def run_finished(events):
    (done,) = [e for e in events if e["kind"] == "run_finished"]
    return done


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_records_agree_and_thresholds_judge_the_final_epoch(backend, tmp_path):
    plain = headless(backend, *EARLY_STOP, "--output", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    as_json = headless(backend, *EARLY_STOP, "--json", "--output", str(tmp_path / "json"))
    assert as_json.returncode == 0, as_json.stderr

    printed = parse_epoch_lines(plain.stdout)
    events = json_lines(as_json.stdout)
    streamed = epoch_events(events)
    assert len(printed) >= 3
    # One run's own records: its lines, its history.csv, its history.jsonl.
    assert_same_epochs(printed, read_csv(tmp_path / "plain" / "history.csv"), "history.csv vs printed lines",
                       printed=True)
    plain_jsonl = json_lines((tmp_path / "plain" / "history.jsonl").read_text())
    assert_same_epochs(read_csv(tmp_path / "plain" / "history.csv"), epoch_events(plain_jsonl),
                       "history.jsonl vs history.csv", json_side=True)
    # The --json run's stream and its files (same seed, same numbers as the plain run).
    assert_same_epochs(read_csv(tmp_path / "json" / "history.csv"), streamed, "--json vs its history.csv",
                       json_side=True)
    assert_same_epochs(streamed, epoch_events(json_lines((tmp_path / "json" / "history.jsonl").read_text())),
                       "--json vs its history.jsonl")
    assert_same_epochs(printed, streamed, "--json vs printed lines", printed=True)

    # The summary: printed, in JSON, in summary.json.
    done = run_finished(events)
    assert done["reason"] == "early-stopped" and done["epochs_run"] == len(streamed) == done["best_epoch"] + 2
    best = min(streamed, key=lambda e: e["val_loss"])
    final = streamed[-1]
    assert done["best_epoch"] == best["epoch"] and done["final"]["epoch"] == final["epoch"]
    assert done["best_val_loss"] == pytest.approx(best["val_loss"], rel=2e-5)
    assert final["val_loss"] > best["val_loss"] * 1.01  # best and final differ
    assert f"final: val_loss {final['val_loss']:.5f}, val_acc {final['val_acc']:.5f} (epoch {final['epoch']})" \
        in plain.stdout.splitlines()
    assert f"best:  val_loss {best['val_loss']:.5f}, val_acc {best['val_acc']:.5f} (epoch {best['epoch']})" \
        in plain.stdout.splitlines()
    summary = json.loads((tmp_path / "json" / "summary.json").read_text())
    assert summary["best_epoch"] == best["epoch"] and summary["final"]["val_loss"] == pytest.approx(final["val_loss"])
    assert summary["weights"] == WEIGHTS[backend] and (tmp_path / "json" / WEIGHTS[backend]).stat().st_size > 0

    # A target the best epoch meets but the final one misses: exit 1.
    between = (best["val_loss"] + final["val_loss"]) / 2
    missed = headless(backend, *EARLY_STOP, "--max-val-loss", f"{between:.6f}")
    assert missed.returncode == 1, missed.stderr
    assert "target missed: val_loss" in missed.stderr and "--max-val-loss" in missed.stderr
    # A target the final epoch meets: exit 0 (and the accuracy check looks at the final epoch too).
    met = headless(backend, *EARLY_STOP, "--max-val-loss", f"{final['val_loss'] * 1.001:.6f}",
                   "--min-val-acc", f"{final['val_acc'] - 1e-4:.6f}")
    assert met.returncode == 0, met.stderr
    if final["val_acc"] < best["val_acc"]:
        acc = headless(backend, *EARLY_STOP, "--min-val-acc", f"{(best['val_acc'] + final['val_acc']) / 2:.6f}")
        assert acc.returncode == 1 and "--min-val-acc" in acc.stderr


def start(backend: str, *args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", backend, *args],
                            stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO, env=env)


def read_until(stream, predicate, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if predicate(line):
            return lines
    raise AssertionError(f"gave up waiting; read: {lines[-5:]}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_files_are_readable_mid_run_and_ctrl_c_keeps_them(backend, tmp_path):
    out = tmp_path / "run"
    proc = start(backend, "--epochs", "100000", "--set", "train.batch_size=1", "--output", str(out))
    try:
        seen = read_until(proc.stdout, lambda line: line.startswith("[Epoch") and parse_epoch_lines(line)[0]["epoch"] == 3)
        # The run is still going; epoch 3's line is printed before its file rows, so expect at least 1 and 2.
        assert proc.poll() is None
        printed = parse_epoch_lines("".join(seen))
        rows = read_csv(out / "history.csv")
        assert len(rows) >= 2, "history.csv is not flushed per epoch"
        assert_same_epochs(printed[:len(rows)], rows, "history.csv mid-run", printed=True)
        streamed = epoch_events(json_lines((out / "history.jsonl").read_text()))
        assert len(streamed) >= 2, "history.jsonl is not flushed per epoch"
        assert_same_epochs(printed[:len(streamed)], streamed, "history.jsonl mid-run", printed=True)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "finished: stopped" in stdout
    printed = parse_epoch_lines("".join(seen) + stdout)
    rows = read_csv(out / "history.csv")
    assert_same_epochs(printed, rows, "history.csv after Ctrl-C", printed=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["epochs_run"] == len(rows) >= 3
    assert (out / WEIGHTS[backend]).stat().st_size > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_ctrl_c_quits_at_once(backend, tmp_path):
    # Big batches of a wide network: the first Ctrl-C waits for a batch that takes a while.
    log = tmp_path / "stdout.txt"
    with open(log, "w") as stdout:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", backend, "--set", "data.dataset=digits",
             "--set", "model.output_activation=softmax", "--set", "train.loss=categorical_crossentropy",
             "--set", "model.hidden=[4096,4096]", "--set", "train.batch_size=1024", "--epochs", "1000",
             "--output", str(tmp_path / "run")],
            stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
        try:
            deadline = time.monotonic() + 120
            csv = tmp_path / "run" / "history.csv"
            # Epoch 1 is done (a row under the header): a Ctrl-C before it ends the run at once, and
            # on a busy machine the header alone came too early for a second Ctrl-C to find the run.
            while not (csv.exists() and len(csv.read_text().splitlines()) >= 2) and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            first = read_until(proc.stderr, lambda line: "interrupted;" in line)
            proc.send_signal(signal.SIGINT)
            t0 = time.monotonic()
            rest = "".join(first) + proc.stderr.read()
            proc.wait(timeout=60)
            quit_in = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, rest
    assert "again; quitting now" in rest and "Traceback" not in rest
    assert quit_in < 5
    assert "finished:" not in log.read_text()  # it did not wait for the batch and the summary


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("json_mode", [False, True], ids=["lines", "json"])
def test_divergence_is_exit_3(backend, json_mode, tmp_path):
    out = tmp_path / "run"
    r = headless(backend, "--preset", "reg-plane", "--set", "train.learning_rate=10", "--epochs", "100",
                 *(["--json"] if json_mode else []), "--output", str(out))
    assert r.returncode == 3, r.stderr
    assert "tui-trainer: training diverged (loss is NaN or infinite); try a lower learning rate" in r.stderr
    assert "Traceback" not in r.stderr
    rows = read_csv(out / "history.csv")
    last = rows[-1]
    assert not (math.isfinite(last["loss"]) and math.isfinite(last["val_loss"]))
    assert all(math.isfinite(row["loss"]) and math.isfinite(row["val_loss"]) for row in rows[:-1])
    jsonl = json_lines((out / "history.jsonl").read_text())  # strict: NaN must be null
    assert_same_epochs(rows, epoch_events(jsonl), "history.jsonl vs history.csv", json_side=True)
    assert run_finished(jsonl)["reason"] == "diverged"
    if json_mode:
        events = json_lines(r.stdout)
        streamed = epoch_events(events)
        assert_same_epochs(rows, streamed, "--json vs history.csv", json_side=True)
        assert streamed[-1]["loss"] is None or streamed[-1]["val_loss"] is None
        done = run_finished(events)
        assert done["reason"] == "diverged" and done["epochs_run"] == len(rows) < 100
        assert done["final"]["epoch"] == len(rows)
        assert not any(e["kind"] == "run_failed" for e in events)
    else:
        assert_same_epochs(rows, parse_epoch_lines(r.stdout), "printed lines vs history.csv")
        assert f"finished: diverged after {len(rows)} epochs" in r.stdout


def _memory_cap(limit: float):
    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))

    return cap


#: Address-space caps under which the framework imports but can't hold a 49M-parameter network with its
#: gradients and Adam's moments (measured with torch 2.13 and tensorflow-cpu 2.21).
MEMORY_CAP = {"torch": 1.5e9, "tensorflow": 3.0e9}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("json_mode", [False, True], ids=["lines", "json"])
def test_a_framework_failure_is_exit_4(backend, json_mode, tmp_path):
    # The framework itself runs out of memory (RuntimeError in PyTorch; TensorFlow fails to allocate or to
    # save): an unexpected failure, not bad input. The model is under the 50M-parameter limit on purpose.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run(
        [sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", backend, "--epochs", "1",
         "--set", "model.hidden=[7000,7000]", "--set", "train.optimizer=adam", "--output", str(tmp_path / "run"),
         *(["--json"] if json_mode else [])],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=240, preexec_fn=_memory_cap(MEMORY_CAP[backend]))
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("tui-trainer: error: ")]
    assert len(errors) == 1 and "Traceback" not in r.stderr
    assert "memory" in errors[0].lower() or "MemoryError" in errors[0] or "ResourceExhausted" in errors[0]
    if json_mode:
        events = json_lines(r.stdout)
        if events[-1]["kind"] == "run_failed":
            # The same message (on stderr with its control characters, newlines included, taken out).
            assert errors[0].startswith(f"tui-trainer: error: {events[-1]['message'].splitlines()[0]}")
