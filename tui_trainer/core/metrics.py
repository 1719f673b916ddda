"""Metric arithmetic in numpy, shared by backends, faces and tests.

Decision values put every binary head on one scale, [-1, 1] with the sign as
the class, so accuracy and the boundary map don't care whether the output is
tanh, a sigmoid probability or a logit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np



def decision_values(raw: np.ndarray, output_activation: str, task: str) -> np.ndarray:
    """Map raw model outputs (n, 1) to (n,) values: sign = class for binary tasks."""
    import numpy as np

    raw = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)[:, 0]
    if task == "regression":
        return raw
    if output_activation == "sigmoid":
        return 2.0 * raw - 1.0
    if output_activation == "linear":
        return np.tanh(raw)  # logits or unbounded scores, squashed but sign-preserving
    return raw


def binary_accuracy(decision: np.ndarray, labels: np.ndarray) -> float:
    """sign(output) == label for ±1 labels (0 counts as +1, as the playground does)."""
    import numpy as np

    pred = np.where(np.asarray(decision).reshape(-1) >= 0, 1.0, -1.0)
    return float(np.mean(pred == np.asarray(labels).reshape(-1)))


def multiclass_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    import numpy as np

    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(labels).reshape(-1)))


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    import numpy as np

    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    import numpy as np

    return float(np.mean(np.abs(np.asarray(pred).reshape(-1) - np.asarray(target).reshape(-1))))
