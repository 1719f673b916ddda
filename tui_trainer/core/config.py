"""The one typed config that every face and backend reads.

A config is plain data: it comes from TOML presets, ``--set`` overrides and the
app's forms, and it is validated here, in one place, so that every face reports
the same clear message for the same mistake.  Defaults are the textbook
``circle`` recipe, so a partial preset reads as "the classic model, except ...".
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tui_trainer.core.errors import ConfigError, choice_error, did_you_mean

PLAYGROUND_DATASETS = ("circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss")
IMAGE_DATASETS = ("mnist", "digits")
#: Bag-of-words text: IMDB from Keras's cache file, and its offline stand-in (``tui_trainer.data.reviews``).
TEXT_DATASETS = ("imdb", "reviews")
DATASETS = PLAYGROUND_DATASETS + IMAGE_DATASETS + TEXT_DATASETS + ("file",)
REGRESSION_DATASETS = ("reg-plane", "reg-gauss")

#: Feature inputs of the playground, in its order; keys are what presets write.
FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
FEATURE_LABELS = {
    "x1": "X1",
    "x2": "X2",
    "x1sq": "X1²",
    "x2sq": "X2²",
    "x1x2": "X1X2",
    "sinx1": "sin X1",
    "sinx2": "sin X2",
}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
OUTPUT_ACTIVATIONS = ("auto", "tanh", "sigmoid", "linear", "softmax")
REGULARIZATIONS = ("none", "l1", "l2")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
LOSSES = ("auto", "mse", "binary_crossentropy", "categorical_crossentropy")
BACKENDS = ("tensorflow", "torch")
DEVICES = ("auto", "cpu", "cuda")
LAYER_TYPES = ("dense", "dropout", "flatten", "conv2d", "maxpool2d")
PADDINGS = ("valid", "same")

#: What each explicit layer table may hold, with the keys it must hold.
LAYER_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dense": (("units",), ("activation",)),
    "dropout": (("rate",), ()),
    "flatten": ((), ()),
    "conv2d": (("filters",), ("kernel", "stride", "padding", "activation")),
    "maxpool2d": ((), ("size",)),
}


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    path: str = ""
    columns: tuple[str, ...] = ("x1", "x2")
    label_column: str = "label"
    limit: int = 0


@dataclass(frozen=True)
class LayerConfig:
    """One explicit layer (``[[model.layers]]``); unused keys keep their defaults."""

    type: str
    units: int = 0
    activation: str = "linear"
    rate: float = 0.0
    filters: int = 0
    kernel: int = 3
    stride: int = 1
    padding: str = "valid"
    size: int = 2

    def to_dict(self) -> dict[str, Any]:
        keys = ("type",) + LAYER_KEYS[self.type][0] + LAYER_KEYS[self.type][1]
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (3, 3)
    activation: tuple[str, ...] = ("tanh", "tanh")
    output_activation: str = "tanh"
    dropout: tuple[float, ...] = (0.0, 0.0)
    regularization: str = "none"
    reg_rate: float = 0.0
    layers: tuple[LayerConfig, ...] = ()


@dataclass(frozen=True)
class TrainConfig:
    backend: str = "tensorflow"
    device: str = "auto"
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    loss: str = "mse"
    batch_size: int = 15
    epochs: int = 100
    patience: int = 0


@dataclass(frozen=True)
class Config:
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # -- derived facts every face needs -------------------------------------------------
    @property
    def task(self) -> str:
        """binary, regression or multiclass, as far as the config alone can tell.

        Files may turn out multiclass or regression only once read (this guesses
        binary); ``data.load_dataset`` has the final word and the engine uses
        the dataset's task.
        """
        if self.data.dataset in REGRESSION_DATASETS:
            return "regression"
        if self.data.dataset in IMAGE_DATASETS:
            return "multiclass"
        return "binary"

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-ready data (tuples become lists; empty layer lists dropped)."""
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["data"] = _plain(asdict(self.data))
        model = _plain(asdict(self.model))
        model["layers"] = [layer.to_dict() for layer in self.model.layers]
        if not model["layers"]:
            del model["layers"]
        out["model"] = model
        out["train"] = _plain(asdict(self.train))
        return out

    def with_updates(self, updates: Mapping[str, Any]) -> Config:
        """A new validated config with dotted-key updates (``{"train.epochs": 5}``)."""
        return from_dict(merge(self.to_dict(), dotted_to_nested(updates)))


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
TOP_LEVEL_KEYS = ("description", "extends", "data", "model", "train")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- parsing helpers ------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(field_name: str, value: Any, lo: float | None = None, hi: float | None = None,
           *, lo_open: bool = False, hi_open: bool = False) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ConfigError(field_name, f"{value!r} is not a number; {_range_text(lo, hi, lo_open, hi_open)}")
    v = float(value)
    if (lo is not None and (v < lo or (lo_open and v == lo))) or (
        hi is not None and (v > hi or (hi_open and v == hi))
    ):
        raise ConfigError(field_name, f"{value!r} is out of range; {_range_text(lo, hi, lo_open, hi_open)}")
    return v


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"allowed: {lo} {'<' if lo_open else '<='} value {'<' if hi_open else '<='} {hi}"
    if lo is not None:
        return f"allowed: value {'>' if lo_open else '>='} {lo}"
    return "allowed: any number"


def _int(field_name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(field_name, f"{value!r} is not a whole number; {_int_range(lo, hi)}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(field_name, f"{value!r} is out of range; {_int_range(lo, hi)}")
    return value


def _int_range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"allowed: {lo}..{hi}"
    if lo is not None:
        return f"allowed: a whole number >= {lo}"
    return "allowed: a whole number"


def _choice(field_name: str, value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise choice_error(field_name, value, choices)


def _str(field_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(field_name, f"{value!r} is not text; write it in quotes")
    return value


def _list(field_name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise ConfigError(field_name, f"{value!r} is not a list; write it like [a, b]")


def _check_keys(section: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            name = f"{section}.{key}" if section else key
            raise ConfigError(
                name,
                f"unknown key; allowed keys{' in [' + section + ']' if section else ''}: "
                f"{', '.join(allowed)}{did_you_mean(key, allowed)}",
            )


# -- validation -----------------------------------------------------------------------------


def _data_config(d: Mapping[str, Any]) -> DataConfig:
    allowed = tuple(f.name for f in fields(DataConfig))
    _check_keys("data", d, allowed)
    base = DataConfig()
    features = tuple(_choice("data.features", v, FEATURES) for v in _list("data.features", d.get("features", base.features)))
    if not features:
        raise ConfigError("data.features", f"needs at least one input; choose from {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise ConfigError("data.features", f"{list(features)!r} lists an input twice")
    columns = tuple(_str("data.columns", v) for v in _list("data.columns", d.get("columns", base.columns)))
    if not columns:
        raise ConfigError("data.columns", "needs at least one feature column name")
    return DataConfig(
        dataset=_choice("data.dataset", d.get("dataset", base.dataset), DATASETS),
        noise=_float("data.noise", d.get("noise", base.noise), 0.0, 0.5),
        train_ratio=_float("data.train_ratio", d.get("train_ratio", base.train_ratio), 0.1, 0.9),
        seed=_int("data.seed", d.get("seed", base.seed), 0, 2**31 - 1),
        features=features,
        path=_str("data.path", d.get("path", base.path)),
        columns=columns,
        label_column=_str("data.label_column", d.get("label_column", base.label_column)),
        limit=_int("data.limit", d.get("limit", base.limit), 0),
    )


def _per_layer(name: str, value: Any, n: int, convert: Any) -> tuple[Any, ...]:
    """A scalar means "every hidden layer"; a list must give one value per layer."""
    if isinstance(value, list | tuple):
        items = [convert(name, v) for v in value]
        if len(items) != n:
            raise ConfigError(
                name, f"has {len(items)} values but model.hidden has {n} layers; give one per layer or a single value"
            )
        return tuple(items)
    return tuple(convert(name, value) for _ in range(n))


def _layer_config(index: int, d: Any) -> LayerConfig:
    name = f"model.layers[{index}]"
    if not isinstance(d, Mapping):
        raise ConfigError(name, f"{d!r} is not a table; write it like {{type = \"dense\", units = 8}}")
    kind = _choice(f"{name}.type", d.get("type"), LAYER_TYPES)
    required, optional = LAYER_KEYS[kind]
    _check_keys(name, d, ("type",) + required + optional)
    for key in required:
        if key not in d:
            raise ConfigError(f"{name}.{key}", f"is required for a {kind} layer")
    kw: dict[str, Any] = {"type": kind}
    if "units" in d:
        kw["units"] = _int(f"{name}.units", d["units"], 1)
    if "filters" in d:
        kw["filters"] = _int(f"{name}.filters", d["filters"], 1)
    if "activation" in d:
        kw["activation"] = _choice(f"{name}.activation", d["activation"], ACTIVATIONS)
    if "rate" in d:
        kw["rate"] = _float(f"{name}.rate", d["rate"], 0.0, 1.0, hi_open=True)
    if "kernel" in d:
        kw["kernel"] = _int(f"{name}.kernel", d["kernel"], 1)
    if "stride" in d:
        kw["stride"] = _int(f"{name}.stride", d["stride"], 1)
    if "padding" in d:
        kw["padding"] = _choice(f"{name}.padding", d["padding"], PADDINGS)
    if "size" in d:
        kw["size"] = _int(f"{name}.size", d["size"], 1)
    return LayerConfig(**kw)


def _model_config(d: Mapping[str, Any]) -> ModelConfig:
    allowed = tuple(f.name for f in fields(ModelConfig))
    _check_keys("model", d, allowed)
    base = ModelConfig()
    hidden = tuple(_int("model.hidden", v, 1) for v in _list("model.hidden", d.get("hidden", base.hidden)))
    n = len(hidden)
    activation = d.get("activation", "tanh")
    dropout = d.get("dropout", 0.0)
    layers = tuple(_layer_config(i, layer) for i, layer in enumerate(_list("model.layers", d.get("layers", []))))
    return ModelConfig(
        hidden=hidden,
        activation=_per_layer("model.activation", activation, n, lambda f, v: _choice(f, v, ACTIVATIONS)),
        output_activation=_choice(
            "model.output_activation", d.get("output_activation", base.output_activation), OUTPUT_ACTIVATIONS
        ),
        dropout=_per_layer("model.dropout", dropout, n, lambda f, v: _float(f, v, 0.0, 1.0, hi_open=True)),
        regularization=_choice("model.regularization", d.get("regularization", base.regularization), REGULARIZATIONS),
        reg_rate=_float("model.reg_rate", d.get("reg_rate", base.reg_rate), 0.0),
        layers=layers,
    )


def _train_config(d: Mapping[str, Any]) -> TrainConfig:
    allowed = tuple(f.name for f in fields(TrainConfig))
    _check_keys("train", d, allowed)
    base = TrainConfig()
    return TrainConfig(
        backend=_choice("train.backend", d.get("backend", base.backend), BACKENDS),
        device=_choice("train.device", d.get("device", base.device), DEVICES),
        optimizer=_choice("train.optimizer", d.get("optimizer", base.optimizer), OPTIMIZERS),
        learning_rate=_float("train.learning_rate", d.get("learning_rate", base.learning_rate), 0.0, 100.0, lo_open=True),
        loss=_choice("train.loss", d.get("loss", base.loss), LOSSES),
        batch_size=_int("train.batch_size", d.get("batch_size", base.batch_size), 1, 1_000_000),
        epochs=_int("train.epochs", d.get("epochs", base.epochs), 1, 1_000_000),
        patience=_int("train.patience", d.get("patience", base.patience), 0),
    )


def from_dict(d: Mapping[str, Any]) -> Config:
    """Validate nested plain data into a Config; raises ConfigError naming the field."""
    if not isinstance(d, Mapping):
        raise ConfigError("config", "must be a table of [data], [model] and [train]")
    _check_keys("", d, TOP_LEVEL_KEYS)
    sections = {}
    for name in SECTIONS:
        value = d.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(name, f"must be a table ([{name}]), not {value!r}")
        sections[name] = value
    description = d.get("description", "")
    cfg = Config(
        description=_str("description", description),
        data=_data_config(sections["data"]),
        model=_model_config(sections["model"]),
        train=_train_config(sections["train"]),
    )
    check_consistency(cfg)
    return cfg


def resolve_output_activation(cfg: Config, task: str) -> str:
    if cfg.model.output_activation != "auto":
        return cfg.model.output_activation
    loss = resolve_loss(cfg, task)
    if task == "multiclass":
        return "softmax"
    if task == "regression":
        return "linear"
    return "sigmoid" if loss == "binary_crossentropy" else "tanh"


def resolve_loss(cfg: Config, task: str) -> str:
    if cfg.train.loss != "auto":
        return cfg.train.loss
    return "categorical_crossentropy" if task == "multiclass" else "mse"


def check_consistency(cfg: Config, task: str | None = None) -> None:
    """Cross-field rules: the loss and output must suit the task.

    Called with the config's own guess of the task when validating, and again
    with the dataset's real task once a data file has been read.
    """
    if task is None and cfg.data.dataset == "file":
        return  # a file's task is known only once it is read; the engine checks again then
    task = task or cfg.task
    loss = resolve_loss(cfg, task)
    out = resolve_output_activation(cfg, task)
    if task == "regression" and loss != "mse":
        raise ConfigError("train.loss", f"{loss!r} needs class labels but {cfg.data.dataset} is a regression dataset; use mse")
    if task == "multiclass":
        if loss != "categorical_crossentropy":
            raise ConfigError(
                "train.loss", f"{loss!r} can't train {cfg.data.dataset}, which has several classes; use categorical_crossentropy"
            )
        if out not in ("softmax", "linear"):
            raise ConfigError(
                "model.output_activation",
                f"{out!r} can't give class probabilities; use softmax (or linear for logits) with several classes",
            )
    else:
        if loss == "categorical_crossentropy":
            raise ConfigError(
                "train.loss", f"categorical_crossentropy needs several classes; {cfg.data.dataset} has one output: use mse or binary_crossentropy"
            )
        if out == "softmax":
            raise ConfigError(
                "model.output_activation", "softmax needs several classes; use tanh, sigmoid or linear for one output"
            )
        if loss == "binary_crossentropy" and out not in ("sigmoid", "linear"):
            raise ConfigError(
                "model.output_activation",
                f"{out!r} doesn't give a probability for binary_crossentropy; use sigmoid (or linear for logits)",
            )


# -- TOML and overrides ---------------------------------------------------------------------


#: Deepest nesting of tables and lists accepted in a preset or a ``--set`` value.
MAX_NESTING = 32


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and tables nest in ``value`` (iterative; stops counting past ``limit``)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth <= limit:
                stack.extend((child, depth) for child in (node.values() if isinstance(node, Mapping) else node))
    return deepest


def loads(text: str, *, source: str = "<string>") -> dict[str, Any]:
    """Parse TOML text into plain data, turning syntax errors into one-line ConfigErrors.

    Nesting is bounded: tomllib itself recurses, so a file of ``[[[[...`` would
    otherwise end in a RecursionError traceback.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("toml", f"not valid TOML: {exc}", source=source) from None
    except RecursionError:
        data = None
    if data is None or nesting_depth(data) > MAX_NESTING:
        raise ConfigError("toml", f"tables and lists nest too deeply (at most {MAX_NESTING} levels)", source=source)
    return data


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge where tables merge and everything else (lists included) replaces."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    # Changing the number of hidden layers must not trip over old per-layer lists.
    model_update = update.get("model", {}) if isinstance(update.get("model"), Mapping) else {}
    if "hidden" in model_update and isinstance(out.get("model"), Mapping):
        model = dict(out["model"])
        for key in ("activation", "dropout"):
            if key not in model_update and isinstance(model.get(key), list) and model[key]:
                values = model[key]
                model[key] = values[0] if len(set(map(str, values))) == 1 else values
        out["model"] = model
    return out


def dotted_to_nested(updates: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in updates.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(key, "conflicts with another --set")
        node[parts[-1]] = value
    return nested


def parse_value(text: str) -> Any:
    """Read a ``--set`` value as TOML when it is TOML, else as plain text.

    So ``--set train.epochs=50`` gives an int, ``--set model.hidden=[8,8]`` a
    list, and ``--set data.dataset=xor`` or ``--set data.features=[x1,x2]``
    work without TOML quotes.
    """
    text = text.strip()
    try:
        return loads(f"v = {text}", source="--set")["v"]
    except ConfigError as exc:
        if "nest too deeply" in exc.reason:
            raise
    if text.count("[") > MAX_NESTING:
        raise ConfigError("--set", f"the value nests too deeply (at most {MAX_NESTING} levels)")
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [parse_value(part) for part in inner.split(",")] if inner else []
    return text


def parse_set(item: str) -> tuple[str, Any]:
    """Split one ``section.key=value`` override, checking the key path early."""
    if "=" not in item:
        raise ConfigError("--set", f"{item!r} must look like section.key=value, e.g. train.epochs=50")
    key, _, value = item.partition("=")
    key = check_set_key(key.strip())
    if key == "description":
        return key, value
    return key, parse_value(value)


def check_set_key(key: str, where: str = "--set") -> str:
    """A dotted override key (``train.epochs``) checked against the config's fields."""
    parts = key.split(".")
    if len(parts) == 1 and parts[0] == "description":
        return key
    if len(parts) != 2:
        raise ConfigError(where, f"{key!r} must be section.key with section one of {', '.join(SECTIONS)}")
    section, name = parts
    if section not in SECTIONS:
        raise choice_error(where, section, tuple(SECTIONS))
    allowed = tuple(f.name for f in fields(SECTIONS[section]))
    if name not in allowed:
        raise ConfigError(key, f"unknown key; allowed keys in [{section}]: {', '.join(allowed)}{did_you_mean(name, allowed)}")
    return key


def default_config() -> Config:
    return Config()

