"""The typed events of a training run: the one stream every face consumes.

Events hold plain floats, tuples and small numpy arrays, never framework
objects, so they can cross threads, be printed, or be written as JSON lines.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
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
    config: Any  # tui_trainer.core.config.Config (kept Any to avoid an import cycle in type checkers)
    summary: ModelSummary
    task: str
    n_train: int
    n_val: int
    class_names: tuple[str, ...] = ()
    #: Things the user should know about the data, e.g. how string labels were mapped.
    notes: tuple[str, ...] = ()
    kind: str = field(default="run_started", init=False)
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


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
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)

    def line(self) -> str:
        r"""The line textbook users know, with the epoch's time at the end as Keras gives it:
        ``[Epoch   1/100] loss: 0.99291, acc: 0.52800 val_loss: 0.91551, val_acc: 0.59200 (2 ms)``.

        The time is ``(N ms)`` under a second (``(0.N ms)`` under one) and ``(N.NN s)``
        from a second up, so ``\((\d+(?:\.\d+)?) (ms|s)\)$`` reads it back.
        """
        width = len(str(self.epochs))
        head = f"[Epoch {self.epoch:>{max(width, 3)}}/{self.epochs}]"
        if self.acc is not None:
            body = (f"loss: {self.loss:.5f}, acc: {self.acc:.5f} "
                    f"val_loss: {self.val_loss:.5f}, val_acc: {_fmt(self.val_acc)}")
        else:
            body = (f"loss: {self.loss:.5f}, mae: {_fmt(self.mae)} "
                    f"val_loss: {self.val_loss:.5f}, val_mae: {_fmt(self.val_mae)}")
        return f"{head} {body} ({epoch_time(self.seconds)})"


def epoch_time(seconds: float) -> str:
    """``0.4 ms``, ``2 ms``, ``154 ms``, ``1.23 s``: an epoch's time as the epoch line shows it."""
    if not math.isfinite(seconds) or seconds < 0:
        return "? s"
    if seconds < 0.00095:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


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
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


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
    """What every neuron computes, with the weights between them (see ``tui_trainer.engine.network``).

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
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


@dataclass(frozen=True)
class ClassReport:
    """Per-class accuracy and confusion matrix on the validation set (multiclass)."""

    class_names: tuple[str, ...]
    confusion: np.ndarray  # rows: true class, columns: predicted class
    kind: str = field(default="class_report", init=False)
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)

    @property
    def per_class_accuracy(self) -> tuple[float | None, ...]:
        totals = self.confusion.sum(axis=1)
        return tuple(
            (float(self.confusion[i, i] / t) if t else None) for i, t in enumerate(totals)
        )


@dataclass(frozen=True)
class EpochProgress:
    """How far the current epoch has got: sent only while an epoch runs longer than about a second.

    At most every ``epoch_progress.EVERY`` seconds, from inside the backend's batch
    loop, so a long epoch (MNIST, a CNN on a CPU) shows movement before its line.
    ``run_eta`` counts the epochs still to come at the pace of those done so far.
    """

    epoch: int
    epochs: int
    batches_done: int
    batches: int
    samples_done: int
    samples: int
    samples_per_s: float
    epoch_eta: float  # seconds left in this epoch's training pass
    run_eta: float  # seconds left in the whole run
    kind: str = field(default="progress", init=False)
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


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
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


@dataclass(frozen=True)
class RunFailed:
    message: str
    kind: str = field(default="run_failed", init=False)
    #: When the event happened (seconds since the epoch); JSON shows it as ISO 8601 local time.
    time: float = field(default_factory=time.time, init=False, compare=False, repr=False)


Event = (RunStarted | EpochEnded | EpochProgress | BoundaryUpdated | NetworkUpdated | ClassReport | RunFinished
         | RunFailed)

FINISH_REASONS = ("completed", "early-stopped", "diverged", "stopped")


#: Significant digits kept for a float in JSON: float32 training gives about seven, and
#: ``1.0933779296875`` pretends to thirteen.
JSON_DIGITS = 6
#: Keys whose floats are times in seconds: kept to a tenth of a millisecond.
SECONDS_KEYS = {"seconds"}


def _round(value: float, key: str | None) -> float | None:
    if not math.isfinite(value):
        return None
    if key in SECONDS_KEYS:
        return round(value, 4)
    return float(f"{value:.{JSON_DIGITS}g}")


def _jsonable(value: Any, key: str | None = None) -> Any:
    import numpy as np

    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return _round(value, key)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), key)
    if isinstance(value, np.generic):
        return _jsonable(value.item(), key)
    if isinstance(value, dict):
        return {k: _jsonable(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, key) for v in value]
    return value


#: (whole second, its "YYYY-MM-DDTHH:MM:SS", its UTC offset "+00:00") of the last timestamp made.
_second: tuple[float, str, str] = (math.nan, "", "")


def timestamp(seconds: float) -> str:
    """ISO 8601 local time with milliseconds and the UTC offset: ``2026-11-24T10:31:07.123+00:00``.

    What ``datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")``
    gives, character for character (tested), with the date, time of day and offset made once a
    second: every epoch's line has a time, and on millisecond epochs the local-time conversion
    was a third of what the loop adds to an epoch.
    """
    global _second
    whole = math.floor(seconds)
    # datetime rounds the fraction (exact here) to microseconds, half to even, as round() does.
    micros = round((seconds - whole) * 1e6)
    if seconds < 0 or micros >= 1_000_000:  # before 1970, or a carry into the next second: rare
        return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")
    cached = _second
    if cached[0] != whole:
        text = datetime.fromtimestamp(whole).astimezone().isoformat(timespec="milliseconds")
        cached = _second = (whole, text[:19], text[23:])
    return f"{cached[1]}.{micros // 1000:03d}{cached[2]}"


#: EpochEnded's fields as its JSON lists them (after ``kind`` and ``time``).
_EPOCH_KEYS = tuple(f.name for f in fields(EpochEnded) if f.name not in ("kind", "time"))


def _epoch_value(value: Any, key: str) -> str | None:
    """One EpochEnded field as JSON text, as ``json.dumps`` writes it after ``to_json_dict``; None: not a plain number."""
    kind = type(value)
    if kind is float:
        rounded = _round(value, key)
        return "null" if rounded is None else float.__repr__(rounded)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    return None


def event_json(event: Event) -> str:
    """``json.dumps(to_json_dict(event), allow_nan=False)``, character for character (tested).

    Every epoch of every run is written as a line of the event log and sent to the viewers;
    on millisecond epochs building a dict and handing it to ``json`` cost a tenth of the epoch
    (its code runs cold between two epochs of framework calls), so an epoch of plain numbers is
    written straight from its fields.
    """
    if type(event) is EpochEnded:
        parts = [f'{{"kind": "epoch_ended", "time": "{timestamp(event.time)}"']
        for key in _EPOCH_KEYS:
            text = _epoch_value(getattr(event, key), key)
            if text is None:  # a NumPy number, say: the general encoding
                break
            parts.append(f'"{key}": {text}')
        else:
            return ", ".join(parts) + "}"
    return json.dumps(to_json_dict(event), allow_nan=False)


def to_json_dict(event: Event) -> dict[str, Any]:
    """Plain JSON-ready data: NaN/inf become null, arrays become lists, floats are rounded
    (``JSON_DIGITS`` significant digits; seconds to 0.1 ms) and every event has its ``time``."""
    import numpy as np

    # An event type without its own time (one added later) is stamped as it is written.
    head: dict[str, Any] = {"kind": event.kind, "time": timestamp(getattr(event, "time", None) or time.time())}
    if isinstance(event, EpochEnded):
        # Every epoch of every run is written this way: field by field, the same dict that
        # ``asdict`` + ``_jsonable`` give, at a fifth of the cost (no deep copy, no recursion).
        for key in _EPOCH_KEYS:
            value = getattr(event, key)
            head[key] = _round(value, key) if type(value) is float else _jsonable(value, key)
        return head
    if isinstance(event, RunStarted):
        data = {
            **head,
            "config": event.config.to_dict(),
            "summary": asdict(event.summary),
            "task": event.task,
            "n_train": event.n_train,
            "n_val": event.n_val,
            "class_names": list(event.class_names),
            "notes": list(event.notes),
        }
    elif isinstance(event, BoundaryUpdated):
        data = {**head, "epoch": event.epoch, "extent": list(event.extent), "axes": list(event.axes),
                "values": np.round(event.values.astype(float), 4)}
    elif isinstance(event, NetworkUpdated):
        data = {**head, "epoch": event.epoch, "extent": list(event.extent),
                "image_shape": None if event.image_shape is None else list(event.image_shape),
                "layers": [{"name": layer.name, "type": layer.kind, "activation": layer.activation,
                            "labels": list(layer.labels),
                            **{key: None if value is None else np.round(value.astype(float), 4)
                               for key, value in (("grids", layer.grids), ("weights", layer.weights),
                                                  ("biases", layer.biases))}}
                           for layer in event.layers]}
    elif isinstance(event, ClassReport):
        data = {**head, "class_names": list(event.class_names), "confusion": event.confusion,
                "per_class_accuracy": list(event.per_class_accuracy)}
    else:
        data = asdict(event)
        data.pop("kind")
        data.pop("time", None)
        if isinstance(event, RunFinished) and data.get("final") is not None:
            # The final epoch's numbers; it is not an event of its own here.
            data["final"] = {k: v for k, v in data["final"].items() if k not in ("kind", "time")}
        data = {**head, **data}
    return _jsonable(data)
