"""``tui-trainer compare``: charts and a table of several real runs, plain when piped, JSON on request."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tui_trainer.core.config import from_dict
from tui_trainer.faces.compare import print_comparison
from tui_trainer.runs.comparison import read_run
from tui_trainer.runs.export import RunExporter

pytestmark = pytest.mark.framework


def make_run(folder: Path, hidden: list[int], epochs: int = 4, **study: object) -> Path:
    """A real run written by the real exporter (torch, circle data, a few epochs)."""
    config = from_dict({"model": {"hidden": hidden}, "train": {"backend": "torch", "epochs": epochs, "batch_size": 50}})
    holder: dict = {}
    exporter = RunExporter(folder, lambda: holder.get("session"))

    def emit(event) -> None:
        exporter(event)

    from tui_trainer.engine.session import Session

    session = Session(config)
    holder["session"] = session
    session.run(emit)
    if study:
        (folder / "study.json").write_text(json.dumps(study))
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    return [
        make_run(root / "20260101-120000-small", [2]),
        make_run(root / "20260101-120001-big", [8, 8], epochs=5),
        make_run(root / "20260101-120002-other", [3, 3], epochs=3, study="s1", variant="\x1b[31mred\x07", index=0),
    ]


def test_piped_output_is_plain_ascii_with_charts_legend_and_table(runs: list[Path]) -> None:
    r = run_cli("compare", str(runs[0]), str(runs[1]), "--width", "70")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.isascii() and "\x1b" not in out
    assert "loss (solid) and val_loss (upper case) per epoch" in out
    assert "acc (solid) and val_acc (upper case) per epoch" in out
    assert "  a train  A val  20260101-120000-small" in out and "  b train  B val  20260101-120001-big" in out
    chart = out[:out.index("legend:")]
    assert {"a", "A", "b", "B"} <= set(chart)
    header = next(line for line in out.splitlines() if line.startswith("run "))
    assert header.split()[:4] == ["run", "hidden", "train.epochs", "epochs"]  # only the fields that differ
    assert header.endswith("best val_loss (epoch)  best val_acc (epoch)  final gap")
    rows = [line.split() for line in out.splitlines() if line.startswith("20260101")]
    assert rows[0][:4] == ["20260101-120000-small", "[2]", "4", "4"]
    assert rows[1][:5] == ["20260101-120001-big", "[8,", "8]", "5", "5"]


def test_json_table_matches_the_histories(runs: list[Path]) -> None:
    r = run_cli("compare", "--json", str(runs[0]), str(runs[1]))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["differs"] for row in rows] == [{"model.hidden": [2], "train.epochs": 4},
                                                {"model.hidden": [8, 8], "train.epochs": 5}]
    for row, folder in zip(rows, runs, strict=False):
        history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
        epochs = [e for e in history if e["kind"] == "epoch_ended"]
        best = min(epochs, key=lambda e: e["val_loss"])
        assert row["epochs"] == len(epochs)
        assert row["best_val_loss"] == pytest.approx(best["val_loss"]) and row["best_val_loss_epoch"] == best["epoch"]
        assert row["best_metric"] == "val_acc" and row["best_val_metric"] == max(e["val_acc"] for e in epochs)
        assert row["final_gap"] == pytest.approx(epochs[-1]["val_loss"] - epochs[-1]["loss"])


def test_last_n_and_study_labels_without_control_characters(runs: list[Path]) -> None:
    root = runs[0].parent
    r = run_cli("compare", "--last", "2", env={"TUI_TRAINER_RUNS": str(root)})
    assert r.returncode == 0, r.stderr
    assert "20260101-120001-big" in r.stdout and "red" in r.stdout and "120000-small" not in r.stdout
    # textsafe.printable, as everywhere: the escape sequence removed, the bell shown as "?"
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "red?" in r.stdout and "[31m" not in r.stdout
    by_study = run_cli("compare", "s1", "--json", "--runs-dir", str(root))
    assert [json.loads(line)["run"] for line in by_study.stdout.splitlines()] == ["\x1b[31mred\x07"]


def test_colour_on_a_terminal(runs: list[Path]) -> None:
    stream = io.StringIO()
    print_comparison([read_run(f) for f in runs[:2]], stream, color=True, width=70)
    text = stream.getvalue()
    assert "\x1b[" in text and "•" in text and "⠉⠉⠉⠉ train  •••• val" in text


@pytest.mark.parametrize("args, message", [
    (["nope"], "run 'nope': no such run folder, run id or study id"),
    ([], "compare: name runs (folders, ids or a study id) or use --last N"),
    (["--last", "0"], "--last: give a number of runs >= 1"),
])
def test_bad_arguments_get_one_line(runs: list[Path], args: list[str], message: str) -> None:
    r = run_cli("compare", *args, "--runs-dir", str(runs[0].parent))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert r.stdout == ""


def test_empty_folder_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = run_cli("compare", str(tmp_path / "empty"), "--runs-dir", str(tmp_path))
    assert r.returncode == 2 and "no such run folder" in r.stderr
