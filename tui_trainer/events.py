"""The typed events of a training run: the one stream every face consumes.

Events hold plain floats, tuples and small numpy arrays, never framework
objects, so they can cross threads, be printed, or be written as JSON lines.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LayerSummary:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


@dataclass(frozen=True)
class ModelSummary:
    backend: str
    device: str
    layers: tuple[LayerSummary, ...]
    params: int
    input_shape: tuple[int, ...]

    def lines(self) -> list[str]:
        rows = [f"{'layer':<22}{'output shape':<18}{'params':>10}"]
        for layer in self.layers:
            shape = "(None, " + ", ".join(str(s) for s in layer.output_shape) + ")"
            rows.append(f"{layer.name:<22}{shape:<18}{layer.params:>10,}")
        rows.append(f"total params: {self.params:,}  backend: {self.backend}  device: {self.device}")
        return rows


@dataclass(frozen=True)
class RunStarted:
    config: Any  # tui_trainer.config.Config (kept Any to avoid an import cycle in type checkers)
    summary: ModelSummary
    task: str
    n_train: int
    n_val: int
    class_names: tuple[str, ...] = ()
    #: Things the user should know about the data, e.g. how string labels were mapped.
    notes: tuple[str, ...] = ()
    kind: str = field(default="run_started", init=False)


@dataclass(frozen=True)
class EpochEnded:
    """Per-sample averages over one epoch.

    ``acc``/``val_acc`` are None for regression, where ``mae``/``val_mae`` are set.
    """

    epoch: int
    epochs: int
    loss: float
    acc: float | None
    val_loss: float
    val_acc: float | None
    seconds: float
    mae: float | None = None
    val_mae: float | None = None
    kind: str = field(default="epoch_ended", init=False)

    def line(self) -> str:
        """The line textbook users know: ``[Epoch   1/100] loss: ..., acc: ...``."""
        width = len(str(self.epochs))
        head = f"[Epoch {self.epoch:>{max(width, 3)}}/{self.epochs}]"
        if self.acc is not None:
            return (
                f"{head} loss: {self.loss:.5f}, acc: {self.acc:.5f} "
                f"val_loss: {self.val_loss:.5f}, val_acc: {_fmt(self.val_acc)}"
            )
        return (
            f"{head} loss: {self.loss:.5f}, mae: {_fmt(self.mae)} "
            f"val_loss: {self.val_loss:.5f}, val_mae: {_fmt(self.val_mae)}"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.5f}"


@dataclass(frozen=True)
class BoundaryUpdated:
    """The model's output over ``extent`` (x_lo, x_hi, y_lo, y_hi), row 0 at the top (largest y).

    The extent is the playground's [-6, 6]² or a data file's own range with a
    margin; ``axes`` names what runs across and up (x1, x2 or the file's columns).
    ``values`` are decision values in [-1, 1] (sign = class) for classification,
    raw predictions for regression.
    """

    epoch: int
    values: np.ndarray
    extent: tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0)
    axes: tuple[str, str] = ("x1", "x2")
    kind: str = field(default="boundary_updated", init=False)


@dataclass(frozen=True, eq=False)  # compared by identity: its fields are arrays
class NeuronLayer:
    """One column of the network view: the feature inputs, or a dense/conv layer.

    ``grids`` (units, rows, cols) hold each neuron's output over the input
    plane (row 0 at the top, x2 = +6), for 2-D data only; ``weights`` are the
    incoming kernel in Keras layout ((inputs, units) for dense, (k, k, in,
    filters) for conv) and ``biases`` one per unit, None for the inputs.
    """

    name: str  # "inputs", "dense", "dense_1", "conv2d", ...
    kind: str  # inputs, dense, conv2d
    activation: str  # "" for the inputs
    labels: tuple[str, ...]
    grids: np.ndarray | None = None
    weights: np.ndarray | None = None
    biases: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class NetworkUpdated:
    """What every neuron computes, with the weights between them (see ``tui_trainer.network``).

    Sent with each ``BoundaryUpdated`` when the face asked for it
    (``RunControl.network_shape``); all grids come from one forward pass.
    For image data there are no grids: ``layers`` carry conv kernels and the
    first dense layer's weights of a few neurons, to draw as small images.
    """

    epoch: int
    layers: tuple[NeuronLayer, ...]
    extent: tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0)
    #: (h, w, c) when the inputs are images; the first dense layer's weights then reshape to it.
    image_shape: tuple[int, ...] | None = None
    kind: str = field(default="network_updated", init=False)


@dataclass(frozen=True)
class ClassReport:
    """Per-class accuracy and confusion matrix on the validation set (multiclass)."""

    class_names: tuple[str, ...]
    confusion: np.ndarray  # rows: true class, columns: predicted class
    kind: str = field(default="class_report", init=False)

    @property
    def per_class_accuracy(self) -> tuple[float | None, ...]:
        totals = self.confusion.sum(axis=1)
        return tuple(
            (float(self.confusion[i, i] / t) if t else None) for i, t in enumerate(totals)
        )


@dataclass(frozen=True)
class RunFinished:
    reason: str  # completed, early-stopped, diverged, stopped
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    best_val_acc: float | None
    final: EpochEnded | None
    seconds: float
    kind: str = field(default="run_finished", init=False)


@dataclass(frozen=True)
class RunFailed:
    message: str
    kind: str = field(default="run_failed", init=False)


Event = RunStarted | EpochEnded | BoundaryUpdated | NetworkUpdated | ClassReport | RunFinished | RunFailed

FINISH_REASONS = ("completed", "early-stopped", "diverged", "stopped")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json_dict(event: Event) -> dict[str, Any]:
    """Plain JSON-ready data: NaN/inf become null, arrays become lists."""
    if isinstance(event, RunStarted):
        data = {
            "kind": event.kind,
            "config": event.config.to_dict(),
            "summary": asdict(event.summary),
            "task": event.task,
            "n_train": event.n_train,
            "n_val": event.n_val,
            "class_names": list(event.class_names),
            "notes": list(event.notes),
        }
    elif isinstance(event, BoundaryUpdated):
        data = {"kind": event.kind, "epoch": event.epoch, "extent": list(event.extent), "axes": list(event.axes),
                "values": np.round(event.values.astype(float), 4)}
    elif isinstance(event, NetworkUpdated):
        data = {"kind": event.kind, "epoch": event.epoch, "extent": list(event.extent),
                "image_shape": None if event.image_shape is None else list(event.image_shape),
                "layers": [{"name": layer.name, "type": layer.kind, "activation": layer.activation,
                            "labels": list(layer.labels),
                            **{key: None if value is None else np.round(value.astype(float), 4)
                               for key, value in (("grids", layer.grids), ("weights", layer.weights),
                                                  ("biases", layer.biases))}}
                           for layer in event.layers]}
    elif isinstance(event, ClassReport):
        data = {"kind": event.kind, "class_names": list(event.class_names), "confusion": event.confusion,
                "per_class_accuracy": list(event.per_class_accuracy)}
    else:
        data = asdict(event)
        data = {"kind": data.pop("kind"), **data}
    return _jsonable(data)
