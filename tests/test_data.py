"""Playground data: shapes, labels, features, seeding without leaking global RNG state."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tui_trainer.core.config import Config, from_dict
from tui_trainer.data.datasets import expand_features, grid_points, load_dataset


@pytest.mark.parametrize("name", ["circle", "xor", "gauss", "spiral"])
def test_classification_sets(name):
    ds = load_dataset(from_dict({"data": {"dataset": name, "train_ratio": 0.5}}))
    assert ds.task == "binary"
    assert ds.x_train.shape == (250, 2) and ds.x_val.shape == (250, 2)
    assert ds.y_train.shape == (250, 1) and ds.x_train.dtype == np.float32
    assert set(np.unique(ds.y_train)) <= {-1.0, 1.0}
    assert np.abs(ds.points_train).max() <= 10


@pytest.mark.parametrize("name", ["reg-plane", "reg-gauss"])
def test_regression_sets(name):
    ds = load_dataset(from_dict({"data": {"dataset": name}, "model": {"output_activation": "linear"}}))
    assert ds.task == "regression"
    assert len(ds.x_train) + len(ds.x_val) == 1200
    assert len(np.unique(ds.y_train)) > 100  # real values, not classes


def test_train_ratio_splits():
    ds = load_dataset(from_dict({"data": {"train_ratio": 0.8}}))
    assert (len(ds.x_train), len(ds.x_val)) == (400, 100)


def test_seeded_and_leaves_global_rngs_alone():
    cfg = from_dict({"data": {"dataset": "spiral", "noise": 0.3, "seed": 7}})
    random.seed(123)
    np.random.seed(123)
    expected_py, expected_np = random.random(), np.random.rand()
    random.seed(123)
    np.random.seed(123)
    a = load_dataset(cfg)
    assert random.random() == expected_py and np.random.rand() == expected_np
    b = load_dataset(cfg)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    c = load_dataset(cfg.with_updates({"data.seed": 8}))
    assert not np.array_equal(a.x_train, c.x_train)


def test_noise_changes_labels_for_circle():
    clean = load_dataset(Config())
    noisy = load_dataset(from_dict({"data": {"noise": 0.5}}))
    r_clean = np.hypot(*clean.points_train.T)
    # Without noise the circle is perfectly separable by radius.
    assert np.all((r_clean < 3) == (clean.y_train[:, 0] > 0))
    r_noisy = np.hypot(*noisy.points_train.T)
    assert not np.all((r_noisy < 3) == (noisy.y_train[:, 0] > 0))


def test_feature_expansion():
    pts = np.array([[1.0, 2.0], [-0.5, 3.0]])
    f = expand_features(pts, ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"))
    np.testing.assert_allclose(f[0], [1, 2, 1, 4, 2, np.sin(1), np.sin(2)], rtol=1e-6)
    ds = load_dataset(from_dict({"data": {"features": ["x1x2", "sinx2"]}}))
    assert ds.x_train.shape == (250, 2)
    np.testing.assert_allclose(ds.x_train[:, 0], ds.points_train[:, 0] * ds.points_train[:, 1], rtol=1e-5)


def test_grid_points_cover_the_domain_top_row_first():
    g = grid_points(4, 6)
    assert g.shape == (24, 2)
    assert g[0, 1] > g[-1, 1]  # row 0 is the top: largest x2
    assert g[0, 0] < g[5, 0]
    assert np.all(np.abs(g) < 6)


def test_limit_caps_sizes():
    ds = load_dataset(from_dict({"data": {"limit": 50}}))
    assert len(ds.x_train) == 50 and len(ds.x_val) == 50
