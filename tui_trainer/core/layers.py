"""The network as a list of framework-neutral layer specs.

Both backends build from this list, so "same config, same network" holds by
construction, and shapes and parameter counts can be checked without either
framework installed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tui_trainer.core.config import Config, resolve_output_activation
from tui_trainer.core.errors import ConfigError


@dataclass(frozen=True)
class LayerSpec:
    kind: str  # dense, dropout, flatten, conv2d, maxpool2d
    units: int = 0
    activation: str = "linear"
    rate: float = 0.0
    filters: int = 0
    kernel: int = 3
    stride: int = 1
    padding: str = "valid"
    size: int = 2
    regularize: bool = False  # carries the weight penalty (dense and conv kernels)
    output: bool = False
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()

    @property
    def params(self) -> int:
        if self.kind == "dense":
            return self.in_shape[-1] * self.units + self.units
        if self.kind == "conv2d":
            return self.kernel * self.kernel * self.in_shape[-1] * self.filters + self.filters
        return 0


def _conv_out(n: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(n / stride)
    return (n - kernel) // stride + 1


def _shape_after(spec: LayerSpec, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    kind = spec.kind
    if kind == "dense":
        if len(shape) != 1:
            raise ConfigError(where, f"a dense layer needs flat input but gets shape {shape}; add {{type = \"flatten\"}} first")
        return (spec.units,)
    if kind == "dropout":
        return shape
    if kind == "flatten":
        return (math.prod(shape),)
    if len(shape) != 3:
        raise ConfigError(where, f"a {kind} layer needs image input (height, width, channels) but gets shape {shape}")
    h, w, c = shape
    if kind == "conv2d":
        oh = _conv_out(h, spec.kernel, spec.stride, spec.padding)
        ow = _conv_out(w, spec.kernel, spec.stride, spec.padding)
        if oh < 1 or ow < 1:
            raise ConfigError(where, f"kernel {spec.kernel} is larger than its input {h}x{w}; use a smaller kernel or padding = \"same\"")
        return (oh, ow, spec.filters)
    # maxpool2d
    oh, ow = h // spec.size, w // spec.size
    if oh < 1 or ow < 1:
        raise ConfigError(where, f"pool size {spec.size} is larger than its input {h}x{w}")
    return (oh, ow, c)


def build_specs(cfg: Config, input_shape: tuple[int, ...], n_outputs: int, task: str) -> list[LayerSpec]:
    """Resolve the config into concrete layers with shapes; the output layer is added last."""
    reg = cfg.model.regularization != "none" and cfg.model.reg_rate > 0
    # Each layer with the config field it came from, so an error names the user's own
    # index even after a Flatten has been put in front of it.
    raw: list[tuple[LayerSpec, str]] = []
    if cfg.model.layers:
        for i, layer in enumerate(cfg.model.layers):
            raw.append((
                LayerSpec(kind=layer.type, **layer.options(), regularize=reg and layer.type in ("dense", "conv2d")),
                f"model.layers[{i}]",
            ))
    else:
        if len(input_shape) > 1:
            raw.append((LayerSpec(kind="flatten"), "model"))
        for units, act, drop in zip(cfg.model.hidden, cfg.model.activation, cfg.model.dropout, strict=True):
            raw.append((LayerSpec(kind="dense", units=units, activation=act, regularize=reg), "model.hidden"))
            if drop > 0:
                raw.append((LayerSpec(kind="dropout", rate=drop), "model.dropout"))
    shape = tuple(input_shape)
    if len(shape) > 1 and raw and raw[0][0].kind == "dense":
        # A dense stack on image input: flatten first, as Keras users expect.
        raw.insert(0, (LayerSpec(kind="flatten"), "model"))
    if len(shape) > 1 and len(_probe(raw, shape)) > 1:
        raw.append((LayerSpec(kind="flatten"), "model"))  # conv features into the output layer
    out_act = resolve_output_activation(cfg, task)
    raw.append((LayerSpec(kind="dense", units=n_outputs, activation=out_act, regularize=reg, output=True), "model"))
    specs: list[LayerSpec] = []
    for spec, where in raw:
        out = _shape_after(spec, shape, where)
        specs.append(LayerSpec(**{**spec.__dict__, "in_shape": shape, "out_shape": out}))
        shape = out
    check_size(specs)
    return specs


def _probe(specs: list[tuple[LayerSpec, str]], shape: tuple[int, ...]) -> tuple[int, ...]:
    for spec, where in specs:
        shape = _shape_after(spec, shape, where)
    return shape


#: Largest model built: 50 million parameters are 200 MB of float32 weights, and about four
#: times that with gradients and Adam's two moment buffers.  (The textbook CNN has 1.2 million.)
MAX_PARAMS = 50_000_000


def check_size(specs: list[LayerSpec], limit: int = MAX_PARAMS) -> None:
    """Refuse, before any framework builds it, a network that would need gigabytes."""
    total = count_params(specs)
    if total > limit:
        biggest = max(range(len(specs)), key=lambda i: specs[i].params)
        gb = total * 4 * 4 / 1e9  # float32 weights, gradients and two optimizer moments
        raise ConfigError(
            "model",
            f"{total:,} parameters (about {gb:,.1f} GB to train; layer {biggest + 1}, a {specs[biggest].kind} "
            f"{specs[biggest].in_shape} -> {specs[biggest].out_shape}, has {specs[biggest].params:,}); "
            f"at most {limit:,} are allowed: use fewer units, or a pooling layer before flattening",
        )


def count_params(specs: list[LayerSpec]) -> int:
    return sum(s.params for s in specs)
