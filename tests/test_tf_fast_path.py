"""The TensorFlow dense fast path trains exactly like Keras layers under a ``GradientTape``.

Each case builds the same net twice with the same seed: once as the backend builds it
(closed-form gradients, ``tf_dense``) and once forced onto the tape path that conv nets
use, then trains both for a few epochs on the same data and order.  The epochs' loss and
metric, the validation numbers and the final weights must agree, for every activation,
loss, penalty and optimizer kind (plain SGD's fused update and an optimizer's gradients).
"""

from __future__ import annotations

import numpy as np
import pytest

from tui_trainer.backends import Head
from tui_trainer.backends.base import BuildOptions
from tui_trainer.core.layers import LayerSpec

pytestmark = pytest.mark.framework

CASES = [
    ("mse", ["tanh", "tanh", "tanh"], "binary", 1, "none"),
    ("mse", ["relu", "sigmoid", "linear"], "regression", 1, "l2"),
    ("mse", ["tanh", "linear"], "regression", 2, "l1"),
    ("binary_crossentropy", ["tanh", "sigmoid"], "binary", 1, "l1"),
    ("binary_crossentropy", ["relu", "linear"], "binary", 1, "none"),
    ("categorical_crossentropy", ["relu", "softmax"], "multiclass", 4, "l2"),
    ("categorical_crossentropy", ["tanh", "linear"], "multiclass", 4, "none"),
]


def specs_for(acts: list[str], k: int, n_in: int = 3) -> list[LayerSpec]:
    sizes = [n_in] + [5] * (len(acts) - 1) + [k]
    return [LayerSpec(kind="dense", units=out, activation=act, regularize=True, output=i == len(acts) - 1,
                      in_shape=(inp,), out_shape=(out,))
            for i, (inp, out, act) in enumerate(zip(sizes[:-1], sizes[1:], acts, strict=True))]


def data_for(task: str, k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    if task == "multiclass":
        y = rng.integers(0, k, n).astype(np.float32)
    elif task == "binary":
        y = np.where(x[:, :1] * x[:, 1:2] > 0, 1.0, -1.0).astype(np.float32)
    else:
        y = (x[:, :k] * 0.5 + 0.1).astype(np.float32)
    return x, y


def trained(fast: bool, specs, head, optimizer: str, reg: str, epochs: int = 3):
    from tui_trainer.backends.tensorflow_backend import TensorFlowBackend

    backend = TensorFlowBackend()
    backend.build(specs, head, (3,), BuildOptions(optimizer=optimizer, learning_rate=0.05, regularization=reg,
                                                  reg_rate=0.01 if reg != "none" else 0.0, device="cpu", seed=3,
                                                  threads=1))
    assert backend._dense is not None  # dense-only nets take the fast path by default
    if not fast:
        backend._dense = None  # the Keras layers and the tape, as conv nets use
        backend._build_functions()
    x, y = data_for(head.task, head.n_outputs, 40, 0)
    xv, yv = data_for(head.task, head.n_outputs, 16, 1)
    backend.set_data(x, y, xv, yv)
    order_rng = np.random.default_rng(7)
    history = []
    val_out = None
    for _ in range(epochs):
        stats = backend.train_epoch(order_rng.permutation(40), 7, lambda: False)
        val_loss, val_out = backend.evaluate()
        history.append((stats.loss, stats.metric, val_loss))
    return np.array(history), backend.weights(), val_out


@pytest.mark.parametrize(("loss", "acts", "task", "k", "reg"), CASES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_fast_path_trains_like_the_tape(loss, acts, task, k, reg, optimizer):
    head = Head(task, loss, acts[-1], k)
    specs = specs_for(acts, k)
    fast_hist, fast_weights, fast_val = trained(True, specs, head, optimizer, reg)
    tape_hist, tape_weights, tape_val = trained(False, specs, head, optimizer, reg)
    np.testing.assert_allclose(fast_hist, tape_hist, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(fast_val, tape_val, rtol=2e-5, atol=1e-6)
    for (fk, fb), (tk, tb) in zip(fast_weights, tape_weights, strict=True):
        np.testing.assert_allclose(fk, tk, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(fb, tb, rtol=2e-5, atol=1e-6)
    first = trained(True, specs, head, optimizer, reg, epochs=0)[1]
    moved = any(not np.allclose(a[0], b[0]) for a, b in zip(first, fast_weights, strict=True))
    assert moved  # three epochs changed the kernels: the comparison above is not of two untouched nets


def test_nets_with_dropout_or_convolutions_keep_the_tape():
    from tui_trainer.backends import tf_dense

    assert tf_dense.supports(["dense", "dense"])
    assert tf_dense.supports(["flatten", "dense"])
    assert not tf_dense.supports(["dense", "dropout", "dense"])
    assert not tf_dense.supports(["conv2d", "flatten", "dense"])
    assert not tf_dense.supports([])
