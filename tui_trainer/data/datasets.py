"""Datasets as plain numpy arrays, ready for any backend.

Playground data comes from ``tui_trainer.data.playground`` (the generators of
``playground-data``, without its matplotlib import), which draw from
Python's global ``random`` and numpy's global RNG: we seed both for a run and put
their old states back, so a seeded run is reproducible and the caller's own
random streams are untouched.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tui_trainer.core.config import FEATURES, PLAYGROUND_DATASETS, REGRESSION_DATASETS, Config
from tui_trainer.core.errors import DataError
from tui_trainer.data import playground

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

DOMAIN = (-6.0, 6.0)
#: The map's square for playground data: x1 across, x2 up, both over DOMAIN.
PLAYGROUND_EXTENT = (DOMAIN[0], DOMAIN[1], DOMAIN[0], DOMAIN[1])
#: Space left around a data file's points on the map, as a share of their range.
MARGIN = 0.1


@dataclass(frozen=True)
class Dataset:
    """Train/validation arrays plus what the faces need to draw them.

    ``y`` is float32 ``(n, 1)`` (±1 labels or real values) for binary and
    regression tasks and int64 ``(n,)`` class indices for multiclass.
    ``points_*`` are the raw 2-D coordinates when the data is 2-D (for the map).
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    points_train: np.ndarray | None = None
    points_val: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    #: Feature keys (config.FEATURES) applied to 2-D points, so grids can be expanded the same way.
    features: tuple[str, ...] = ()
    #: Image shape (h, w, c) when samples are images, for drawing them.
    image_shape: tuple[int, ...] | None = None
    #: The map's (x_lo, x_hi, y_lo, y_hi) for 2-D data: the playground's square, or a data file's
    #: own range with a margin, so points in 0..100 are not squeezed into one corner.
    extent: tuple[float, float, float, float] = PLAYGROUND_EXTENT
    #: Names of the map's axes (across, up): x1, x2 or a data file's column names.
    axes: tuple[str, str] = ("x1", "x2")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_outputs(self) -> int:
        return len(self.class_names) if self.task == "multiclass" else 1

    @property
    def is_2d(self) -> bool:
        return self.points_train is not None


def expand_features(points: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """The playground's feature inputs computed from (x1, x2) points, as float32."""
    import numpy as np

    x1 = points[:, 0]
    x2 = points[:, 1]
    table = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1sq": lambda: x1 * x1,
        "x2sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sinx1": lambda: np.sin(x1),
        "sinx2": lambda: np.sin(x2),
    }
    unknown = [f for f in features if f not in table]
    if unknown:
        raise DataError(f"data.features: unknown {unknown}; choose from {', '.join(FEATURES)}")
    return np.stack([table[f]() for f in features], axis=1).astype(np.float32)


def data_extent(points: np.ndarray, margin: float = MARGIN) -> tuple[float, float, float, float]:
    """The range of (n, 2) points with ``margin`` of it added on every side, as (x_lo, x_hi, y_lo, y_hi).

    The ends are rounded outwards to a round number (a tenth of the range's order of
    magnitude), so points in 0..100 give the map -10..110, not -9.267..109.6.  A column
    with one value gets a range of 1 around it, so the map never has zero width.
    """
    import numpy as np

    pts = np.asarray(points, dtype=np.float64)
    out: list[float] = []
    for axis in range(2):
        lo, hi = float(pts[:, axis].min()), float(pts[:, axis].max())
        span = hi - lo
        if span <= 0:
            lo, hi, span = lo - 0.5, hi + 0.5, 1.0
        unit = 10.0 ** (math.floor(math.log10(span)) - 1)
        out += [_round(math.floor((lo - margin * span) / unit) * unit),
                _round(math.ceil((hi + margin * span) / unit) * unit)]
    return out[0], out[1], out[2], out[3]


def _round(value: float) -> float:
    """Drop float noise (-0.30000000000000004) from a map end: it is shown to people."""
    return float(f"{value:.6g}")


def grid_points(rows: int, cols: int, extent: tuple[float, float, float, float] = PLAYGROUND_EXTENT) -> np.ndarray:
    """Cell-centre coordinates of a rows×cols grid; row 0 is the top (largest x2)."""
    import numpy as np

    x_lo, x_hi, y_lo, y_hi = extent
    xs = x_lo + (np.arange(cols) + 0.5) * (x_hi - x_lo) / cols
    ys = y_hi - (np.arange(rows) + 0.5) * (y_hi - y_lo) / rows
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


class _SeededGlobalRNGs:
    """Seed ``random`` and ``numpy.random`` for a block, then restore them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        import numpy as np

        self._py = random.getstate()
        self._np = np.random.get_state()
        random.seed(self.seed)
        np.random.seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        import numpy as np

        random.setstate(self._py)
        np.random.set_state(self._np)


def generate_points(dataset: str, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All points of a playground dataset, before the split: (n, 2) and (n,)."""
    import numpy as np

    with _SeededGlobalRNGs(seed):
        rows = np.asarray(playground.generate_data(dataset, noise), dtype=np.float64)
    return rows[:, :2], rows[:, 2]


def load_playground(cfg: Config) -> Dataset:
    import numpy as np

    d = cfg.data
    with _SeededGlobalRNGs(d.seed):
        rows = playground.generate_data(d.dataset, d.noise)
        x_tr, y_tr, x_va, y_va = playground.split_data(rows, training_size=d.train_ratio)
    task = "regression" if d.dataset in REGRESSION_DATASETS else "binary"
    return Dataset(
        name=d.dataset,
        task=task,
        x_train=expand_features(x_tr, d.features),
        y_train=y_tr.astype(np.float32),
        x_val=expand_features(x_va, d.features),
        y_val=y_va.astype(np.float32),
        feature_names=d.features,
        points_train=x_tr.astype(np.float32),
        points_val=x_va.astype(np.float32),
        features=d.features,
    )


#: Loaders for data that is not generated: "module:function" taking a Config.
#: Named by string so that their heavier imports happen only when used.
EXTERNAL_LOADERS: dict[str, str] = {
    "mnist": "tui_trainer.data.images:load_mnist",
    "digits": "tui_trainer.data.images:load_digits",
    "file": "tui_trainer.data.files:load_file",
    "imdb": "tui_trainer.data.imdb:load_imdb",
    "reviews": "tui_trainer.data.reviews:load_reviews",
}


def _external(name: str) -> Callable[[Config], Dataset]:
    module, _, func = EXTERNAL_LOADERS[name].partition(":")
    return getattr(importlib.import_module(module), func)


def load_dataset(cfg: Config) -> Dataset:
    """The dataset a config asks for, with ``data.limit`` applied to the training set."""
    if cfg.data.dataset in PLAYGROUND_DATASETS:
        ds = load_playground(cfg)
    else:
        ds = _external(cfg.data.dataset)(cfg)
    if cfg.data.limit and len(ds.x_train) > cfg.data.limit:
        n = cfg.data.limit
        n_val = min(len(ds.x_val), max(1, round(n * len(ds.x_val) / len(ds.x_train))))
        ds = replace(
            ds,
            x_train=ds.x_train[:n],
            y_train=ds.y_train[:n],
            x_val=ds.x_val[:n_val],
            y_val=ds.y_val[:n_val],
            points_train=None if ds.points_train is None else ds.points_train[:n],
            points_val=None if ds.points_val is None else ds.points_val[:n_val],
        )
    return ds
