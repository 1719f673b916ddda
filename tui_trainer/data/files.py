"""Your own data: a CSV, JSON or NPZ file with feature columns and a label column.

The file is named by ``data.path``; ``data.columns`` names the feature columns
(default ``x1, x2``) and ``data.label_column`` the label (default ``label``).
The format is picked by the file's suffix:

``.csv`` (also ``.tsv``, ``.txt``)
    A header row naming the columns, then one row per sample.  Commas separate
    cells unless the header has none and uses ``;`` (then "1,5" means 1.5) or
    tabs instead.  Other columns in the file are ignored.
``.json``
    Either records, a list of objects: ``[{"x1": 0.5, "x2": -1, "label": "cat"}, ...]``,
    or columns, an object of equally long lists: ``{"x1": [...], "x2": [...], "label": [...]}``.
``.npz``
    One 1-D array per column, named like the columns (``x1``, ``x2``, ``label``).
    When those names are not all there, an ``x`` array ``(n, k)`` with a ``y``
    array ``(n,)`` is used instead (what ``np.savez(f, x=X, y=y)`` writes); its
    columns are called by ``data.columns`` when that lists k names, else x1..xk.

The labels decide the task, so one preset can train on any file:

* two classes, written ±1, 0/1, any two other whole numbers or two strings →
  ``binary`` with ±1 targets (the playground's own convention);
* three or more whole-number classes (0..K-1, or other whole numbers) →
  ``multiclass``; up to ``MAX_CLASSES`` of them;
* three or more strings → ``multiclass``;
* real (non-whole) numbers, or more than ``MAX_CLASSES`` whole numbers →
  ``regression``.

Whenever labels are renumbered, the mapping is shown as a note
(``labels: cat→0, dog→1, fox→2``) and strings are sorted, so the numbering is
the same on every run.

Files with exactly two feature columns are treated like playground points:
they get the decision-boundary map and ``data.features`` (X1², sin X1, ...)
applies to them.  With any other number of columns the columns are the
inputs as they are.

Errors name the file, the row (the line, for CSV) and the column, because a
bad cell in a file of thousands of rows is otherwise hard to find.  The
stdlib ``csv``/``json`` modules and numpy do the reading; pandas is not needed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.core.config import FEATURE_LABELS, Config, nesting_depth
from tui_trainer.core.errors import DataError
from tui_trainer.data.datasets import PLAYGROUND_EXTENT, Dataset, data_extent, expand_features
from tui_trainer.data.npzfile import open_npz
from tui_trainer.data.splitting import split_indices

#: More distinct whole-number labels than this are read as regression values.
MAX_CLASSES = 50
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
SUFFIXES = CSV_SUFFIXES + (".json", ".npz")
#: A data file is a list of records or an object of columns: 2 or 3 levels; allow some slack.
MAX_JSON_NESTING = 8


@dataclass
class _Table:
    """What every reader hands back: numbers already checked, labels still raw."""

    features: np.ndarray  # (n, k) float64, all finite
    labels: Sequence[Any]  # str or numbers, one per row
    columns: tuple[str, ...]
    label_name: str  # the label column (or npz array) the labels came from
    notes: tuple[str, ...] = ()


# -- cells --------------------------------------------------------------------------------


def _number(value: Any, path: Path, where: str, column: str, *, decimal_comma: bool = False) -> float:
    """One feature cell as a finite float, or a DataError naming file, row and column.

    ``decimal_comma`` reads "1,5" as 1.5, as spreadsheets write numbers in
    ``;``-separated CSV in much of Europe.
    """
    at = f"{path}: {where}, column {column!r}"
    if value is None:
        raise DataError(f"{at} is empty (null); fill it in or remove the row")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{at}: {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise DataError(f"{at} is empty; fill it in or remove the row")
        if decimal_comma and "," in text and "." not in text:
            text = text.replace(",", ".", 1)
        try:
            number = float(text)
        except ValueError:
            raise DataError(f"{at}: {value!r} is not a number") from None
    else:
        try:
            number = float(value)
        except OverflowError:  # a JSON integer too large for a float
            raise DataError(f"{at}: {value!r} is too large") from None
    if math.isnan(number):
        raise DataError(f"{at} is NaN (a missing value); fill it in or remove the row")
    if not math.isfinite(number):
        raise DataError(f"{at}: {value!r} is not a finite number")
    return number


def _label_cell(value: Any, path: Path, where: str, column: str) -> str | float:
    """A label as text or a number; empty and NaN labels name their row."""
    at = f"{path}: {where}, label column {column!r}"
    if value is None:
        raise DataError(f"{at} is empty (null); every row needs a label")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise DataError(f"{at}: {value!r} is too large") from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise DataError(f"{at} is empty; every row needs a label")
        try:
            number = float(text)
        except ValueError:
            return text
    else:
        raise DataError(f"{at}: {value!r} is not a label (use a number or a string)")
    if math.isnan(number):
        raise DataError(f"{at} is NaN (a missing value); every row needs a label")
    if not math.isfinite(number):
        raise DataError(f"{at}: {value!r} is not a finite number")
    return number


def _missing_column(path: Path, name: str, setting: str, found: Sequence[str], kind: str = "column") -> DataError:
    shown = ", ".join(found) if found else "none"
    return DataError(f"{path}: no {kind} {name!r} ({setting}); {kind}s found: {shown}")


def _setting(cfg: Config, name: str) -> str:
    return "data.label_column" if name == cfg.data.label_column else "data.columns"


# -- CSV ----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: spreadsheets often write a byte-order mark before the header.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise DataError(f"{path}: can't read it: {exc.strerror}") from None


def _delimiter(header_line: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    if "," not in header_line:
        for candidate in (";", "\t"):
            if candidate in header_line:
                return candidate
    return ","


def _read_csv(path: Path, cfg: Config) -> _Table:
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty; it needs a header row (e.g. x1,x2,label) and then data rows")
    first = next(line for line in text.splitlines() if line.strip())
    delimiter = _delimiter(first, path.suffix.lower())
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if reader.line_num > start and any("\n" in c or "\r" in c for c in cells):
                # A quote left open swallows the following lines into one cell (rows silently lost).
                raise DataError(
                    f"{path}: line {start}: a quoted cell runs on to line {reader.line_num}; "
                    "is a closing quote (\") missing? Cells can't hold line breaks"
                )
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:  # a NUL byte, a quote never closed before the end of the file, ...
        where = f"line {start}" if "end of data" not in str(exc) else f"line {start}: a quote opened here is never closed"
        raise DataError(f"{path}: {where}: not readable as CSV ({exc})") from None
    while rows and not any(c.strip() for c in rows[-1][1]):
        rows.pop()  # trailing blank lines are harmless
    while rows and not any(c.strip() for c in rows[0][1]):
        rows.pop(0)
    header_line, header_cells = rows[0]
    header = [c.strip() for c in header_cells]
    data = rows[1:]
    wanted = (*cfg.data.columns, cfg.data.label_column)
    index: dict[str, int] = {}
    for name in wanted:
        hits = [i for i, h in enumerate(header) if h == name]
        if not hits:
            err = _missing_column(path, name, _setting(cfg, name), [h for h in header if h])
            if all(_is_number_text(h) for h in header if h):
                err = DataError(f"{err} (the first line must be a header naming the columns)")
            raise err
        if len(hits) > 1:
            raise DataError(f"{path}: column {name!r} appears {len(hits)} times in the header (line {header_line})")
        index[name] = hits[0]
    if not data:
        raise DataError(f"{path}: has a header but no data rows")
    features = np.empty((len(data), len(cfg.data.columns)), np.float64)
    labels: list[str | float] = []
    for r, (line, cells) in enumerate(data):
        if not any(c.strip() for c in cells):
            raise DataError(f"{path}: line {line} is empty; remove it or fill it in")
        if len(cells) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(cells)} values but the header has {len(header)} columns "
                f"({', '.join(header)})"
            )
        for j, name in enumerate(cfg.data.columns):
            features[r, j] = _number(cells[index[name]], path, f"line {line}", name, decimal_comma=delimiter == ";")
        labels.append(_label_cell(cells[index[cfg.data.label_column]], path, f"line {line}", cfg.data.label_column))
    return _Table(features, labels, tuple(cfg.data.columns), cfg.data.label_column)


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- JSON ---------------------------------------------------------------------------------


def _read_json(path: Path, cfg: Config) -> _Table:
    text = _read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty; it needs a list of records or an object of columns")
    too_deep = DataError(f"{path}: lists and objects nest too deeply (at most {MAX_JSON_NESTING} levels; "
                         "a data file needs 2: a list of records or an object of columns)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise too_deep from None
    if nesting_depth(data, MAX_JSON_NESTING) > MAX_JSON_NESTING:
        raise too_deep
    if isinstance(data, list):
        return _json_records(path, cfg, data)
    if isinstance(data, dict) and any(isinstance(v, list) for v in data.values()):
        return _json_columns(path, cfg, data)
    raise DataError(
        f"{path}: expected a list of records ([{{\"x1\": 0.5, \"x2\": 1.0, \"label\": \"a\"}}, ...]) "
        f"or an object of column lists ({{\"x1\": [...], \"x2\": [...], \"label\": [...]}}), not a JSON {type(data).__name__}"
    )


def _json_records(path: Path, cfg: Config, records: list[Any]) -> _Table:
    if not records:
        raise DataError(f"{path}: the list of records is empty")
    k = len(cfg.data.columns)
    features = np.empty((len(records), k), np.float64)
    labels: list[str | float] = []
    label = cfg.data.label_column
    for r, record in enumerate(records):
        where = f"record {r + 1}"
        if not isinstance(record, dict):
            raise DataError(f"{path}: {where} is a JSON {type(record).__name__}, not an object like {{\"x1\": 0.5, ...}}")
        if not record:
            raise DataError(f"{path}: {where} is empty; remove it or fill it in")
        for name in (*cfg.data.columns, label):
            if name not in record:
                raise DataError(
                    f"{path}: {where} has no key {name!r} ({_setting(cfg, name)}); keys found: {', '.join(map(str, record))}"
                )
        for j, name in enumerate(cfg.data.columns):
            features[r, j] = _number(record[name], path, where, name)
        labels.append(_label_cell(record[label], path, where, label))
    return _Table(features, labels, tuple(cfg.data.columns), label)


def _json_columns(path: Path, cfg: Config, table: dict[str, Any]) -> _Table:
    label = cfg.data.label_column
    for name in (*cfg.data.columns, label):
        if name not in table:
            raise _missing_column(path, name, _setting(cfg, name), list(table))
        if not isinstance(table[name], list):
            raise DataError(f"{path}: column {name!r} is a JSON {type(table[name]).__name__}, not a list of values")
    n = len(table[label])
    for name in cfg.data.columns:
        if len(table[name]) != n:
            raise DataError(f"{path}: column {name!r} has {len(table[name])} values but {label!r} has {n}")
    if n == 0:
        raise DataError(f"{path}: the columns are empty")
    features = np.empty((n, len(cfg.data.columns)), np.float64)
    for j, name in enumerate(cfg.data.columns):
        for r, value in enumerate(table[name]):
            features[r, j] = _number(value, path, f"row {r + 1}", name)
    labels = [_label_cell(v, path, f"row {r + 1}", label) for r, v in enumerate(table[label])]
    return _Table(features, labels, tuple(cfg.data.columns), label)


# -- NPZ ----------------------------------------------------------------------------------


def _npz_array(npz: Any, path: Path, name: str) -> np.ndarray:
    try:
        return np.asarray(npz[name])
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # a damaged member
        raise DataError(f"{path}: array {name!r} can't be read ({exc})") from None
    except ValueError as exc:  # object arrays need pickle, which we never allow
        raise DataError(
            f"{path}: array {name!r} can't be read without pickle ({exc}); save labels as a str or number array"
        ) from None


def _npz_features(arr: np.ndarray, path: Path, name: str, column_names: Sequence[str]) -> np.ndarray:
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{path}: array {name!r} holds {arr.dtype} values, not numbers")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0] if arr.ndim == 2 else (int(np.argmax(bad)), 0)
        what = "NaN (a missing value)" if math.isnan(arr[(r, c) if arr.ndim == 2 else r]) else "not finite"
        raise DataError(f"{path}: array {name!r}, row {r + 1}, column {column_names[c]!r} is {what}")
    return arr


def _read_npz(path: Path, cfg: Config) -> _Table:
    npz = open_npz(path)
    with npz:
        keys = list(npz.files)
        if not keys:
            raise DataError(f"{path}: the file holds no arrays")
        wanted = (*cfg.data.columns, cfg.data.label_column)
        if all(name in keys for name in wanted):
            return _npz_by_column(npz, path, cfg)
        if "x" in keys and "y" in keys:
            return _npz_xy(npz, path, cfg)
        missing = [name for name in wanted if name not in keys]
        raise DataError(
            f"{path}: no array {missing[0]!r} ({_setting(cfg, missing[0])}); arrays found: {', '.join(keys)} "
            "(an npz needs one array per column, or an 'x' array (n, k) with 'y')"
        )


def _npz_by_column(npz: Any, path: Path, cfg: Config) -> _Table:
    label = cfg.data.label_column
    y = _npz_array(npz, path, label)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: array {label!r} has shape {y.shape}; a column must be one-dimensional")
    n = len(y)
    if n == 0:
        raise DataError(f"{path}: array {label!r} is empty")
    cols = []
    for name in cfg.data.columns:
        arr = _npz_array(npz, path, name)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.shape != (n,):
            raise DataError(f"{path}: array {name!r} has shape {arr.shape} but {label!r} has {n} values")
        cols.append(_npz_features(arr, path, name, [name]))
    return _Table(np.stack(cols, axis=1), _npz_labels(y, path, label), tuple(cfg.data.columns), label)


def _npz_xy(npz: Any, path: Path, cfg: Config) -> _Table:
    x = _npz_array(npz, path, "x")
    y = _npz_array(npz, path, "y")
    if x.ndim == 1:
        x = x[:, np.newaxis]
    if x.ndim != 2:
        raise DataError(f"{path}: array 'x' has shape {x.shape}; it must be (samples, columns)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: array 'y' has shape {y.shape} but 'x' has {len(x)} rows; 'y' needs one label per row")
    if len(x) == 0:
        raise DataError(f"{path}: arrays 'x' and 'y' are empty")
    k = x.shape[1]
    notes: tuple[str, ...] = ()
    if len(cfg.data.columns) == k:
        names = tuple(cfg.data.columns)
    else:
        names = tuple(f"x{i + 1}" for i in range(k))
        notes = (f"{path.name}: 'x' has {k} columns, named {', '.join(names)} (data.columns lists {len(cfg.data.columns)})",)
    features = _npz_features(x, path, "x", names)
    return _Table(features, _npz_labels(y, path, "y"), names, "y", notes)


def _npz_labels(y: np.ndarray, path: Path, name: str) -> list[str | float]:
    if np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_:
        values = y.astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            r = int(np.argmax(bad))
            raise DataError(f"{path}: array {name!r}, row {r + 1} is {'NaN (a missing value)' if math.isnan(values[r]) else 'not finite'}")
        return values.tolist()
    if y.dtype.kind in ("U", "S"):
        texts = [v.decode() if isinstance(v, bytes) else str(v) for v in y.tolist()]
        return [_label_cell(t, path, f"row {r + 1}", name) for r, t in enumerate(texts)]
    raise DataError(f"{path}: array {name!r} holds {y.dtype} values; labels must be numbers or strings")


# -- labels -> task -----------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    task: str  # binary, multiclass or regression
    y: np.ndarray  # float32 (n, 1) for binary/regression, int64 (n,) for multiclass
    class_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _num_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _mapping_note(names: Sequence[str], targets: Sequence[str]) -> str:
    return "labels: " + ", ".join(f"{a}→{b}" for a, b in zip(names, targets, strict=True))


def interpret_labels(raw: Sequence[Any], path: Path, column: str) -> Labels:
    """Decide the task from the labels and turn them into targets (see the module docstring)."""
    if all(isinstance(v, float) for v in raw):
        return _numeric_labels(np.asarray(raw, np.float64), path, column)
    # Any text makes all labels text: "1" and "one" in one column are two names, not a number and a typo.
    texts = [v if isinstance(v, str) else _num_text(v) for v in raw]
    names = sorted(set(texts))
    _need_two(names, path, column)
    lookup = {name: i for i, name in enumerate(names)}
    idx = np.fromiter((lookup[t] for t in texts), np.int64, len(texts))
    if len(names) == 2:
        return Labels("binary", (2.0 * idx - 1.0).astype(np.float32)[:, None], notes=(_mapping_note(names, ("-1", "+1")),))
    return Labels("multiclass", idx, tuple(names), (_mapping_note(names, [str(i) for i in range(len(names))]),))


def _need_two(distinct: Sequence[Any], path: Path, column: str) -> None:
    if len(distinct) < 2:
        only = distinct[0] if distinct else "?"
        raise DataError(
            f"{path}: label column {column!r} has only one class ({only}); training needs at least two different labels"
        )


def _numeric_labels(values: np.ndarray, path: Path, column: str) -> Labels:
    distinct = np.unique(values)
    _need_two([_num_text(v) for v in distinct], path, column)
    whole = bool(np.all(values == np.round(values)))
    if not whole or len(distinct) > MAX_CLASSES:
        notes = () if not whole else (
            f"label column {column!r} has {len(distinct)} different whole numbers (more than {MAX_CLASSES}): "
            "read as regression values",
        )
        return Labels("regression", values.astype(np.float32)[:, None], notes=notes)
    names = [_num_text(v) for v in distinct]
    if len(distinct) == 2:
        if set(distinct.tolist()) == {-1.0, 1.0}:
            return Labels("binary", values.astype(np.float32)[:, None])
        y = np.where(values == distinct[1], 1.0, -1.0).astype(np.float32)[:, None]
        return Labels("binary", y, notes=(_mapping_note(names, ("-1", "+1")),))
    idx = np.searchsorted(distinct, values).astype(np.int64)
    if np.array_equal(distinct, np.arange(len(distinct))):
        return Labels("multiclass", idx, tuple(names))
    return Labels("multiclass", idx, tuple(names), (_mapping_note(names, [str(i) for i in range(len(names))]),))


# -- the loader ---------------------------------------------------------------------------


def _feature_names(features: tuple[str, ...], columns: tuple[str, ...]) -> tuple[str, ...]:
    """Playground feature labels spelled with the file's own column names."""
    a, b = columns
    names = {"x1": a, "x2": b, "x1sq": f"{a}²", "x2sq": f"{b}²", "x1x2": f"{a}·{b}", "sinx1": f"sin {a}", "sinx2": f"sin {b}"}
    return tuple(names.get(f, FEATURE_LABELS.get(f, f)) for f in features)


def read_table(path: Path, cfg: Config) -> _Table:
    """Read a file into checked numbers and raw labels, by its suffix."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, cfg)
    if suffix == ".json":
        return _read_json(path, cfg)
    return _read_npz(path, cfg)


def load_file(cfg: Config) -> Dataset:
    """A Dataset from ``data.path``, split by ``data.train_ratio`` with ``data.seed``."""
    d = cfg.data
    if not d.path:
        raise DataError(
            "data.path: dataset 'file' needs a file; give one with --set data.path=points.csv (CSV, JSON or NPZ)"
        )
    path = Path(d.path).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(f"data.path: {path}: unsupported file type {path.suffix or '(none)'!r}; use .csv, .json or .npz")
    if not path.is_file():
        raise DataError(f"data.path: file not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    if d.label_column in d.columns:
        raise DataError(f"data.label_column {d.label_column!r} is also listed in data.columns; a column can't be both")
    if len(set(d.columns)) != len(d.columns):
        raise DataError(f"data.columns {list(d.columns)!r} lists a column twice")

    table = read_table(path, cfg)
    labels = interpret_labels(table.labels, path, table.label_name)
    n = len(table.features)
    if n < 2:
        raise DataError(f"{path}: has only {n} row; it needs at least 2 to split into training and validation data")
    train, val = split_indices(n, d.train_ratio, d.seed)

    notes = [f"{path.name}: {n} rows, {labels.task}, columns {', '.join(table.columns)} → {table.label_name}", *table.notes,
             *labels.notes]
    raw = table.features
    if raw.shape[1] == 2:
        points = raw.astype(np.float32)
        x = expand_features(points, d.features)
        features = d.features
        feature_names = _feature_names(d.features, table.columns)
        # The map spans the file's own range (plus a margin) and is labelled with its column names.
        extent = data_extent(points)
        axes = (table.columns[0], table.columns[1])
        points_train, points_val = points[train], points[val]
    else:
        if tuple(d.features) != ("x1", "x2"):
            raise DataError(
                f"data.features: {', '.join(d.features)} need exactly two feature columns (the map's x1 and x2), "
                f"but data.columns has {raw.shape[1]} ({', '.join(table.columns)}); leave data.features at [x1, x2]"
            )
        x = raw.astype(np.float32)
        features = ()
        feature_names = table.columns
        points_train = points_val = None
        extent, axes = PLAYGROUND_EXTENT, ("x1", "x2")

    return Dataset(
        name=path.name,
        task=labels.task,
        x_train=x[train],
        y_train=labels.y[train],
        x_val=x[val],
        y_val=labels.y[val],
        feature_names=feature_names,
        points_train=points_train,
        points_val=points_val,
        class_names=labels.class_names,
        notes=tuple(notes),
        features=features,
        extent=extent,
        axes=axes,
    )
