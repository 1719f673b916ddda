"""Opening ``.npz`` files safely: sizes and types are checked before any array is read.

An ``.npz`` is a zip of ``.npy`` files, and zip compresses well: a file of a
few kilobytes can declare arrays of many gigabytes, and ``np.load`` would
allocate them all.  ``open_npz`` first reads each member's small ``.npy``
header (shape and dtype, a few hundred bytes through the decompressor) and
refuses the file when the arrays together hold more than ``MAX_NPZ_VALUES``
numbers, or hold Python objects (which need pickle, never allowed) or complex
numbers (which no network here can train on).  Memory stays bounded by the
header size until the check has passed.  Both data readers (your own ``.npz``
and MNIST) open files only through here.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.core.errors import DataError

#: Most numbers read from one ``.npz`` (all arrays together).  MNIST holds 55 million;
#: 100 million float32 values are 400 MB once loaded (800 MB as float64).
MAX_NPZ_VALUES = 100_000_000


def _header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(shape), np.dtype(dtype)


def check_npz(path: Path, limit: int = MAX_NPZ_VALUES) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every array's declared shape and dtype, or a DataError naming the file and array."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    arrays: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    total = 0
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            try:
                with zf.open(info) as fh:
                    shape, dtype = _header(fh)
            except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                raise DataError(f"{path}: array {name!r} is not a readable .npy array ({exc})") from None
            if dtype.hasobject:
                raise DataError(f"{path}: array {name!r} holds Python objects, which would need pickle "
                                "(never allowed); save numbers, or labels as a string array")
            if dtype.kind == "c":
                raise DataError(f"{path}: array {name!r} holds complex numbers ({dtype}); save real numbers")
            values = math.prod(shape)
            total += values
            if total > limit:
                raise DataError(
                    f"{path}: array {name!r} declares shape {shape} ({values:,} values of {dtype}); "
                    f"the file's arrays may hold at most {limit:,} values in all"
                )
            arrays[name] = (shape, dtype)
    return arrays


def open_npz(path: Path, limit: int = MAX_NPZ_VALUES) -> Any:
    """``np.load`` (never with pickle) once ``check_npz`` has passed; use it as a context manager."""
    check_npz(path, limit)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
