"""The CSV / JSON / NPZ loader: every label kind, every format, every bad file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.conftest import run_cli  # noqa: E402
from tui_trainer.core import presets  # noqa: E402
from tui_trainer.core.config import Config, from_dict  # noqa: E402
from tui_trainer.core.errors import DataError  # noqa: E402
from tui_trainer.core.events import BoundaryUpdated, ClassReport, RunStarted  # noqa: E402
from tui_trainer.data.datasets import Dataset, expand_features, load_dataset  # noqa: E402
from tui_trainer.engine.session import train  # noqa: E402


def file_config(path: Path, **data: object) -> Config:
    return from_dict({"data": {"dataset": "file", "path": str(path), **data},
                      "model": {"output_activation": "auto"}, "train": {"loss": "auto", "backend": "torch"}})


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def load(path: Path, **data: object) -> Dataset:
    return load_dataset(file_config(path, **data))


def load_error(path: Path, **data: object) -> str:
    with pytest.raises(DataError) as err:
        load(path, **data)
    message = str(err.value)
    assert "\n" not in message
    return message


def all_rows(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])


# -- labels decide the task ------------------------------------------------------------------


def test_csv_two_string_classes_are_binary_with_mapping(tmp_path: Path) -> None:
    rows = [f"{x:.1f},{x / 2:.2f},{'dog' if x > 0 else 'cat'}" for x in np.linspace(-3, 3, 40)]
    ds = load(write_csv(tmp_path / "pets.csv", "x1,x2,label", rows), train_ratio=0.75)
    assert ds.task == "binary"
    assert "labels: cat→-1, dog→+1" in ds.notes
    assert ds.y_train.shape == (30, 1) and ds.y_train.dtype == np.float32 and len(ds.y_val) == 10
    x, y = all_rows(ds)
    # Each row keeps its own label through the shuffle: dog (+1) exactly where x1 > 0.
    assert np.array_equal(y[:, 0], np.where(x[:, 0] > 0, 1.0, -1.0))
    assert np.array_equal(ds.points_train, ds.x_train) and ds.features == ("x1", "x2")
    assert sorted(x[:, 0].tolist()) == pytest.approx([round(v, 1) for v in np.linspace(-3, 3, 40)])


def test_split_is_seeded_and_leaves_global_rng_alone(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "x1,x2,label", [f"{i},{-i},{i % 2}" for i in range(50)])
    before = np.random.get_state()[1].copy()
    a, b, c = load(path, seed=1), load(path, seed=1), load(path, seed=2)
    assert np.array_equal(np.random.get_state()[1], before)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert len(a.x_train) == 25  # default train_ratio 0.5


@pytest.mark.parametrize(
    ("labels", "task", "expected", "note"),
    [
        (["-1", "1"], "binary", [-1.0, 1.0], None),
        (["0", "1"], "binary", [-1.0, 1.0], "labels: 0→-1, 1→+1"),
        (["3", "7"], "binary", [-1.0, 1.0], "labels: 3→-1, 7→+1"),
        (["0", "1", "2"], "multiclass", [0, 1, 2], None),
        (["1", "2", "5"], "multiclass", [0, 1, 2], "labels: 1→0, 2→1, 5→2"),
        (["fox", "cat", "dog"], "multiclass", [2, 0, 1], "labels: cat→0, dog→1, fox→2"),
        (["0.5", "1.25", "-2"], "regression", [0.5, 1.25, -2.0], None),
    ],
)
def test_label_kinds(tmp_path: Path, labels: list[str], task: str, expected: list[float], note: str | None) -> None:
    rows = [f"{i},{i * 0.5},{labels[i % len(labels)]}" for i in range(12)]
    ds = load(write_csv(tmp_path / "l.csv", "x1,x2,label", rows))
    assert ds.task == task
    x, y = all_rows(ds)
    want = np.array([expected[int(v) % len(labels)] for v in x[:, 0]])
    if task == "multiclass":
        assert y.dtype == np.int64 and y.shape == (12,)
        assert ds.n_outputs == len(labels) and len(ds.class_names) == len(labels)
        assert ds.class_names == tuple(sorted(labels, key=lambda s: (float(s) if s[0].isdigit() else s)))
    else:
        assert y.dtype == np.float32 and y.shape == (12, 1)
    np.testing.assert_allclose(y.reshape(-1), want)
    if note:
        assert note in ds.notes
    else:
        assert not any(n.startswith("labels:") for n in ds.notes)


def test_many_whole_number_labels_are_regression(tmp_path: Path) -> None:
    rows = [f"{i},{i},{i * 3}" for i in range(80)]
    ds = load(write_csv(tmp_path / "r.csv", "x1,x2,label", rows))
    assert ds.task == "regression"
    assert any("regression" in n for n in ds.notes)


# -- columns and features -------------------------------------------------------------------


def test_custom_columns_extra_columns_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id;height;weight;kind\n1;1,5;60;a\n2;1.8;80;b\n3;1,6;55;a\n4;1.9;90;b\n", encoding="utf-8")
    ds = load(path, columns=["height", "weight"], label_column="kind")
    x, y = all_rows(ds)
    np.testing.assert_allclose(x[np.argsort(x[:, 0])], [[1.5, 60], [1.6, 55], [1.8, 80], [1.9, 90]], rtol=1e-6)
    assert np.array_equal(y[np.argsort(x[:, 0]), 0], [-1, -1, 1, 1])  # a→-1, b→+1
    assert ds.feature_names == ("height", "weight")


def test_two_columns_get_feature_expansion(tmp_path: Path) -> None:
    rows = [f"{i * 0.3:.1f},{-i * 0.2:.1f},{i % 2}" for i in range(10)]
    ds = load(write_csv(tmp_path / "f.csv", "a,b,y", rows), columns=["a", "b"], label_column="y",
              features=["x1", "x2", "x1sq", "x1x2", "sinx2"])
    assert ds.x_train.shape == (5, 5) and ds.features == ("x1", "x2", "x1sq", "x1x2", "sinx2")
    np.testing.assert_allclose(ds.x_train, expand_features(ds.points_train, ds.features), rtol=1e-6)
    np.testing.assert_allclose(ds.x_train[:, 2], ds.points_train[:, 0] ** 2, rtol=1e-6)
    assert ds.feature_names == ("a", "b", "a²", "a·b", "sin b")


def test_three_columns_no_map_and_no_feature_expansion(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "x1,x2,x3,label", [f"{i},{i + 1},{i + 2},{i % 2}" for i in range(8)])
    ds = load(path, columns=["x1", "x2", "x3"])
    assert ds.x_train.shape == (4, 3) and ds.points_train is None and not ds.is_2d
    message = load_error(path, columns=["x1", "x2", "x3"], features=["x1", "x1sq"])
    assert "data.features" in message and "two feature columns" in message and "x1, x2, x3" in message


# -- JSON and NPZ -----------------------------------------------------------------------------


def test_json_records_and_columns_agree(tmp_path: Path) -> None:
    records = [{"x1": i, "x2": i / 4, "label": "yes" if i % 3 else "no"} for i in range(9)]
    (tmp_path / "r.json").write_text(json.dumps(records))
    columns = {k: [r[k] for r in records] for k in ("x1", "x2", "label")}
    (tmp_path / "c.json").write_text(json.dumps(columns))
    a, b = load(tmp_path / "r.json"), load(tmp_path / "c.json")
    assert a.task == b.task == "binary" and "labels: no→-1, yes→+1" in a.notes
    for left, right in zip(all_rows(a), all_rows(b), strict=True):
        assert np.array_equal(left, right)


def test_npz_by_column_names(tmp_path: Path) -> None:
    x1 = np.linspace(-2, 2, 12)
    np.savez(tmp_path / "c.npz", x1=x1, x2=x1 ** 2, label=np.array(["lo", "mid", "hi"] * 4))
    ds = load(tmp_path / "c.npz")
    assert ds.task == "multiclass" and ds.class_names == ("hi", "lo", "mid")
    x, y = all_rows(ds)
    names = np.array(["lo", "mid", "hi"] * 4)
    order = [int(np.argmin(np.abs(x1 - v))) for v in x[:, 0]]
    assert [ds.class_names[i] for i in y] == names[order].tolist()


def test_npz_x_and_y(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(20, 4))
    np.savez(tmp_path / "xy.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    ds = load(tmp_path / "xy.npz")
    assert ds.x_train.shape == (10, 4) and ds.task == "binary"
    assert ds.feature_names == ("x1", "x2", "x3", "x4")
    xs, ys = all_rows(ds)
    assert np.array_equal(ys[:, 0], np.where(xs[:, 0] > 0, 1.0, -1.0))


# -- bad files: each message names the file, the row and the column ---------------------------


def test_no_path_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data.path: dataset 'file' needs a file"):
        load_dataset(from_dict({"data": {"dataset": "file"}}))
    assert f"file not found: {tmp_path / 'nope.csv'}" in load_error(tmp_path / "nope.csv")


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "d.xlsx").write_text("x")
    assert "unsupported file type '.xlsx'" in load_error(tmp_path / "d.xlsx")


def test_missing_column_lists_columns_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", "a,b,label", ["1,2,x", "3,4,y"])
    message = load_error(path)
    assert str(path) in message and "no column 'x1' (data.columns)" in message and "columns found: a, b, label" in message
    message = load_error(path, columns=["a", "b"], label_column="class")
    assert "no column 'class' (data.label_column)" in message


def test_header_missing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", "0.5,1.0,1", ["0.2,0.1,0"])
    assert "first line must be a header" in load_error(path)


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "n.csv", "x1,x2,label", ["1,2,a", "3,4,b", "5,abc,a"])
    message = load_error(path)
    assert message.startswith(str(path)) and "line 4, column 'x2'" in message and "'abc' is not a number" in message


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    assert "e.csv: the file is empty" in load_error(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("x1,x2,label\n")
    assert "h.csv: has a header but no data rows" in load_error(tmp_path / "h.csv")
    (tmp_path / "e.json").write_text("  ")
    assert "e.json: the file is empty" in load_error(tmp_path / "e.json")


def test_nan_and_empty_cells_and_rows(tmp_path: Path) -> None:
    nan = write_csv(tmp_path / "nan.csv", "x1,x2,label", ["1,2,a", "NaN,4,b"])
    assert "nan.csv: line 3, column 'x1' is NaN" in load_error(nan)
    cell = write_csv(tmp_path / "cell.csv", "x1,x2,label", ["1,2,a", "3,,b"])
    assert "cell.csv: line 3, column 'x2' is empty" in load_error(cell)
    row = write_csv(tmp_path / "row.csv", "x1,x2,label", ["1,2,a", "", "3,4,b"])
    assert "row.csv: line 3 is empty" in load_error(row)
    commas = write_csv(tmp_path / "commas.csv", "x1,x2,label", ["1,2,a", ",,", "3,4,b"])
    assert "commas.csv: line 3 is empty" in load_error(commas)
    label = write_csv(tmp_path / "label.csv", "x1,x2,label", ["1,2,a", "3,4,"])
    assert "label.csv: line 3, label column 'label' is empty" in load_error(label)
    # Blank lines at the very end are harmless.
    tail = write_csv(tmp_path / "tail.csv", "x1,x2,label", ["1,2,a", "3,4,b", "", ""])
    assert len(load(tail).x_train) == 1


def test_ragged_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", "x1,x2,label", ["1,2,a", "3,4"])
    assert "r.csv: line 3 has 2 values but the header has 3 columns" in load_error(path)


def test_one_class_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", "x1,x2,label", ["1,2,cat", "3,4,cat", "5,6,cat"])
    message = load_error(path)
    assert "one.csv: label column 'label' has only one class (cat)" in message


def test_json_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps([{"x1": 1, "x2": 2, "label": "a"}, {"x1": 1, "label": "b"}]))
    message = load_error(path)
    assert "b.json: record 2 has no key 'x2' (data.columns); keys found: x1, label" in message
    path.write_text(json.dumps([{"x1": 1, "x2": 2, "label": "a"}, {"x1": None, "x2": 2, "label": "b"}]))
    assert "b.json: record 2, column 'x1' is empty (null)" in load_error(path)
    path.write_text(json.dumps([{"x1": 1, "x2": 2, "label": "a"}, {"x1": "high", "x2": 2, "label": "b"}]))
    assert "b.json: record 2, column 'x1': 'high' is not a number" in load_error(path)
    path.write_text('[{"x1": 1,')
    assert "b.json: not valid JSON" in load_error(path)
    path.write_text(json.dumps({"x1": [1, 2, 3], "x2": [1, 2], "label": ["a", "b", "a"]}))
    assert "b.json: column 'x2' has 2 values but 'label' has 3" in load_error(path)
    path.write_text(json.dumps({"x1": [1, 2], "x2": [1, float("nan")], "label": ["a", "b"]}))
    assert "b.json: row 2, column 'x2' is NaN" in load_error(path)


def test_npz_bad_arrays(tmp_path: Path) -> None:
    path = tmp_path / "b.npz"
    np.savez(path, a=np.zeros(3))
    message = load_error(path)
    assert "b.npz: no array 'x1' (data.columns); arrays found: a" in message
    np.savez(path, x1=np.array([1.0, np.nan, 3.0]), x2=np.zeros(3), label=np.array([0, 1, 0]))
    assert "b.npz: array 'x1', row 2, column 'x1' is NaN" in load_error(path)
    np.savez(path, x=np.array([[1.0, 2.0], [3.0, np.inf]]), y=np.array([0, 1]))
    assert "b.npz: array 'x', row 2, column 'x2' is not finite" in load_error(path)
    np.savez(path, x1=np.zeros(3), x2=np.zeros(2), label=np.array([0, 1, 0]))
    assert "b.npz: array 'x2' has shape (2,) but 'label' has 3 values" in load_error(path)
    path.write_text("not a zip")
    assert "b.npz: not a readable .npz file" in load_error(path)


def test_label_column_also_a_feature(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "x1,x2,label", ["1,2,a", "3,4,b"])
    assert "data.label_column 'x2' is also listed in data.columns" in load_error(path, label_column="x2")


# -- training on files ----------------------------------------------------------------------


@pytest.mark.framework
def test_csv_preset_trains_with_the_map() -> None:
    """The shipped preset as is (TensorFlow), end to end: mapping note, map, accuracy."""
    cfg = presets.load_preset("csv", {"train.epochs": 40})
    events: list = []
    from tui_trainer.core.control import RunControl

    control = RunControl()
    control.grid_shape = (6, 12)
    control.grid_interval = float("inf")
    _, result = train(cfg, events.append, control)
    assert result.failed is None, result.failed
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.task == "binary" and "labels: lower→-1, upper→+1" in started.notes
    assert started.n_train == 210 and started.n_val == 90
    assert any(isinstance(e, BoundaryUpdated) and e.values.shape == (6, 12) for e in events)
    assert result.finished.final.val_acc >= 0.9


@pytest.mark.framework
def test_multiclass_csv_trains_and_reports_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = {"north": (0, 3), "east": (3, 0), "south": (0, -3)}
    rows = []
    for name, (cx, cy) in centres.items():
        for px, py in rng.normal((cx, cy), 0.5, (40, 2)):
            rows.append(f"{px:.3f},{py:.3f},{name}")
    path = write_csv(tmp_path / "blobs.csv", "x1,x2,label", rows)
    cfg = presets.load_preset("csv", {"data.path": str(path), "train.backend": "torch", "train.epochs": 30})
    events: list = []
    _, result = train(cfg, events.append)
    assert result.failed is None, result.failed
    report = next(e for e in events if isinstance(e, ClassReport))
    assert report.class_names == ("east", "north", "south")
    assert result.finished.final.val_acc >= 0.9


@pytest.mark.framework
def test_cli_csv_preset_headless() -> None:
    proc = run_cli("--preset", "csv", "--no-ui", "--backend", "torch", "--epochs", "40", "--min-val-acc", "0.9",
                   timeout=120)
    assert proc.returncode == 0, proc.stderr
    # Notes go to stderr, so stdout's epoch lines follow each other unbroken.
    assert "note: labels: lower→-1, upper→+1" in proc.stderr and "note:" not in proc.stdout
    assert "decision boundary" in proc.stdout


def test_cli_bad_file_is_one_line_exit_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", "x1,x2,label", ["1,2,a", "oops,4,b"])
    proc = run_cli("--preset", "csv", "--no-ui", "--backend", "torch", "--set", f"data.path={path}", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"tui-trainer: error: {path}: line 3, column 'x1': 'oops' is not a number"]


def test_loading_files_and_digits_imports_no_framework(tmp_path: Path) -> None:
    """Data loading stays light: a torch run never pays for TensorFlow, and vice versa."""
    path = write_csv(tmp_path / "p.csv", "x1,x2,label", ["1,2,a", "3,4,b"])
    code = (
        "import sys\n"
        "from tui_trainer.core.config import from_dict\n"
        "from tui_trainer.data.datasets import load_dataset\n"
        f"load_dataset(from_dict({{'data': {{'dataset': 'file', 'path': {str(path)!r}}}}}))\n"
        "load_dataset(from_dict({'data': {'dataset': 'digits'}, 'model': {'output_activation': 'softmax'},"
        " 'train': {'loss': 'categorical_crossentropy'}}))\n"
        "print(sorted(m for m in ('tensorflow', 'torch', 'keras', 'textual') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
