"""The run's writers and its exit code, fed hand-made events: no framework, no training.

Every expected value here is written out in the test (the events are plain
data), so a writer that swaps, drops, rounds or mis-flushes a number is caught
in the fast core tier, and each test reads back what a user would read: the
printed line, the JSON line, the file on disk.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.records import epoch_events, json_lines, parse_epoch_lines, read_csv
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError, UserError
from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    LayerSummary,
    ModelSummary,
    RunFailed,
    RunFinished,
    RunStarted,
    to_json_dict,
)
from tui_trainer.engine.session import RunResult
from tui_trainer.faces.exit_codes import (
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_THRESHOLD,
    EXIT_USAGE,
    exit_status,
)
from tui_trainer.faces.headless import HeadlessPrinter, JsonLinesPrinter
from tui_trainer.runs.export import RunExporter, check_output_dir

SUMMARY = ModelSummary(backend="torch", device="CPU", params=13, input_shape=(2,), layers=(
    LayerSummary("dense", "dense", (3,), 9), LayerSummary("dense_1", "dense", (1,), 4)))
STARTED = RunStarted(config=Config(), summary=SUMMARY, task="binary", n_train=4, n_val=2)
# Three epochs whose numbers are all different, so a swapped or shifted field shows.
E1 = EpochEnded(epoch=1, epochs=3, loss=0.75, acc=0.5, val_loss=0.625, val_acc=0.25, seconds=0.01)
E2 = EpochEnded(epoch=2, epochs=3, loss=0.4375, acc=0.75, val_loss=0.3125, val_acc=0.875, seconds=0.02)
E3 = EpochEnded(epoch=3, epochs=3, loss=0.375, acc=1.0, val_loss=0.5, val_acc=0.625, seconds=0.03)
# Best epoch 2 (lowest val_loss), final epoch 3: thresholds must look at epoch 3.
DONE = RunFinished(reason="early-stopped", epochs_run=3, best_epoch=2, best_val_loss=0.3125, best_val_acc=0.875,
                   final=E3, seconds=1.5)
NAN_EPOCH = EpochEnded(epoch=1, epochs=3, loss=math.nan, acc=0.5, val_loss=math.inf, val_acc=0.5, seconds=0.01)
REG = EpochEnded(epoch=1, epochs=1, loss=0.25, acc=None, val_loss=0.0625, val_acc=None, seconds=0.1,
                 mae=0.5, val_mae=0.125)


def result(finished: RunFinished | None = DONE, failed: RunFailed | None = None,
           error: BaseException | None = None) -> RunResult:
    return RunResult(finished=finished, failed=failed, error=error)


def finished(reason: str = "completed", final: EpochEnded | None = E3, best_epoch: int = 2) -> RunFinished:
    return RunFinished(reason=reason, epochs_run=final.epoch if final else 0, best_epoch=best_epoch,
                       best_val_loss=0.3125, best_val_acc=0.875, final=final, seconds=1.0)


# -- exit codes ---------------------------------------------------------------------------------


def test_exit_codes_follow_the_readme() -> None:
    assert exit_status(result(finished("completed"))).code == EXIT_OK == 0
    assert exit_status(result(finished("early-stopped"))) == exit_status(result())
    assert exit_status(result()).message is None
    stopped = exit_status(result(finished("stopped")))
    assert stopped.code == EXIT_INTERRUPTED == 130 and stopped.message is None
    # Ctrl-C (SIGINT, 2) wins even when the run had just completed; SIGTERM (15) and SIGHUP (1) are 128 + n.
    assert exit_status(result(finished("completed")), signal_number=2).code == 130
    assert exit_status(result(finished("stopped")), signal_number=15).code == 143
    assert exit_status(result(finished("completed")), signal_number=1) == type(stopped)(129)
    diverged = exit_status(result(finished("diverged", NAN_EPOCH, 0)), max_val_loss=10)
    assert diverged.code == EXIT_DIVERGED == 3 and "diverged" in diverged.message
    failed = exit_status(result(None, RunFailed("RuntimeError: boom"), RuntimeError("boom")))
    assert failed.code == EXIT_FAILED == 4 and failed.message == "error: RuntimeError: boom"
    bad = exit_status(result(None, RunFailed("data.path: no such file"), ConfigError("data.path", "no such file")),
                      signal_number=2)
    assert bad.code == EXIT_USAGE == 2 and bad.message == "error: data.path: no such file"
    lost = exit_status(None)
    assert lost == type(lost)(4, "error: training thread ended without a result")
    assert diverged.message == "training diverged (loss is NaN or infinite); try a lower learning rate"


def test_thresholds_use_the_final_epoch_not_the_best() -> None:
    # Final val_loss 0.5 (epoch 3), best 0.3125 (epoch 2).
    assert exit_status(result(), max_val_loss=0.5).code == EXIT_OK  # equal passes
    missed = exit_status(result(), max_val_loss=0.4)
    assert missed.code == EXIT_THRESHOLD == 1
    assert missed.message == "target missed: val_loss 0.5 > --max-val-loss 0.4"
    # Final val_acc 0.625, best 0.875.
    assert exit_status(result(), min_val_acc=0.625).code == EXIT_OK  # equal passes
    missed = exit_status(result(), min_val_acc=0.7)
    assert missed.code == 1 and missed.message == "target missed: val_acc 0.625 < --min-val-acc 0.7"
    both = exit_status(result(), min_val_acc=0.7, max_val_loss=0.4)
    assert both.message == "target missed: val_acc 0.625 < --min-val-acc 0.7; val_loss 0.5 > --max-val-loss 0.4"
    assert exit_status(result(), min_val_acc=0.6, max_val_loss=0.6).code == EXIT_OK


def test_thresholds_on_odd_runs() -> None:
    nan_final = finished("completed", EpochEnded(epoch=1, epochs=1, loss=0.1, acc=1.0, val_loss=math.nan,
                                                  val_acc=1.0, seconds=0.1))
    assert exit_status(result(nan_final), max_val_loss=100.0).code == EXIT_THRESHOLD
    no_epoch = finished("completed", None, 0)
    assert exit_status(result(no_epoch)).code == EXIT_OK
    missed = exit_status(result(no_epoch), min_val_acc=0.1, max_val_loss=1.0)
    assert missed.code == 1 and missed.message == ("target missed: val_acc None < --min-val-acc 0.1; "
                                                   "val_loss None > --max-val-loss 1.0")
    regression = finished("completed", REG, 1)
    assert exit_status(result(regression), max_val_loss=0.0625).code == EXIT_OK
    assert exit_status(result(regression), max_val_loss=0.06).code == EXIT_THRESHOLD
    no_acc = exit_status(result(regression), min_val_acc=0.5)
    assert no_acc.code == EXIT_USAGE
    assert no_acc.message == "error: --min-val-acc: this data is a regression task with no accuracy; use --max-val-loss"


# -- printed lines ------------------------------------------------------------------------------


def printed(*events) -> str:
    out = io.StringIO()
    printer = HeadlessPrinter(out, color=False)
    for event in events:
        printer(event)
    return out.getvalue()


def test_epoch_lines_carry_the_event_values() -> None:
    text = printed(STARTED, E1, E2, E3, DONE)
    assert text.splitlines()[0] == "tui-trainer: circle (binary), 4 train / 2 validation samples, 13 params, torch on CPU"
    assert parse_epoch_lines(text) == [
        {"epoch": 1, "epochs": 3, "loss": 0.75, "acc": 0.5, "val_loss": 0.625, "val_acc": 0.25},
        {"epoch": 2, "epochs": 3, "loss": 0.4375, "acc": 0.75, "val_loss": 0.3125, "val_acc": 0.875},
        {"epoch": 3, "epochs": 3, "loss": 0.375, "acc": 1.0, "val_loss": 0.5, "val_acc": 0.625},
    ]
    assert E1.line().startswith("[Epoch   1/3] loss: 0.75000, acc: 0.50000 val_loss: 0.62500, val_acc: 0.25000")
    no_val_acc = EpochEnded(epoch=1, epochs=1, loss=1.0, acc=0.5, val_loss=2.0, val_acc=None, seconds=0.0)
    assert no_val_acc.line().startswith("[Epoch   1/1] loss: 1.00000, acc: 0.50000 val_loss: 2.00000, val_acc: n/a")
    no_mae = EpochEnded(epoch=1, epochs=1, loss=1.0, acc=None, val_loss=2.0, val_acc=None, seconds=0.0)
    assert no_mae.line().startswith("[Epoch   1/1] loss: 1.00000, mae: n/a val_loss: 2.00000, val_mae: n/a")
    wide = EpochEnded(epoch=7, epochs=1000, loss=1.0, acc=0.0, val_loss=2.0, val_acc=1.0, seconds=0.0)
    assert wide.line().startswith("[Epoch    7/1000] loss: 1.00000, acc: 0.00000 val_loss: 2.00000, val_acc: 1.00000")


def test_summary_names_final_and_best_epochs() -> None:
    lines = printed(STARTED, E1, E2, E3, DONE).splitlines()
    assert "finished: early-stopped after 3 epochs in 1.50 s" in lines
    assert "final: val_loss 0.50000, val_acc 0.62500 (epoch 3)" in lines
    assert "best:  val_loss 0.31250, val_acc 0.87500 (epoch 2)" in lines
    assert lines[lines.index("best:  val_loss 0.31250, val_acc 0.87500 (epoch 2)") + 1] == ""
    assert "total params: 13  backend: torch  device: CPU" in lines
    assert any(line.startswith("dense_1") and line.rstrip().endswith("4") and "(None, 1)" in line for line in lines)


def test_regression_and_diverged_summaries() -> None:
    reg_done = RunFinished(reason="completed", epochs_run=1, best_epoch=1, best_val_loss=0.0625, best_val_acc=None,
                           final=REG, seconds=0.25)
    lines = printed(REG, reg_done).splitlines()
    assert parse_epoch_lines("\n".join(lines)) == [
        {"epoch": 1, "epochs": 1, "loss": 0.25, "mae": 0.5, "val_loss": 0.0625, "val_mae": 0.125}]
    assert "final: val_loss 0.06250, val_mae 0.12500 (epoch 1)" in lines
    assert "best:  val_loss 0.06250 (epoch 1)" in lines
    nan_done = RunFinished(reason="diverged", epochs_run=1, best_epoch=0, best_val_loss=math.inf, best_val_acc=None,
                           final=NAN_EPOCH, seconds=0.1)
    lines = printed(NAN_EPOCH, nan_done).splitlines()
    assert parse_epoch_lines("\n".join(lines))[0]["val_loss"] == math.inf
    assert "final: val_loss inf, val_acc 0.50000 (epoch 1)" in lines
    assert not any(line.startswith("best:") for line in lines)  # no epoch was ever best


def test_notes_and_missing_numbers_are_printed(capsys) -> None:
    started = RunStarted(config=Config(), summary=SUMMARY, task="binary", n_train=4, n_val=2,
                         notes=("labels: cat→-1, dog→+1",))
    odd = EpochEnded(epoch=1, epochs=1, loss=0.5, acc=0.5, val_loss=0.25, val_acc=None, seconds=0.1)
    done = RunFinished(reason="completed", epochs_run=1, best_epoch=1, best_val_loss=0.25, best_val_acc=None,
                       final=odd, seconds=0.1)
    lines = printed(started, odd, done).splitlines()
    assert "note: labels: cat→-1, dog→+1" in capsys.readouterr().err + "\n".join(lines)  # notes may go to stderr
    assert "final: val_loss 0.25000, val_acc n/a (epoch 1)" in lines
    assert "best:  val_loss 0.25000 (epoch 1)" in lines


def test_failure_goes_to_stderr(capsys) -> None:
    assert printed(RunFailed("data.path: nope")) == ""
    assert capsys.readouterr().err == "tui-trainer: error: data.path: nope\n"


def test_map_and_class_report_in_plain_text() -> None:
    values = np.array([[1.0, -1.0], [0.0, 0.5]], np.float32)
    report = ClassReport(class_names=("cat", "dog"), confusion=np.array([[3, 1], [0, 4]]))
    lines = printed(STARTED, E1, BoundaryUpdated(epoch=1, values=values), report, DONE).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("decision boundary over ") and "epoch 1" in line)
    end = lines.index("+--+", at + 2)
    assert lines[at + 1] == "+--+" and end > at + 2  # a 2-column frame around the rows
    rows = lines[at + 2:end]
    assert all(len(row) == 4 and row[0] == row[-1] == "|" for row in rows)
    assert rows[0][1] != rows[0][2]  # +1 and -1 look different
    assert "per-class accuracy (validation):" in lines
    at = lines.index("per-class accuracy (validation):")
    assert lines[at + 1].split() == ["class", "accuracy", "samples"]
    assert lines[at + 2].split() == ["cat", "0.75000", "4"]
    assert lines[at + 3].split() == ["dog", "1.00000", "4"]
    at = lines.index("confusion matrix (rows: true, columns: predicted):")
    assert [line.split() for line in lines[at + 1:at + 4]] == [["cat", "dog"], ["cat", "3", "1"], ["dog", "0", "4"]]


def test_coloured_summary_is_the_same_numbers() -> None:
    out = io.StringIO()
    printer = HeadlessPrinter(out, color=True)
    report = ClassReport(class_names=("cat", "dog"), confusion=np.array([[3, 1], [0, 4]]))
    for event in (STARTED, E1, BoundaryUpdated(epoch=1, values=np.zeros((2, 2), np.float32)), report, DONE):
        printer(event)
    text = out.getvalue()
    assert "\x1b[" in text
    assert "final: val_loss 0.50000, val_acc 0.62500 (epoch 3)" in text
    assert "per-class accuracy (validation)" in text and "0.75000" in text


# -- JSON lines ---------------------------------------------------------------------------------


def test_json_events_carry_the_event_values() -> None:
    out = io.StringIO()
    printer = JsonLinesPrinter(out)
    for event in (STARTED, E1, E2, DONE):
        printer(event)
    events = json_lines(out.getvalue())
    assert [e["kind"] for e in events] == ["run_started", "epoch_ended", "epoch_ended", "run_finished"]
    started = events[0]
    assert (started["task"], started["n_train"], started["n_val"]) == ("binary", 4, 2)
    assert started["summary"]["params"] == 13 and started["config"]["train"]["epochs"] == 100
    epochs = epoch_events(events)
    for got, want in zip(epochs, (E1, E2), strict=True):
        for key in ("epoch", "epochs", "loss", "acc", "val_loss", "val_acc", "seconds", "mae", "val_mae"):
            assert got[key] == pytest.approx(getattr(want, key), rel=1e-5), key
    done = events[-1]
    assert (done["reason"], done["epochs_run"], done["best_epoch"]) == ("early-stopped", 3, 2)
    assert done["best_val_loss"] == pytest.approx(0.3125) and done["final"]["val_loss"] == pytest.approx(0.5)


def test_nan_and_inf_become_null_in_json() -> None:
    out = io.StringIO()
    JsonLinesPrinter(out)(NAN_EPOCH)
    (event,) = json_lines(out.getvalue())  # strict: a bare NaN token fails here
    assert event["loss"] is None and event["val_loss"] is None and event["acc"] == pytest.approx(0.5)
    data = to_json_dict(RunFinished(reason="diverged", epochs_run=1, best_epoch=0, best_val_loss=math.inf,
                                    best_val_acc=None, final=NAN_EPOCH, seconds=0.1))
    assert data["best_val_loss"] is None and data["final"]["loss"] is None
    assert json.loads(json.dumps(data, allow_nan=False))["reason"] == "diverged"


def test_other_events_as_json() -> None:
    values = np.array([[0.123456, -1.0]], np.float32)
    boundary = to_json_dict(BoundaryUpdated(epoch=4, values=values))
    assert boundary["kind"] == "boundary_updated" and boundary["epoch"] == 4
    assert boundary["extent"] == [-6.0, 6.0, -6.0, 6.0] and boundary["axes"] == ["x1", "x2"]
    assert boundary["values"][0][0] == pytest.approx(0.1235, abs=1e-4) and boundary["values"][0][1] == -1.0
    report = to_json_dict(ClassReport(class_names=("a", "b"), confusion=np.array([[2, 0], [1, 1]])))
    assert report["confusion"] == [[2, 0], [1, 1]] and report["per_class_accuracy"] == [1.0, 0.5]
    assert report["class_names"] == ["a", "b"] and report["kind"] == "class_report"
    # Numbers that arrive as numpy scalars are plain JSON numbers (and NaN is null) too.
    np_epoch = to_json_dict(EpochEnded(epoch=1, epochs=1, loss=np.float32(0.5), acc=np.float64(0.25),
                                       val_loss=np.float32("nan"), val_acc=1.0, seconds=0.1))
    assert json.loads(json.dumps(np_epoch, allow_nan=False)) == {**np_epoch, "loss": 0.5, "acc": 0.25, "val_loss": None}
    assert type(np_epoch["loss"]) is float and np_epoch["val_loss"] is None
    assert to_json_dict(RunFailed("boom"))["message"] == "boom"
    started = to_json_dict(RunStarted(config=Config(), summary=SUMMARY, task="binary", n_train=4, n_val=2,
                                      class_names=("a", "b"), notes=("labels: a→-1, b→+1",)))
    assert started["class_names"] == ["a", "b"] and started["notes"] == ["labels: a→-1, b→+1"]
    assert started["summary"]["layers"][1]["output_shape"] == [1]
    assert json.dumps(started, allow_nan=False)


# -- files --------------------------------------------------------------------------------------

#: The run folder also gets TensorBoard files, written with tensorboardX, which imports PyTorch: so these
#: tests are not in the framework-free tier, but they are quick and the mutation run uses them.
def RUN_FOLDER(test):  # noqa: N802 - used as a marker
    return pytest.mark.framework(pytest.mark.mutation(test))


@RUN_FOLDER
def test_history_files_are_written_and_flushed_every_epoch(tmp_path: Path) -> None:
    exporter = RunExporter(tmp_path / "runs" / "run", lambda: None)  # parent folders are made too
    tmp_path = tmp_path / "runs"
    exporter(STARTED)
    assert read_csv(tmp_path / "run" / "history.csv") == []  # the header is there at once
    expected = []
    for event in (E1, E2, E3):
        exporter(event)
        expected.append(event)
        # Read as another process would, before the run ends.
        rows = read_csv(tmp_path / "run" / "history.csv")
        assert [r["epoch"] for r in rows] == [e.epoch for e in expected]
        assert [(r["loss"], r["acc"], r["val_loss"], r["val_acc"]) for r in rows] == [
            (e.loss, e.acc, e.val_loss, e.val_acc) for e in expected]
        assert rows[-1]["mae"] is None and rows[-1]["val_mae"] is None
        lines = json_lines((tmp_path / "run" / "history.jsonl").read_text())
        assert [(e["loss"], e["val_loss"], e["acc"], e["val_acc"]) for e in epoch_events(lines)] == [
            (e.loss, e.val_loss, e.acc, e.val_acc) for e in expected]
    exporter(DONE)
    text = (tmp_path / "run" / "summary.json").read_text()
    assert text.startswith('{\n  "kind": "run_finished",\n') and text.endswith("}\n")  # indented for people
    summary = json.loads(text)
    assert summary["weights"] is None and summary["best_epoch"] == 2 and summary["final"]["epoch"] == 3
    config = (tmp_path / "run" / "config.toml").read_text()
    assert "[train]" in config and "epochs = 100" in config
    assert exporter._csv.closed and exporter._jsonl.closed


@RUN_FOLDER
def test_history_files_keep_a_diverged_epoch(tmp_path: Path) -> None:
    exporter = RunExporter(tmp_path, lambda: None)
    exporter(STARTED)
    exporter(NAN_EPOCH)
    exporter(RunFailed("RuntimeError: boom"))
    row = read_csv(tmp_path / "history.csv")[0]
    assert math.isnan(row["loss"]) and row["val_loss"] == math.inf and row["acc"] == 0.5
    events = json_lines((tmp_path / "history.jsonl").read_text())
    assert events[1]["loss"] is None and events[-1] == {**events[-1], "kind": "run_failed", "message": "RuntimeError: boom"}
    assert exporter._csv.closed and exporter._jsonl.closed


@RUN_FOLDER
def test_a_run_that_fails_before_it_starts_writes_nothing(tmp_path: Path) -> None:
    exporter = RunExporter(tmp_path / "run", lambda: None)
    exporter(RunFailed("data.path: no such file"))
    exporter.close()
    assert not (tmp_path / "run").exists()


def test_output_folder_refuses_an_earlier_run(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new", overwrite=False)
    check_output_dir(tmp_path, overwrite=False)  # an empty folder is fine
    (tmp_path / "notes.txt").write_text("mine")
    check_output_dir(tmp_path, overwrite=False)  # so is one without run files
    (tmp_path / "history.csv").write_text("epoch\n")
    (tmp_path / "model.pt").write_text("")
    with pytest.raises(UserError) as err:
        check_output_dir(tmp_path, overwrite=False)
    assert str(err.value) == (f"--output: {tmp_path} already holds a run (history.csv, model.pt); "
                              "choose another folder or add --overwrite")
    check_output_dir(tmp_path, overwrite=True)
    with pytest.raises(UserError) as err:
        check_output_dir(tmp_path / "notes.txt", overwrite=True)
    assert str(err.value) == f"--output: {tmp_path / 'notes.txt'} exists and is not a folder"


def test_records_parsers_accept_what_other_features_may_add():
    line = "[Epoch   2/20] loss: 0.12345, acc: 0.50000 val_loss: 0.23456, val_acc: 0.60000 (2 ms)"
    assert parse_epoch_lines(line) == [{"epoch": 2, "epochs": 20, "loss": 0.12345, "acc": 0.5,
                                        "val_loss": 0.23456, "val_acc": 0.6}]
    assert parse_epoch_lines(line.replace(" (2 ms)", ""))[0]["val_acc"] == 0.6
    events = json_lines('{"kind": "epoch_ended", "epoch": 1, "loss": 0.1, "ts": "2026-01-01T00:00:00Z"}\n'
                        '{"kind": "progress", "done": 3}\n')
    assert epoch_events(events) == [events[0]]
    with pytest.raises(AssertionError):
        json_lines('{"loss": NaN}')


def test_network_event_as_json() -> None:
    from tui_trainer.core.events import NetworkUpdated, NeuronLayer

    inputs = NeuronLayer(name="inputs", kind="inputs", activation="", labels=("X1", "X2"),
                         grids=np.array([[[0.123456]], [[-1.0]]], np.float32))
    dense = NeuronLayer(name="dense", kind="dense", activation="tanh", labels=("1",),
                        grids=np.array([[[0.5]]], np.float32), weights=np.array([[0.25], [-0.75]], np.float32),
                        biases=np.array([0.125], np.float32))
    data = to_json_dict(NetworkUpdated(epoch=3, layers=(inputs, dense), image_shape=(8, 8, 1)))
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert (data["kind"], data["epoch"], data["extent"], data["image_shape"]) == (
        "network_updated", 3, [-6.0, 6.0, -6.0, 6.0], [8, 8, 1])
    first, second = data["layers"]
    assert {k: first[k] for k in ("name", "type", "activation", "labels", "weights", "biases")} == {
        "name": "inputs", "type": "inputs", "activation": "", "labels": ["X1", "X2"], "weights": None, "biases": None}
    assert first["grids"][0][0][0] == pytest.approx(0.1235, abs=1e-4) and first["grids"][1] == [[-1.0]]
    assert (second["name"], second["type"], second["activation"], second["labels"]) == ("dense", "dense", "tanh", ["1"])
    assert second["weights"] == [[0.25], [-0.75]] and second["biases"] == [0.125] and second["grids"] == [[[0.5]]]
    assert to_json_dict(NetworkUpdated(epoch=0, layers=()))["image_shape"] is None


def test_json_times_and_rounding() -> None:
    from datetime import datetime

    from tui_trainer.core.events import timestamp

    # Seconds keep four decimals (a tenth of a millisecond), wherever they sit; other floats 6 digits.
    quick = EpochEnded(epoch=1, epochs=1, loss=0.000123456789, acc=0.5, val_loss=0.25, val_acc=0.5,
                       seconds=np.float64(0.000123456))
    data = to_json_dict(quick)
    assert data["seconds"] == 0.0001 and data["loss"] == pytest.approx(0.000123457, rel=1e-9)
    done = to_json_dict(RunFinished(reason="completed", epochs_run=1, best_epoch=1, best_val_loss=0.25,
                                    best_val_acc=0.5, final=quick, seconds=1.000123456))
    assert done["seconds"] == 1.0001 and done["final"]["seconds"] == 0.0001
    # Every event says when it happened (its own time), the final epoch inside run_finished does not.
    assert data["time"] == timestamp(quick.time) and datetime.fromisoformat(data["time"]).tzinfo is not None
    assert "time" not in done["final"] and "kind" not in done["final"] and done["final"]["epoch"] == 1
    assert list(done)[:2] == ["kind", "time"] and done["kind"] == "run_finished"
    assert to_json_dict(RunFinished(reason="stopped", epochs_run=0, best_epoch=0, best_val_loss=math.inf,
                                    best_val_acc=None, final=None, seconds=0.5))["final"] is None
