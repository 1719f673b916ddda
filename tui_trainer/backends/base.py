"""The protocol every backend implements, and the pieces they share.

Kept tiny on purpose: build from layer specs, take the data once, train one
epoch given a sample order, evaluate, predict, save.  The engine owns the loop,
the events and the control; a backend owns only the framework.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tui_trainer.core.events import LayerSummary, ModelSummary
from tui_trainer.core.layers import LayerSpec

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Samples per compiled chunk of batches: stop requests are seen at least this often.
CHUNK_SAMPLES = 4096
#: Longest a compiled chunk should take: slower chunks are cut smaller (stop and progress latency).
CHUNK_SECONDS = 0.25


@dataclass(frozen=True)
class Head:
    """What the output layer means: the loss to use and how to score a sample.

    ``metric`` is "sign" (±1 labels vs. a decision value centred at ``threshold``),
    "argmax" (class index) or "mae" (regression).
    """

    task: str
    loss: str  # mse, binary_crossentropy, categorical_crossentropy
    output_activation: str
    n_outputs: int

    @property
    def from_logits(self) -> bool:
        return self.output_activation == "linear" and self.loss != "mse"

    @property
    def metric(self) -> str:
        if self.task == "regression":
            return "mae"
        if self.task == "multiclass":
            return "argmax"
        return "sign"

    @property
    def threshold(self) -> float:
        return 0.5 if self.output_activation == "sigmoid" else 0.0


@dataclass(frozen=True)
class EpochStats:
    loss: float  # per-sample average of the data loss (no weight penalty)
    metric: float  # per-sample average: accuracy, or MAE for regression
    samples: int
    stopped: bool = False  # a stop request cut the epoch short


@dataclass(frozen=True)
class BuildOptions:
    optimizer: str
    learning_rate: float
    regularization: str
    reg_rate: float
    device: str  # auto, cpu, cuda
    seed: int
    threads: int | None = None


class Backend(Protocol):
    name: str

    def build(self, specs: list[LayerSpec], head: Head, input_shape: tuple[int, ...], opts: BuildOptions) -> ModelSummary:
        """Create model and optimizer; returns the summary counted by the framework itself."""

    def set_data(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        """Place the arrays on the device once, so epochs don't copy them again."""

    def train_epoch(self, order: np.ndarray, batch_size: int, should_stop: Callable[[], bool],
                    progress: Callable[[int], None] | None = None) -> EpochStats:
        """One pass over the training data in the given sample order.

        ``progress(samples_done)`` is called as batches finish (each batch, or each compiled
        chunk); it must stay cheap, and the engine's reporter is.
        """

    def evaluate(self) -> tuple[float, np.ndarray]:
        """Validation data loss and the raw outputs, shape (n, n_outputs)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (n, n_outputs) for arbitrary inputs, in inference mode."""

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for inputs ``x`` in one forward pass in inference mode.

        One array per layer spec, in order (dropout passes its input on; conv
        outputs are channels-last), so a face can draw what each neuron computes.
        """

    def weights(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per layer spec: (kernel, bias) in Keras layout, or None for layers without parameters.

        Dense kernels are (inputs, units); conv kernels (k, k, in_channels, filters).
        """

    def save(self, path: Path) -> Path:
        """Save weights next to ``path`` with the framework's own suffix; returns the file."""


def default_threads() -> int:
    env = os.environ.get("TUI_TRAINER_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def layer_names(specs: list[LayerSpec]) -> list[str]:
    """Keras-style names (dense, dense_1, ...) so both backends print the same summary."""
    seen: dict[str, int] = {}
    names = []
    for spec in specs:
        n = seen.get(spec.kind, 0)
        seen[spec.kind] = n + 1
        names.append(spec.kind if n == 0 else f"{spec.kind}_{n}")
    return names


def summary_from_specs(specs: list[LayerSpec], backend: str, device: str, params: int, input_shape: tuple[int, ...]) -> ModelSummary:
    layers = tuple(
        LayerSummary(name=name, kind=spec.kind, output_shape=spec.out_shape, params=spec.params)
        for name, spec in zip(layer_names(specs), specs, strict=True)
    )
    return ModelSummary(backend=backend, device=device, layers=layers, params=params, input_shape=tuple(input_shape))


def binary_targets(y: np.ndarray, head: Head) -> np.ndarray:
    """Targets in the loss's own terms: ±1 for MSE, 0/1 for binary cross-entropy."""
    import numpy as np

    if head.task == "binary" and head.loss == "binary_crossentropy":
        return ((np.asarray(y) + 1.0) / 2.0).astype(np.float32)
    return np.asarray(y)
