"""Multiclass metrics through the real engine and backends, against values worked out by hand.

The model is a single Dense(3) layer whose weights the test sets (identity
kernel, bias [0, 0.5, -0.5]), so every logit, prediction and loss below can be
computed on paper.  A learning rate of 1e-9 keeps the weights in place while
the engine runs its normal epoch, so the epoch's own numbers can be checked too.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tui_trainer.core import metrics  # noqa: E402
from tui_trainer.core.config import from_dict  # noqa: E402
from tui_trainer.core.events import ClassReport, EpochEnded, RunStarted  # noqa: E402
from tui_trainer.data.datasets import Dataset  # noqa: E402
from tui_trainer.engine.session import Session  # noqa: E402

KERNEL = np.eye(3, dtype=np.float32)
BIAS = np.array([0.0, 0.5, -0.5], np.float32)

# logits = x + BIAS.  Train: predictions 0, 1, 2, 1, 1 against labels 0, 1, 0, 1, 2 -> 3/5 right.
X_TRAIN = np.array([[2, 0, 0], [0, 1, 0], [0, 0, 3], [1, 1, 0], [0, 0, 0]], np.float32)
Y_TRAIN = np.array([0, 1, 0, 1, 2], np.int64)
# Validation: predictions 0, 1, 2, 1, 0, 1 against labels 0, 1, 2, 0, 2, 2 -> 3/6 right.
X_VAL = np.array([[3, 0, 0], [0, 2, 0], [0, 0, 2], [0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
Y_VAL = np.array([0, 1, 2, 0, 2, 2], np.int64)
# Rows are true classes, columns predictions.
CONFUSION = [[1, 1, 0], [0, 1, 0], [1, 1, 1]]


def cross_entropy(x: np.ndarray, label: int) -> float:
    """-log softmax(x + b)[label], written out."""
    logits = [float(x[i]) + float(BIAS[i]) for i in range(3)]
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


def hand_loss(xs: np.ndarray, ys: np.ndarray) -> float:
    return sum(cross_entropy(x, int(y)) for x, y in zip(xs, ys, strict=True)) / len(ys)


class FixedWeights(Session):
    """The real engine and backend; only the starting weights are chosen by the test."""

    def prepare(self) -> RunStarted:
        started = super().prepare()
        if self.backend.name == "tensorflow":
            out = self.backend.model.layers[-1]
            out.kernel.assign(KERNEL)
            out.bias.assign(BIAS)
        else:
            import torch

            linear = [m for m in self.backend.model.modules() if isinstance(m, torch.nn.Linear)][-1]
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(KERNEL.T.copy()))
                linear.bias.copy_(torch.from_numpy(BIAS))
        return started


def test_hand_values_are_what_the_comments_say() -> None:
    assert math.isclose(cross_entropy(np.array([2.0, 0, 0]), 0), math.log(math.e**2 + math.e**0.5 + math.e**-0.5) - 2)
    assert metrics.multiclass_accuracy(X_TRAIN + BIAS, Y_TRAIN) == pytest.approx(3 / 5)
    assert metrics.multiclass_accuracy(X_VAL + BIAS, Y_VAL) == pytest.approx(3 / 6)
    assert metrics.confusion_matrix(Y_VAL, np.argmax(X_VAL + BIAS, axis=1), 3).tolist() == CONFUSION


@pytest.mark.framework
@pytest.mark.parametrize("backend", [pytest.param("torch", marks=pytest.mark.mutation), "tensorflow"])
@pytest.mark.parametrize("output", ["linear", "softmax"])
def test_engine_multiclass_metrics_match_hand_computation(backend: str, output: str) -> None:
    cfg = from_dict({
        "data": {"dataset": "digits"},
        "model": {"hidden": [], "output_activation": output},
        "train": {"backend": backend, "optimizer": "sgd", "learning_rate": 1e-9,
                  "loss": "categorical_crossentropy", "batch_size": 2, "epochs": 1},
    })
    ds = Dataset(name="hand", task="multiclass", x_train=X_TRAIN, y_train=Y_TRAIN, x_val=X_VAL, y_val=Y_VAL,
                 feature_names=("a", "b", "c"), class_names=("a", "b", "c"))
    events: list = []
    result = FixedWeights(cfg, ds, threads=1).run(events.append)
    assert result.failed is None, result.failed
    epoch = next(e for e in events if isinstance(e, EpochEnded))
    # Per-sample averages over batches of 2, 2 and 1, not an average of batch means.
    assert epoch.loss == pytest.approx(hand_loss(X_TRAIN, Y_TRAIN), abs=1e-5)
    assert epoch.acc == pytest.approx(3 / 5)
    assert epoch.val_loss == pytest.approx(hand_loss(X_VAL, Y_VAL), abs=1e-5)
    assert epoch.val_acc == pytest.approx(3 / 6)
    report = next(e for e in events if isinstance(e, ClassReport))
    assert report.class_names == ("a", "b", "c")
    assert report.confusion.tolist() == CONFUSION
    assert report.per_class_accuracy == pytest.approx((1 / 2, 1.0, 1 / 3))


def test_per_class_accuracy_with_an_absent_class() -> None:
    confusion = metrics.confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    report = ClassReport(class_names=("x", "y", "z"), confusion=confusion)
    assert report.per_class_accuracy == (0.5, 1.0, None)
