"""MNIST and 8×8 digits loaders, on data the tests make themselves.

MNIST is never downloaded: a tiny ``mnist.npz`` with the real keys and dtypes
is written into a temporary HOME, where the Keras cache would be.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.conftest import run_cli  # noqa: E402
from tui_trainer.core import presets  # noqa: E402
from tui_trainer.core.config import Config, from_dict  # noqa: E402
from tui_trainer.core.errors import DataError  # noqa: E402
from tui_trainer.core.events import ClassReport, RunStarted  # noqa: E402
from tui_trainer.data import images  # noqa: E402
from tui_trainer.data.datasets import load_dataset  # noqa: E402
from tui_trainer.engine.session import train  # noqa: E402

MULTICLASS = {"model": {"output_activation": "softmax"}, "train": {"loss": "categorical_crossentropy"}}


def image_config(dataset: str, **data: object) -> Config:
    return from_dict({"data": {"dataset": dataset, **data}, **MULTICLASS, "train": {**MULTICLASS["train"], "backend": "torch"}})


def fake_mnist(path: Path, n_train: int = 20, n_test: int = 6, seed: int = 1) -> dict[str, np.ndarray]:
    """An npz shaped and typed like Keras's mnist.npz (uint8 pixels and labels)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME with an (empty) ~/.keras, as Keras creates on import."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    (tmp_path / ".keras").mkdir()
    return tmp_path


# -- MNIST -----------------------------------------------------------------------------------


def test_mnist_from_keras_cache_in_home(home: Path) -> None:
    arrays = fake_mnist(home / ".keras" / "datasets" / "mnist.npz")
    ds = load_dataset(image_config("mnist"))
    assert ds.task == "multiclass"
    assert ds.x_train.shape == (20, 28, 28, 1) and ds.x_train.dtype == np.float32
    assert ds.x_val.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(ds.x_train[..., 0], arrays["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(ds.x_val[..., 0], arrays["x_test"] / 255.0, rtol=1e-6)
    assert ds.y_train.dtype == np.int64 and ds.y_train.tolist() == arrays["y_train"].tolist()
    assert ds.y_val.tolist() == arrays["y_test"].tolist()  # the test split is the validation data
    assert ds.class_names == tuple("0123456789")
    assert ds.image_shape == (28, 28, 1) and ds.n_outputs == 10
    assert any("test split" in note and "train_ratio" in note for note in ds.notes)
    assert any(str(home / ".keras" / "datasets" / "mnist.npz") in note for note in ds.notes)


def test_mnist_respects_keras_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mnist(home / "kh" / "datasets" / "mnist.npz", n_train=12)
    monkeypatch.setenv("KERAS_HOME", str(home / "kh"))
    assert images.mnist_search_paths()[0] == home / "kh" / "datasets" / "mnist.npz"
    assert len(load_dataset(image_config("mnist")).x_train) == 12


def test_mnist_from_data_path_and_limit(home: Path) -> None:
    fake_mnist(home / "elsewhere" / "digits.npz", n_train=30, n_test=12)
    ds = load_dataset(image_config("mnist", path=str(home / "elsewhere" / "digits.npz"), limit=10))
    assert len(ds.x_train) == 10 and len(ds.y_train) == 10
    assert len(ds.x_val) == 4  # the limit keeps the validation share: 10 * 12 / 30


def test_mnist_tensorflow_config_reads_fake_file_without_download(home: Path) -> None:
    """A file that isn't the genuine MNIST never reaches Keras (which would re-download it)."""
    fake_mnist(home / ".keras" / "datasets" / "mnist.npz")
    cfg = image_config("mnist").with_updates({"train.backend": "tensorflow"})
    assert load_dataset(cfg).x_train.shape == (20, 28, 28, 1)


def test_mnist_missing_says_where_it_looked_and_what_to_do(home: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(image_config("mnist"))
    message = str(err.value)
    assert "\n" not in message
    assert str(home / ".keras" / "datasets" / "mnist.npz") in message
    assert "data.path" in message and "mnist.npz" in message and "never downloads" in message


def test_mnist_missing_data_path(home: Path) -> None:
    with pytest.raises(DataError, match=r"data.path: MNIST file not found: .*nope\.npz"):
        load_dataset(image_config("mnist", path=str(home / "nope.npz")))


def test_mnist_npz_with_wrong_keys(home: Path) -> None:
    path = home / "bad.npz"
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError) as err:
        load_dataset(image_config("mnist", path=str(path)))
    assert str(path) in str(err.value) and "x_train" in str(err.value) and "found: images" in str(err.value)


def test_mnist_not_an_npz(home: Path) -> None:
    path = home / "mnist.npz"
    path.write_text("not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(image_config("mnist", path=str(path)))


@pytest.mark.framework
def test_mnist_cnn_preset_trains_on_fake_mnist(home: Path) -> None:
    """The textbook CNN preset builds and runs end to end (torch; a few images, one epoch)."""
    fake_mnist(home / ".keras" / "datasets" / "mnist.npz", n_train=16, n_test=8)
    cfg = presets.load_preset("mnist-cnn", {"train.backend": "torch", "train.epochs": 1, "train.batch_size": 8})
    events: list = []
    _, result = train(cfg, events.append)
    assert result.failed is None, result.failed
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.summary.params == 1_199_882
    report = next(e for e in events if isinstance(e, ClassReport))
    assert report.confusion.shape == (10, 10) and report.confusion.sum() == 8


@pytest.mark.framework
def test_mnist_preset_is_the_quickstart_mlp(home: Path) -> None:
    fake_mnist(home / ".keras" / "datasets" / "mnist.npz", n_train=16, n_test=8)
    cfg = presets.load_preset("mnist", {"train.backend": "torch", "train.epochs": 1})
    events: list = []
    _, result = train(cfg, events.append)
    assert result.failed is None, result.failed
    summary = next(e for e in events if isinstance(e, RunStarted)).summary
    assert [(layer.kind, layer.params) for layer in summary.layers] == [
        ("flatten", 0), ("dense", 100_480), ("dropout", 0), ("dense", 1_290)]
    textbook = presets.load_preset("mnist").train
    assert (textbook.optimizer, textbook.learning_rate, textbook.batch_size, textbook.epochs) == ("adam", 0.001, 32, 5)


# -- 8x8 digits -----------------------------------------------------------------------------


def test_digits_shapes_scaling_and_seeded_split() -> None:
    from sklearn.datasets import load_digits

    before = np.random.get_state()[1].copy()
    ds = load_dataset(image_config("digits", train_ratio=0.8, seed=3))
    assert np.array_equal(np.random.get_state()[1], before)  # global RNG untouched
    assert ds.x_train.shape[1:] == (8, 8, 1) and ds.x_train.dtype == np.float32
    assert len(ds.x_train) + len(ds.x_val) == 1797 and len(ds.x_train) == round(1797 * 0.8)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.task == "multiclass" and ds.class_names == tuple("0123456789") and ds.image_shape == (8, 8, 1)
    # Every sample keeps its own label: match the first few back to scikit-learn's images.
    sk = load_digits()
    for img, label in zip(ds.x_train[:5], ds.y_train[:5], strict=True):
        hits = np.flatnonzero((sk.images == img[..., 0] * 16).all(axis=(1, 2)))
        assert label in sk.target[hits]
    again = load_dataset(image_config("digits", train_ratio=0.8, seed=3))
    other = load_dataset(image_config("digits", train_ratio=0.8, seed=4))
    assert np.array_equal(again.y_train, ds.y_train)
    assert not np.array_equal(other.y_train, ds.y_train)


def test_digits_without_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if it were not installed
    with pytest.raises(DataError, match=r"scikit-learn.*pip install 'tui-trainer\[digits\]'"):
        load_dataset(image_config("digits"))


@pytest.mark.framework
def test_digits_preset_reaches_high_accuracy() -> None:
    cfg = presets.load_preset("digits")
    events: list = []
    _, result = train(cfg, events.append)
    assert result.failed is None, result.failed
    assert result.finished.final.val_acc >= 0.9
    report = next(e for e in events if isinstance(e, ClassReport))
    assert report.class_names == tuple("0123456789")
    assert report.confusion.sum() == 1797 - round(1797 * 0.8)
    assert min(a for a in report.per_class_accuracy if a is not None) >= 0.7


@pytest.mark.framework
def test_cli_digits_headless() -> None:
    proc = run_cli("--preset", "digits", "--no-ui", "--epochs", "10", "--min-val-acc", "0.9", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "[Epoch  10/10]" in proc.stdout
    assert "per-class accuracy" in proc.stdout and "confusion matrix" in proc.stdout
