"""Our Playground generators give exactly the points ``playground-data`` gives, without its matplotlib import."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tui_trainer.data import playground

plygdata = pytest.importorskip("plygdata")

DATASETS = ("circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss")


def _draw(module, dataset: str, noise: float, seed: int, ratio: float):
    random.seed(seed)
    np.random.seed(seed)
    rows = module.generate_data(dataset, noise)
    return rows, module.split_data(rows, training_size=ratio)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("noise", "seed", "ratio"), [(0.0, 0, 0.5), (0.25, 7, 0.7), (0.5, 123, 0.3)])
def test_same_points_and_split_as_plygdata(dataset, noise, seed, ratio):
    ours_rows, ours = _draw(playground, dataset, noise, seed, ratio)
    ref_rows, ref = _draw(plygdata, dataset, noise, seed, ratio)
    assert ours_rows == ref_rows  # bit for bit: same draws in the same order
    assert len(ours) == len(ref) == 4
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_every_train_ratio_splits_like_plygdata():
    rows = playground.generate_data("circle", 0.0)
    for tenth in range(1, 10):
        ratio = tenth / 10
        np.random.seed(0)
        ours = playground.split_data(rows, training_size=ratio)
        np.random.seed(0)
        ref = plygdata.split_data(rows, training_size=ratio)
        assert len(ours[0]) == len(ref[0]), ratio
