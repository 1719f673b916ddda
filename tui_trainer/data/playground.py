"""The TensorFlow Playground's six 2-D datasets, generated exactly as ``playground-data`` does.

``playground-data`` (``plygdata``, Apache-2.0, a Python port of the Playground's
``dataset.ts``) imports ``matplotlib.pyplot`` at package import, which cost a
headless run ~0.4 s for data that takes a millisecond to draw.  These are the
same generators, drawing the same numbers from Python's ``random`` in the same
order, and the same split (``numpy.random.shuffle``), so a seed gives the very
points ``plygdata`` gives (``tests/test_playground.py`` compares them).

Only ``random``, ``math`` and numpy: cheap to import.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np


NUM_SAMPLES_CLASSIFY = 500
NUM_SAMPLES_REGRESS = 1200


def _uniform(a: float, b: float) -> float:
    return random.random() * (b - a) + a


def _normal(mean: float, variance: float) -> float:
    """Marsaglia's polar method, as the Playground draws it (one value per call)."""
    while True:
        v1 = 2.0 * random.random() - 1.0
        v2 = 2.0 * random.random() - 1.0
        s = v1 * v1 + v2 * v2
        if 0.0 < s <= 1.0:
            break
    return mean + math.sqrt(variance) * (math.sqrt(-2.0 * math.log(s) / s) * v1)


def _scale(value: float, domain: tuple[float, float], out: tuple[float, float], clamp: bool = False) -> float:
    """d3's ``scaleLinear`` for increasing domains: map ``domain`` onto ``out`` (optionally clamped)."""
    d0, d1 = domain
    span = d1 - d0
    if clamp and value <= d0:
        t = 0.0
    elif clamp and value >= d1:
        t = 1.0
    else:
        t = (value - d0) / span
    return out[0] + (out[1] - out[0]) * t


def _two_gauss(n: int, noise: float) -> list[list[float]]:
    variance = _scale(noise, (0.0, 0.5), (0.5, 4.0))
    points: list[list[float]] = []
    for cx, cy, label in ((2.0, 2.0, 1), (-2.0, -2.0, -1)):
        for _ in range(n // 2):
            x = _normal(cx, variance)
            y = _normal(cy, variance)
            points.append([x, y, label])
    return points


def _xor(n: int, noise: float) -> list[list[float]]:
    points: list[list[float]] = []
    padding = 0.3
    for _ in range(n):
        x = _uniform(-5.0, 5.0)
        x = x + padding if x > 0 else x - padding
        y = _uniform(-5.0, 5.0)
        y = y + padding if y > 0 else y - padding
        nx = _uniform(-5.0, 5.0) * noise
        ny = _uniform(-5.0, 5.0) * noise
        points.append([x, y, 1 if (x + nx) * (y + ny) >= 0 else -1])
    return points


def _circle(n: int, noise: float) -> list[list[float]]:
    radius = 5.0
    points: list[list[float]] = []
    for r_lo, r_hi in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        for _ in range(n // 2):
            r = _uniform(r_lo, r_hi)
            angle = _uniform(0.0, 2.0 * math.pi)
            x = r * math.sin(angle)
            y = r * math.cos(angle)
            nx = _uniform(-radius, radius) * noise
            ny = _uniform(-radius, radius) * noise
            dx, dy = x + nx, y + ny
            points.append([x, y, 1 if math.sqrt(dx * dx + dy * dy) < radius * 0.5 else -1])
    return points


def _spiral(n: int, noise: float) -> list[list[float]]:
    points: list[list[float]] = []
    half = n // 2
    for delta, label in ((0.0, 1), (math.pi, -1)):
        for i in range(half):
            r = i / half * 5
            t = 1.75 * i / half * 2 * math.pi + delta
            x = r * math.sin(t) + _uniform(-1.0, 1.0) * noise
            y = r * math.cos(t) + _uniform(-1.0, 1.0) * noise
            points.append([x, y, label])
    return points


def _reg_plane(n: int, noise: float) -> list[list[float]]:
    radius = 6
    points: list[list[float]] = []
    for _ in range(n):
        x = _uniform(-radius, radius)
        y = _uniform(-radius, radius)
        nx = _uniform(-radius, radius) * noise
        ny = _uniform(-radius, radius) * noise
        points.append([x, y, _scale((x + nx) + (y + ny), (-10, 10), (-1, 1))])
    return points


_GAUSSIANS = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0), (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0),
              (4.0, -2.5, -1.0))


def _reg_gauss(n: int, noise: float) -> list[list[float]]:
    def label(x: float, y: float) -> float:
        best = 0.0
        for cx, cy, sign in _GAUSSIANS:
            dx, dy = x - cx, y - cy
            value = sign * _scale(math.sqrt(dx * dx + dy * dy), (0.0, 2.0), (1.0, 0.0), clamp=True)
            if abs(value) > abs(best):
                best = value
        return best

    radius = 6.0
    points: list[list[float]] = []
    for _ in range(n):
        x = _uniform(-radius, radius)
        y = _uniform(-radius, radius)
        nx = _uniform(-radius, radius) * noise
        ny = _uniform(-radius, radius) * noise
        points.append([x, y, label(x + nx, y + ny)])
    return points


_GENERATORS = {
    "circle": (_circle, NUM_SAMPLES_CLASSIFY),
    "xor": (_xor, NUM_SAMPLES_CLASSIFY),
    "gauss": (_two_gauss, NUM_SAMPLES_CLASSIFY),
    "spiral": (_spiral, NUM_SAMPLES_CLASSIFY),
    "reg-plane": (_reg_plane, NUM_SAMPLES_REGRESS),
    "reg-gauss": (_reg_gauss, NUM_SAMPLES_REGRESS),
}


def generate_data(dataset: str, noise: float = 0.0) -> list[list[float]]:
    """Rows ``[x, y, label]`` of a Playground dataset, drawn from Python's global ``random``."""
    make, n = _GENERATORS[dataset]
    return make(n, noise)


def split_data(rows: list[list[float]], training_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with numpy's global RNG and split: ``(x_train, y_train (n, 1), x_val, y_val (m, 1))``."""
    import numpy as np

    mat = np.array(rows)
    np.random.shuffle(mat)
    validation_size = 1.0 - training_size  # computed as plygdata does, so rounding matches too
    split = round(len(mat) * (1.0 - validation_size))
    x, y = mat[:, :-1], mat[:, -1:]
    return x[:split], y[:split].reshape(-1, 1), x[split:], y[split:].reshape(-1, 1)
