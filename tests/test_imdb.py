"""IMDB from a Keras-style imdb.npz, read without running any pickle; tests make their own small files."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tui_trainer.core.config import from_dict
from tui_trainer.core.errors import DataError
from tui_trainer.data import imdb
from tui_trainer.data.datasets import load_dataset

IMDB_CONFIG = {"data": {"dataset": "imdb"}, "model": {"output_activation": "sigmoid"},
               "train": {"loss": "binary_crossentropy", "backend": "torch"}}


def reviews(n: int, seed: int) -> np.ndarray:
    """An object array of word-index lists, as Keras stores them."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(w) for w in rng.integers(1, 12_000, rng.integers(3, 30))]
    return out


def fake_imdb(path: Path, n_train: int = 12, n_test: int = 8) -> dict[str, np.ndarray]:
    arrays = {"x_train": reviews(n_train, 1), "y_train": np.arange(n_train) % 2,
              "x_test": reviews(n_test, 2), "y_test": (np.arange(n_test) + 1) % 2}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def npz_with_member(path: Path, member: str, payload: bytes, others: dict[str, np.ndarray]) -> None:
    """An npz whose ``member`` is an object-array .npy header followed by ``payload`` as its pickle."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (2,)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{member}.npy", header.getvalue() + payload)  # the header includes the magic
        for key, value in others.items():
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=True)
            zf.writestr(f"{key}.npy", buf.getvalue())


class _RunsCode:
    """Unpickling this would run os.system: the loader must refuse it before that happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_reads_keras_layout_as_textbook_multi_hot(tmp_path: Path) -> None:
    path = tmp_path / "imdb.npz"
    arrays = fake_imdb(path)
    ds = load_dataset(from_dict({**IMDB_CONFIG, "data": {"dataset": "imdb", "path": str(path)}}))
    assert ds.x_train.shape == (12, 10_000) and ds.x_val.shape == (8, 10_000)
    assert ds.x_train.dtype == np.float32 and set(np.unique(ds.x_train)) == {0.0, 1.0}
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0} and ds.task == "binary"
    # Keras's order (shuffled with seed 113) and conventions: +3 offset, 1 = start, 2 = out of vocabulary.
    order = np.arange(12)
    np.random.RandomState(113).shuffle(order)
    first = arrays["x_train"][order[0]]
    expected = {w + 3 if w + 3 < 10_000 else 2 for w in first} | {1}
    assert set(np.flatnonzero(ds.x_train[0])) == expected
    assert ds.y_train[0, 0] == (1.0 if arrays["y_train"][order[0]] else -1.0)


def test_keras_cache_file_and_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    fake_imdb(tmp_path / ".keras" / "datasets" / "imdb.npz", 20, 10)
    ds = load_dataset(from_dict({**IMDB_CONFIG, "data": {"dataset": "imdb", "limit": 6}}))
    assert len(ds.x_train) == 6 and len(ds.x_val) == 3


def test_missing_file_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    with pytest.raises(DataError, match=r"IMDB data not found .*imdb\.npz.*never downloads"):
        load_dataset(from_dict(IMDB_CONFIG))


def test_code_in_the_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    payload = pickle.dumps(_RunsCode(marker), protocol=2)
    npz_with_member(path, "x_train", payload, {"y_train": np.array([0, 1]), "x_test": reviews(2, 3),
                                               "y_test": np.array([1, 0])})
    with pytest.raises(DataError, match=r"evil\.npz: x_train: refused .*(posix|os)\.system.*nothing was run"):
        imdb.read_imdb(path)
    assert not marker.exists()


@pytest.mark.framework
def test_cli_refuses_a_malicious_file_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    npz_with_member(path, "x_test", pickle.dumps(_RunsCode(marker)), {"x_train": reviews(2, 1),
                                                                       "y_train": np.array([0, 1]),
                                                                       "y_test": np.array([1, 0])})
    r = run_cli("--preset", "overfit-imdb", "--no-ui", "--set", f"data.path={path}", "--output", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "x_test: refused" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, message", [
    (np.array([["a", "b"], ["c"]], dtype=object), "lists of non-negative whole numbers"),
    (np.array([[1, -2], [3]], dtype=object), "lists of non-negative whole numbers"),
    (np.array([{1: 2}, [3]], dtype=object), "lists of non-negative whole numbers"),
])
def test_object_arrays_of_anything_but_int_lists_are_refused(tmp_path: Path, content: np.ndarray, message: str) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, x_train=content, y_train=np.array([0, 1]), x_test=reviews(2, 1), y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=message):
        imdb.read_imdb(path)


def test_wrong_keys_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "mnist-like.npz"
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.array([0, 1]))
    with pytest.raises(DataError, match="missing arrays x_test, y_test"):
        imdb.read_imdb(path)
    path = tmp_path / "labels.npz"
    np.savez(path, x_train=reviews(2, 1), y_train=np.array([0, 7]), x_test=reviews(2, 1), y_test=np.array([0, 1]))
    with pytest.raises(DataError, match="y_train must hold one 0/1 label per review"):
        imdb.read_imdb(path)
