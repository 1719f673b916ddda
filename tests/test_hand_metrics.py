"""Binary and regression metrics through the real engine and backends, against numbers worked out by hand.

The model is one Dense(1) layer whose weights the test sets (w = [0.5, -0.25],
b = 0.125), so every output, loss and accuracy below is written out in plain
Python here, not computed by the code under test.  It runs on TensorFlow, on
PyTorch's dense fast path (closed-form gradients) and on PyTorch's autograd
path, for tanh, sigmoid and linear outputs.

Two checks per case:
* weights held in place (learning rate 1e-9): train and validation loss and
  accuracy equal the hand values at the starting weights;
* two full-batch SGD steps (learning rate 0.5): epoch 1's training loss is at
  the starting weights, its validation numbers at the weights after one step
  (computed by hand from the gradient formula), epoch 2's training loss there too.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tui_trainer.core.config import from_dict  # noqa: E402
from tui_trainer.core.events import EpochEnded, RunStarted  # noqa: E402
from tui_trainer.data.datasets import Dataset  # noqa: E402
from tui_trainer.engine.session import Session  # noqa: E402

pytestmark = pytest.mark.framework

W0 = (0.5, -0.25)
B0 = 0.125

# z = 0.5 x1 - 0.25 x2 + 0.125; predicted class +1 when z >= 0 (every head agrees on that).
X_TRAIN = [(1, 0), (0, 2), (-1, 1), (2, 2), (0, 0)]
Z_TRAIN = [0.625, -0.375, -0.625, 0.625, 0.125]
Y_TRAIN = [1, 1, -1, -1, 1]  # right, wrong, right, wrong, right -> 3/5
X_VAL = [(2, 0), (0, -2), (-2, 0), (1, 1), (-0.25, 0), (0, -4)]
Z_VAL = [1.125, 0.625, -0.875, 0.375, 0.0, 1.125]
Y_VAL = [1, -1, -1, 1, -1, 1]  # right, wrong, right, right, wrong (z = 0 counts as +1), right -> 4/6
ACC_TRAIN, ACC_VAL = 3 / 5, 4 / 6
# Regression targets for the linear head.
R_TRAIN = [0.5, -1.0, 2.0, 0.0, 1.0]
R_VAL = [1.0, 0.25, -1.0, 0.5, 0.0, 2.0]

EPS = 1e-7  # both backends clip probabilities to [EPS, 1 - EPS] for cross-entropy


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def z_of(w: tuple[float, float], b: float, x: tuple[float, float]) -> float:
    return w[0] * x[0] + w[1] * x[1] + b


# Per-sample loss and dL/dz for each head: (output activation, loss) -> (loss(z, y), dloss/dz(z, y)).
# Labels are ±1 (or real values for regression); cross-entropy's target is t = (y + 1) / 2.
HEADS = {
    ("tanh", "mse"): (lambda z, y: (math.tanh(z) - y) ** 2,
                      lambda z, y: 2 * (math.tanh(z) - y) * (1 - math.tanh(z) ** 2)),
    ("sigmoid", "mse"): (lambda z, y: (sigmoid(z) - y) ** 2,
                         lambda z, y: 2 * (sigmoid(z) - y) * sigmoid(z) * (1 - sigmoid(z))),
    ("sigmoid", "binary_crossentropy"): (
        lambda z, y: -math.log(min(max(sigmoid(z), EPS), 1 - EPS)) if y > 0
        else -math.log(1 - min(max(sigmoid(z), EPS), 1 - EPS)),
        lambda z, y: sigmoid(z) - (y + 1) / 2),
    ("linear", "binary_crossentropy"): (lambda z, y: math.log1p(math.exp(-y * z)),  # logits
                                        lambda z, y: sigmoid(z) - (y + 1) / 2),
    ("linear", "mse"): (lambda z, y: (z - y) ** 2, lambda z, y: 2 * (z - y)),
}


def hand_loss(head, w, b, xs, ys) -> float:
    loss, _ = HEADS[head]
    return sum(loss(z_of(w, b, x), y) for x, y in zip(xs, ys, strict=True)) / len(ys)


def hand_acc(w, b, xs, ys) -> float:
    return sum((1 if z_of(w, b, x) >= 0 else -1) == y for x, y in zip(xs, ys, strict=True)) / len(ys)


def hand_mae(w, b, xs, ys) -> float:
    return sum(abs(z_of(w, b, x) - y) for x, y in zip(xs, ys, strict=True)) / len(ys)


def sgd_step(head, w, b, xs, ys, lr):
    """One full-batch gradient step on the mean loss, written out."""
    _, grad = HEADS[head]
    n = len(ys)
    g = [grad(z_of(w, b, x), y) / n for x, y in zip(xs, ys, strict=True)]
    gw = (sum(gi * x[0] for gi, x in zip(g, xs, strict=True)), sum(gi * x[1] for gi, x in zip(g, xs, strict=True)))
    return (w[0] - lr * gw[0], w[1] - lr * gw[1]), b - lr * sum(g)


def test_hand_values_are_what_the_comments_say() -> None:
    assert [z_of(W0, B0, x) for x in X_TRAIN] == Z_TRAIN
    assert [z_of(W0, B0, x) for x in X_VAL] == Z_VAL
    assert hand_acc(W0, B0, X_TRAIN, Y_TRAIN) == ACC_TRAIN
    assert hand_acc(W0, B0, X_VAL, Y_VAL) == ACC_VAL
    # tanh/MSE on the first training point: (tanh(0.625) - 1)^2.
    assert HEADS[("tanh", "mse")][0](0.625, 1) == pytest.approx((0.5545997 - 1) ** 2, rel=1e-6)
    # logits and a sigmoid give the same cross-entropy when nothing is clipped.
    for z, y in zip(Z_VAL, Y_VAL, strict=True):
        assert HEADS[("linear", "binary_crossentropy")][0](z, y) == pytest.approx(
            HEADS[("sigmoid", "binary_crossentropy")][0](z, y))
    # The gradient formulas agree with a finite difference.
    for head, (loss, grad) in HEADS.items():
        assert grad(0.3, -1) == pytest.approx((loss(0.3 + 1e-6, -1) - loss(0.3 - 1e-6, -1)) / 2e-6, rel=1e-4), head


class FixedWeights(Session):
    """The real engine and backend; the test picks only the starting weights (and, for torch, the path)."""

    autograd = False

    def prepare(self) -> RunStarted:
        started = super().prepare()
        kernel = np.array([[W0[0]], [W0[1]]], np.float32)
        bias = np.array([B0], np.float32)
        if self.backend.name == "tensorflow":
            dense = self.backend.model.layers[-1]
            dense.kernel.assign(kernel)
            dense.bias.assign(bias)
        else:
            import torch

            assert self.backend._fast is not None  # a dense net takes the fast path ...
            if self.autograd:  # ... unless the test asks for the autograd one (with torch.optim, as conv nets get)
                from tui_trainer.backends.torch_backend import _optimizer

                self.backend._fast = None
                train = self.config.train
                self.backend.optimizer = _optimizer(train.optimizer, self.backend.model.parameters(), train.learning_rate)
            linear = [m for m in self.backend.model.modules() if isinstance(m, torch.nn.Linear)][-1]
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
                linear.bias.copy_(torch.from_numpy(bias))
        return started


class Autograd(FixedWeights):
    autograd = True


PATHS = [
    pytest.param("tensorflow", FixedWeights, id="tensorflow"),
    pytest.param("torch", FixedWeights, id="torch-fast", marks=pytest.mark.mutation),
    pytest.param("torch", Autograd, id="torch-autograd", marks=pytest.mark.mutation),
]
CASES = [("tanh", "mse"), ("sigmoid", "binary_crossentropy"), ("linear", "binary_crossentropy"),
         ("sigmoid", "mse"), ("linear", "mse")]


def run(session_cls, backend: str, head: tuple[str, str], lr: float, epochs: int, regression: bool = False):
    output, loss = head
    cfg = from_dict({
        "data": {"dataset": "reg-plane" if regression else "circle"},
        "model": {"hidden": [], "output_activation": output},
        "train": {"backend": backend, "optimizer": "sgd", "learning_rate": lr, "loss": loss,
                  "batch_size": len(X_TRAIN), "epochs": epochs},
    })
    y_train, y_val = (R_TRAIN, R_VAL) if regression else (Y_TRAIN, Y_VAL)
    ds = Dataset(name="hand", task="regression" if regression else "binary",
                 x_train=np.array(X_TRAIN, np.float32), y_train=np.array(y_train, np.float32).reshape(-1, 1),
                 x_val=np.array(X_VAL, np.float32), y_val=np.array(y_val, np.float32).reshape(-1, 1),
                 feature_names=("x1", "x2"))
    events: list = []
    result = session_cls(cfg, ds, threads=1).run(events.append)
    assert result.failed is None, result.failed
    return [e for e in events if isinstance(e, EpochEnded)]


@pytest.mark.parametrize("head", CASES, ids=["-".join(c) for c in CASES])
@pytest.mark.parametrize(("backend", "session_cls"), PATHS)
def test_metrics_at_fixed_weights(backend, session_cls, head) -> None:
    (epoch,) = run(session_cls, backend, head, lr=1e-9, epochs=1)
    assert epoch.loss == pytest.approx(hand_loss(head, W0, B0, X_TRAIN, Y_TRAIN), rel=1e-5)
    assert epoch.val_loss == pytest.approx(hand_loss(head, W0, B0, X_VAL, Y_VAL), rel=1e-5)
    assert epoch.acc == ACC_TRAIN
    assert epoch.val_acc == ACC_VAL
    assert epoch.mae is None and epoch.val_mae is None


@pytest.mark.parametrize("head", CASES, ids=["-".join(c) for c in CASES])
@pytest.mark.parametrize(("backend", "session_cls"), PATHS)
def test_metrics_after_two_sgd_steps(backend, session_cls, head) -> None:
    lr = 0.5
    w1, b1 = sgd_step(head, W0, B0, X_TRAIN, Y_TRAIN, lr)
    w2, b2 = sgd_step(head, w1, b1, X_TRAIN, Y_TRAIN, lr)
    assert all(abs(z_of(w, b, x)) > 1e-3 for w, b in ((w1, b1), (w2, b2)) for x in X_TRAIN + X_VAL)  # no sign ties
    first, second = run(session_cls, backend, head, lr=lr, epochs=2)
    # Training numbers are taken on each batch before its step; validation after the epoch.
    assert first.loss == pytest.approx(hand_loss(head, W0, B0, X_TRAIN, Y_TRAIN), rel=1e-5)
    assert first.acc == ACC_TRAIN
    assert first.val_loss == pytest.approx(hand_loss(head, w1, b1, X_VAL, Y_VAL), rel=1e-4)
    assert first.val_acc == hand_acc(w1, b1, X_VAL, Y_VAL)
    assert second.loss == pytest.approx(hand_loss(head, w1, b1, X_TRAIN, Y_TRAIN), rel=1e-4)
    assert second.acc == hand_acc(w1, b1, X_TRAIN, Y_TRAIN)
    assert second.val_loss == pytest.approx(hand_loss(head, w2, b2, X_VAL, Y_VAL), rel=1e-4)
    assert second.val_acc == hand_acc(w2, b2, X_VAL, Y_VAL)


@pytest.mark.parametrize(("backend", "session_cls"), PATHS)
def test_regression_loss_and_mae(backend, session_cls) -> None:
    head = ("linear", "mse")
    lr = 0.05
    w1, b1 = sgd_step(head, W0, B0, X_TRAIN, R_TRAIN, lr)
    first, second = run(session_cls, backend, head, lr=lr, epochs=2, regression=True)
    assert first.acc is None and first.val_acc is None
    assert first.loss == pytest.approx(hand_loss(head, W0, B0, X_TRAIN, R_TRAIN), rel=1e-5)
    assert first.mae == pytest.approx(hand_mae(W0, B0, X_TRAIN, R_TRAIN), rel=1e-5)
    assert first.val_loss == pytest.approx(hand_loss(head, w1, b1, X_VAL, R_VAL), rel=1e-4)
    assert first.val_mae == pytest.approx(hand_mae(w1, b1, X_VAL, R_VAL), rel=1e-4)
    assert second.mae == pytest.approx(hand_mae(w1, b1, X_TRAIN, R_TRAIN), rel=1e-4)
