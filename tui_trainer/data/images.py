"""Image datasets: MNIST from a local ``mnist.npz`` and scikit-learn's 8×8 digits.

Nothing here ever downloads.  MNIST is read from the file Keras keeps in its
cache (``~/.keras/datasets/mnist.npz``, or ``$KERAS_HOME/datasets``) or from
``data.path``; when neither is there the user gets one line saying where we
looked and how to get the file, instead of a network timeout deep in Keras.

Images are channels-last ``(n, h, w, c)`` float32 scaled to 0..1 everywhere, so
both backends (and the app's image view) see the same arrays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from tui_trainer.core.config import Config
from tui_trainer.core.errors import DataError
from tui_trainer.data.datasets import Dataset
from tui_trainer.data.npzfile import open_npz
from tui_trainer.data.splitting import split_indices

#: sha256 of the official ``mnist.npz`` (the value Keras itself checks).
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
DIGIT_NAMES = tuple(str(i) for i in range(10))


# -- MNIST --------------------------------------------------------------------------------


def mnist_search_paths() -> list[Path]:
    """Where ``keras.datasets.mnist.load_data()`` keeps ``mnist.npz``, by Keras's own rules.

    ``$KERAS_HOME`` or ``~/.keras`` (``/tmp/.keras`` when that folder isn't
    writable).  Computed from the environment on every call, not once at import
    as Keras does, so a changed ``HOME`` or ``KERAS_HOME`` is honoured.
    """
    if os.environ.get("KERAS_HOME"):
        base = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        home = Path.home()
        base = home / ".keras" if os.access(home, os.W_OK) else Path("/tmp") / ".keras"
    paths = [base / "datasets" / "mnist.npz"]
    if not os.access(base, os.W_OK):  # get_file's fallback for an unwritable cache folder
        fallback = Path("/tmp") / ".keras" / "datasets" / "mnist.npz"
        if fallback not in paths:
            paths.append(fallback)
    return paths


def find_mnist(cfg: Config) -> Path:
    """The MNIST file to read: ``data.path`` if given, else the Keras cache."""
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(
                f"data.path: MNIST file not found: {path} "
                f"(give an .npz with x_train, y_train, x_test, y_test, e.g. Keras's mnist.npz from {MNIST_URL})"
            )
        return path
    candidates = mnist_search_paths()
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise DataError(
        f"MNIST data not found (looked in {looked}) and tui-trainer never downloads; "
        f"download {MNIST_URL} and copy it to {candidates[0]}, or point to a copy with --set data.path=PATH/mnist.npz "
        "(or try the offline 'digits' preset)"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _keras_usable(cfg: Config) -> bool:
    """Use Keras's loader only where Keras is (or will be) loaded anyway.

    Importing Keras pulls in TensorFlow (seconds, and a second thread pool);
    a torch run reads the very same npz keys with numpy instead.
    """
    if "keras" in sys.modules:
        return True
    return cfg.train.backend == "tensorflow" and importlib.util.find_spec("keras") is not None


def _keras_cache_file() -> Path | None:
    """The exact file ``keras.datasets.mnist.load_data()`` reads, or None if unknown.

    Keras fixes its home folder when it is imported, so this asks Keras rather
    than recomputing it from today's environment.
    """
    try:
        from keras.src.backend.config import keras_home
    except ImportError:
        return None
    base = keras_home()
    if not os.access(base, os.W_OK):  # get_file's own fallback
        base = os.path.join("/tmp", ".keras")
    return Path(base) / "datasets" / "mnist.npz"


def _read_mnist(path: Path, cfg: Config) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    # Keras's loader re-downloads a cached file whose hash doesn't match, so it is
    # used only for the genuine file in its own cache; any other npz (a copy given
    # with data.path, Fashion-MNIST, a test file) is read here with the same keys.
    if _keras_usable(cfg) and _sha256(path) == MNIST_SHA256:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # As the TensorFlow backend does, before Keras reads ~/.keras/keras.json and picks another.
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras

        cached = _keras_cache_file()
        if cached is not None and cached.is_file() and cached.samefile(path):
            return keras.datasets.mnist.load_data()
    try:
        with open_npz(path) as npz:
            missing = [k for k in MNIST_KEYS if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {', '.join(missing)}; an MNIST npz needs {', '.join(MNIST_KEYS)} "
                    f"(found: {', '.join(npz.files) or 'none'})"
                )
            return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _images(x: np.ndarray, path: Path, name: str) -> np.ndarray:
    """(n, h, w) or (n, h, w, c) pixels → float32 channels-last in 0..1."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4:
        raise DataError(f"{path}: {name} has shape {x.shape}; expected images shaped (n, height, width)")
    if x.shape[0] == 0:
        raise DataError(f"{path}: {name} holds no images")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{path}: {name} holds {x.dtype} values, not pixel numbers")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{path}: {name} holds NaN or infinite pixels (image {int(bad[0])}, first at "
                        f"{tuple(int(i) for i in bad[1:])}); pixels must be finite numbers")
    # uint8 pixels are 0..255; float files may already be scaled.
    scale = 255.0 if x.dtype == np.uint8 or float(np.max(x)) > 1.0 else 1.0
    out = x.astype(np.float32)
    out /= scale
    return out


def _digit_labels(y: np.ndarray, n: int, path: Path, name: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise DataError(f"{path}: {name} has {len(y)} labels for {n} images")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() > 9)):
        raise DataError(f"{path}: {name} must hold whole-number labels 0..9")
    return y.astype(np.int64)


def load_mnist(cfg: Config) -> Dataset:
    """MNIST with its own test split as validation data (``data.train_ratio`` doesn't apply)."""
    path = find_mnist(cfg)
    (x_tr, y_tr), (x_te, y_te) = _read_mnist(path, cfg)
    x_train = _images(x_tr, path, "x_train")
    x_val = _images(x_te, path, "x_test")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise DataError(f"{path}: x_train images are {x_train.shape[1:]} but x_test images are {x_val.shape[1:]}")
    y_train = _digit_labels(y_tr, len(x_train), path, "y_train")
    y_val = _digit_labels(y_te, len(x_val), path, "y_test")
    return Dataset(
        name="mnist",
        task="multiclass",
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        feature_names=("pixels",),
        class_names=DIGIT_NAMES,
        notes=(
            f"MNIST from {path}",
            f"validation data is the MNIST test split ({len(x_val):,} images); data.train_ratio does not apply",
        ),
        image_shape=tuple(x_train.shape[1:]),
    )


# -- scikit-learn digits ------------------------------------------------------------------


def load_digits(cfg: Config) -> Dataset:
    """The 1,797 8×8 digits that scikit-learn ships: image data that works offline."""
    if importlib.util.find_spec("sklearn") is None:
        raise DataError(
            "data.dataset 'digits' needs scikit-learn, which is not installed; "
            "install it with: pip install 'tui-trainer[digits]' (or pip install scikit-learn)"
        )
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = (np.asarray(bunch.images, np.float32) / 16.0)[..., np.newaxis]  # pixel values are 0..16
    labels = np.asarray(bunch.target, np.int64)
    train, val = split_indices(len(images), cfg.data.train_ratio, cfg.data.seed)
    return Dataset(
        name="digits",
        task="multiclass",
        x_train=images[train],
        y_train=labels[train],
        x_val=images[val],
        y_val=labels[val],
        feature_names=("pixels",),
        class_names=DIGIT_NAMES,
        notes=(f"scikit-learn 8x8 digits: {len(train)} train / {len(val)} validation (data.train_ratio {cfg.data.train_ratio:g})",),
        image_shape=tuple(images.shape[1:]),
    )
