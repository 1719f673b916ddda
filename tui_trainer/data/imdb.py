"""IMDB reviews from Keras's ``imdb.npz``, read without ever running a pickle.

Keras keeps the reviews as object arrays of word-index lists, which ``np.load``
reads only through pickle; a pickle can run any code, and the file is one a user
names (``data.path``) or one that sits in a cache folder.  So the ``.npy``
members are parsed here: plain arrays with ``allow_pickle=False``, and object
arrays with an unpickler that knows exactly the three numpy names an object
array's pickle uses (``_reconstruct``, ``ndarray``, ``dtype``), builds nothing
but an object ndarray, and then admits only lists of non-negative integers.
Anything else is refused with one line naming the file and member.

Reviews become the textbook's 10,000-word multi-hot vectors, with Keras's own
conventions (``load_data(num_words=10000)``: indices shifted by 3, 1 marks the
start, 2 a word outside the vocabulary, both shuffled with seed 113) so the
numbers match the book.  Nothing is ever downloaded.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.core.config import Config
from tui_trainer.core.errors import DataError
from tui_trainer.data.datasets import Dataset
from tui_trainer.data.images import mnist_search_paths

IMDB_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
IMDB_KEYS = ("x_train", "y_train", "x_test", "y_test")
NUM_WORDS = 10_000
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
KERAS_SHUFFLE_SEED = 113


class UnsafePickle(Exception):
    """The pickle asked for something other than an object array of int lists."""


def _reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray or shape != (0,) or dtype_code not in (b"b", "b"):
        raise UnsafePickle(f"array reconstruction with {cls!r}, {shape!r}, {dtype_code!r}")
    return np.ndarray.__new__(np.ndarray, (0,), np.int8)


def _object_dtype(code: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if code not in ("O8", "O4", b"O8", b"O4"):
        raise UnsafePickle(f"dtype {code!r}")
    return np.dtype("O")


class _ObjectArrayUnpickler(pickle.Unpickler):
    """Resolves only the globals of a pickled numpy object array, through checked stand-ins."""

    ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _object_dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        found = self.ALLOWED.get((module, name))
        if found is None:
            raise UnsafePickle(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("persistent id")


def _int_lists(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 1 and all(
        isinstance(item, list) and all(type(w) is int and w >= 0 for w in item) for item in value
    )


def read_member(archive: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    """One ``.npy`` member: a plain array, or an object array of int lists read safely."""
    where = f"{path}: {name}"
    with archive.open(f"{name}.npy") as raw:
        fh = io.BytesIO(raw.read())
    try:
        version = np.lib.format.read_magic(fh)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(fh) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(fh))
    except ValueError as exc:
        raise DataError(f"{where} is not a .npy array ({exc})") from None
    if not dtype.hasobject:
        fh.seek(0)
        try:
            return np.lib.format.read_array(fh, allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"{where} can't be read ({exc})") from None
    if dtype != np.dtype("O") or len(shape) != 1:
        raise DataError(f"{where}: object array of dtype {dtype} and shape {shape}; expected a list of reviews")
    try:
        value = _ObjectArrayUnpickler(fh, encoding="latin1").load()
    except UnsafePickle as exc:
        raise DataError(f"{where}: refused to read it: the pickle inside asks for {exc}, "
                        "but an IMDB file holds only lists of word indices (nothing was run)") from None
    except Exception as exc:  # noqa: BLE001 - any malformed pickle is bad input, not a crash
        raise DataError(f"{where}: not a readable object array ({type(exc).__name__}: {exc})") from None
    if not _int_lists(value) or value.shape != tuple(shape):
        raise DataError(f"{where}: refused: it must hold lists of non-negative whole numbers (word indices)")
    return value


def read_imdb(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of an ``imdb.npz``, each checked."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    with archive:
        names = {n[:-4] for n in archive.namelist() if n.endswith(".npy")}
        missing = [k for k in IMDB_KEYS if k not in names]
        if missing:
            raise DataError(f"{path}: missing arrays {', '.join(missing)}; an IMDB npz needs {', '.join(IMDB_KEYS)} "
                            f"(found: {', '.join(sorted(names)) or 'none'})")
        arrays = {key: read_member(archive, key, path) for key in IMDB_KEYS}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != object:
            raise DataError(f"{path}: x_{split} must be a list of reviews (lists of word indices), not {x.dtype} numbers")
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or not np.isin(y, (0, 1)).all():
            raise DataError(f"{path}: y_{split} must hold one 0/1 label per review ({len(x)} reviews)")
    return arrays


def imdb_search_paths() -> list[Path]:
    """Where ``keras.datasets.imdb.load_data()`` caches ``imdb.npz`` (as for MNIST)."""
    return [p.with_name("imdb.npz") for p in mnist_search_paths()]


def find_imdb(cfg: Config) -> Path:
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(f"data.path: IMDB file not found: {path} "
                            f"(give Keras's imdb.npz with x_train, y_train, x_test, y_test, from {IMDB_URL})")
        return path
    candidates = imdb_search_paths()
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(
        f"IMDB data not found (looked in {', '.join(map(str, candidates))}) and tui-trainer never downloads; "
        f"download {IMDB_URL} and copy it to {candidates[0]}, or --set data.path=PATH/imdb.npz "
        "(or try the offline 'overfit' preset)"
    )


def multi_hot(reviews: np.ndarray, num_words: int = NUM_WORDS) -> np.ndarray:
    """Keras's word indices → the textbook's multi-hot vectors (n, num_words) float32."""
    out = np.zeros((len(reviews), num_words), np.float32)
    for i, review in enumerate(reviews):
        words = np.asarray(review, np.int64) + INDEX_FROM
        words = np.where(words < num_words, words, OOV_CHAR)
        out[i, words] = 1.0
        out[i, START_CHAR] = 1.0
    return out


def _keras_order(n: int) -> np.ndarray:
    order = np.arange(n)
    np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)
    return order


def load_imdb(cfg: Config) -> Dataset:
    """IMDB with its test split as validation data; ``data.limit`` is applied before vectorising.

    The full data is 2 × 25,000 × 10,000 float32 (2 GB): use ``data.limit`` on small machines.
    """
    path = find_imdb(cfg)
    arrays = read_imdb(path)
    x_tr, y_tr = (arrays[k][_keras_order(len(arrays["x_train"]))] for k in ("x_train", "y_train"))
    x_te, y_te = (arrays[k][_keras_order(len(arrays["x_test"]))] for k in ("x_test", "y_test"))
    if cfg.data.limit and cfg.data.limit < len(x_tr):
        n = cfg.data.limit
        n_val = min(len(x_te), max(1, round(n * len(x_te) / len(x_tr))))
        x_tr, y_tr, x_te, y_te = x_tr[:n], y_tr[:n], x_te[:n_val], y_te[:n_val]
    if len(x_tr) == 0 or len(x_te) == 0:
        raise DataError(f"{path}: holds no reviews in its train or test split")
    return Dataset(
        name="imdb",
        task="binary",
        x_train=multi_hot(x_tr),
        y_train=(2.0 * y_tr.astype(np.float32) - 1.0).reshape(-1, 1),
        x_val=multi_hot(x_te),
        y_val=(2.0 * y_te.astype(np.float32) - 1.0).reshape(-1, 1),
        feature_names=("words",),
        notes=(f"IMDB from {path}: {len(x_tr):,} train / {len(x_te):,} validation (the test split) reviews as "
               f"{NUM_WORDS:,}-word multi-hot vectors",),
    )
