"""Events back from their JSON lines: what a viewer reads from a run's log or its control socket.

``events.to_json_dict`` writes them; ``from_json_dict`` is its inverse, so a
face fed from another process (or from a finished run's ``history.jsonl``)
gets the same typed events as one fed by the engine in-process.  Unknown kinds
give None and unknown keys are ignored, so newer logs stay readable.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
    EpochEnded,
    Event,
    LayerSummary,
    ModelSummary,
    RunFailed,
    RunFinished,
    RunStarted,
)

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np


def _num(value: Any) -> float:
    """JSON null stands for NaN/inf (the engine's diverged values)."""
    return float("nan") if value is None else float(value)


def _init_fields(cls: type) -> set[str]:
    return {f.name for f in fields(cls) if f.init}


def _pick(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = _init_fields(cls)
    return {k: v for k, v in data.items() if k in names}


def _array(rows: Any) -> np.ndarray:
    """Nested lists with null for NaN (the JSON form of a grid or weights) as a float32 array."""
    import numpy as np

    return np.array(_nan(rows), dtype=np.float32)


def _nan(value: Any) -> Any:
    import numpy as np

    if value is None:
        return np.nan
    if isinstance(value, list):
        return [_nan(v) for v in value]
    return value


def _event_class(name: str) -> Any:
    from tui_trainer.core import events

    return getattr(events, name, None)


def _network(data: dict[str, Any]) -> Event | None:
    network_class, layer_class = _event_class("NetworkUpdated"), _event_class("NeuronLayer")
    if network_class is None or layer_class is None:
        return None
    layers = tuple(
        layer_class(name=x["name"], kind=x.get("type", x.get("kind", "")), activation=x.get("activation", ""),
                    labels=tuple(x.get("labels", ())),
                    **{key: None if x.get(key) is None else _array(x[key]) for key in ("grids", "weights", "biases")})
        for x in data["layers"])
    image_shape = data.get("image_shape")
    return network_class(epoch=int(data["epoch"]), layers=layers,
                         extent=tuple(data.get("extent") or (-6.0, 6.0, -6.0, 6.0)),
                         image_shape=None if image_shape is None else tuple(image_shape))


def epoch_from(data: dict[str, Any]) -> EpochEnded:
    d = _pick(EpochEnded, data)
    d["loss"] = _num(d.get("loss"))
    d["val_loss"] = _num(d.get("val_loss"))
    return EpochEnded(**d)


def from_json_dict(data: dict[str, Any]) -> Event | None:
    import numpy as np

    kind = data.get("kind")
    if kind == "epoch_ended":
        return epoch_from(data)
    if kind == "boundary_updated":
        extra = {"axes": tuple(data["axes"])} if data.get("axes") and "axes" in _init_fields(BoundaryUpdated) else {}
        return BoundaryUpdated(epoch=int(data["epoch"]), values=_array(data["values"]),
                               extent=tuple(data.get("extent") or (-6.0, 6.0, -6.0, 6.0)), **extra)
    if kind == "network_updated":
        return _network(data)
    if kind == "progress":
        progress_class = _event_class("EpochProgress")
        return None if progress_class is None else progress_class(**_pick(progress_class, data))
    if kind == "run_started":
        from tui_trainer.core.config import from_dict

        s = data["summary"]
        summary = ModelSummary(
            backend=s["backend"], device=s["device"], params=int(s["params"]),
            input_shape=tuple(s["input_shape"]),
            layers=tuple(LayerSummary(name=x["name"], kind=x["kind"], output_shape=tuple(x["output_shape"]),
                                      params=int(x["params"])) for x in s["layers"]),
        )
        return RunStarted(config=from_dict(data["config"]), summary=summary, task=data["task"],
                          n_train=int(data["n_train"]), n_val=int(data["n_val"]),
                          class_names=tuple(data.get("class_names", ())), notes=tuple(data.get("notes", ())))
    if kind == "class_report":
        return ClassReport(class_names=tuple(data["class_names"]), confusion=np.array(data["confusion"]))
    if kind == "run_finished":
        d = _pick(RunFinished, data)
        d["best_val_loss"] = _num(d.get("best_val_loss"))
        d["final"] = epoch_from(d["final"]) if d.get("final") else None
        return RunFinished(**d)
    if kind == "run_failed":
        return RunFailed(message=str(data.get("message", "")))
    return None


def parse_line(line: str | bytes) -> Event | None:
    """One log line as an event; None for a line that is not one (blank, foreign, unknown kind)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return from_json_dict(data)
    except (KeyError, TypeError, ValueError):
        return None
