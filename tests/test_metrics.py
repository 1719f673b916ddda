"""metrics.py against numbers worked out by hand (core tier: numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui_trainer.core import metrics


def test_decision_values_put_every_head_on_one_scale() -> None:
    raw = np.array([[0.9], [0.25], [-0.5], [0.0]])
    # tanh output: already a decision value.
    assert metrics.decision_values(raw, "tanh", "binary").tolist() == [0.9, 0.25, -0.5, 0.0]
    # sigmoid probability p -> 2p - 1: 0.9 -> 0.8, 0.25 -> -0.5, -0.5 -> -2, 0 -> -1.
    assert metrics.decision_values(raw, "sigmoid", "binary") == pytest.approx([0.8, -0.5, -2.0, -1.0])
    # logits are squashed with tanh, keeping the sign.
    assert metrics.decision_values(raw, "linear", "binary") == pytest.approx(
        [math.tanh(0.9), math.tanh(0.25), math.tanh(-0.5), 0.0])
    # regression values are left alone, whatever the output activation.
    assert metrics.decision_values(raw, "sigmoid", "regression").tolist() == [0.9, 0.25, -0.5, 0.0]
    assert metrics.decision_values(raw * 10, "linear", "regression").tolist() == [9.0, 2.5, -5.0, 0.0]
    # Only the first column counts, and the shape is flat.
    two = np.array([[0.5, -7.0], [-0.5, 7.0]])
    assert metrics.decision_values(two, "tanh", "binary").tolist() == [0.5, -0.5]
    assert metrics.decision_values(np.array([0.5, -0.5]), "tanh", "binary").shape == (2,)


def test_binary_accuracy_counts_signs_and_zero_as_positive() -> None:
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    assert metrics.binary_accuracy(np.array([0.3, -0.2, -0.1, 0.4, 0.0]), labels) == 3 / 5
    assert metrics.binary_accuracy(np.array([[0.3], [-0.2], [0.1], [-0.4], [0.0]]), labels.reshape(-1, 1)) == 1.0
    assert metrics.binary_accuracy(np.array([-0.3, 0.2, -0.1, 0.4, -0.5]), labels) == 0.0
    assert metrics.binary_accuracy(np.array([0.0]), np.array([-1.0])) == 0.0


def test_multiclass_accuracy_is_argmax() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
    # argmax 1, 0, 2, 0 (ties go to the first class).
    assert metrics.multiclass_accuracy(scores, np.array([1, 0, 1, 1])) == 2 / 4
    assert metrics.multiclass_accuracy(scores, np.array([[1], [0], [2], [0]])) == 1.0


def test_confusion_matrix_rows_are_true_classes() -> None:
    m = metrics.confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert m.dtype == np.int64
    assert metrics.confusion_matrix(np.array([1.0]), np.array([0.0]), 2).tolist() == [[0, 0], [1, 0]]


def test_mae_is_a_per_sample_mean() -> None:
    assert metrics.mae(np.array([[1.0], [2.0], [-3.0]]), np.array([1.5, 2.0, 1.0])) == pytest.approx((0.5 + 0 + 4) / 3)
    assert metrics.mae(np.array([2.0, -2.0]), np.array([[0.0], [0.0]])) == 2.0
