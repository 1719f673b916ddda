"""The one typed config that every face and backend reads.

A config is plain data: it comes from TOML presets, ``--set`` overrides and the
app's forms, and it is validated here, in one place, so that every face reports
the same clear message for the same mistake.  Defaults are the textbook
``circle`` recipe, so a partial preset reads as "the classic model, except ...".

Each field is described once, below, as an annotated field of a msgspec Struct
(type, default, constraints, help, label, unit). msgspec validates against it;
``core.fieldspec`` reads the same declarations for the messages, the form, the
CLI and the README table (``FIELDS``, ``SECTIONS``). Rules that tie fields
together are the few small functions after the Structs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

import msgspec

from tui_trainer.core.errors import ConfigError, choice_error
from tui_trainer.core.fieldspec import Field, Section, about, check_keys, decode, describe

# -- the choices ----------------------------------------------------------------------------

PlaygroundDataset = Literal["circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"]
ImageDataset = Literal["mnist", "digits"]
#: Bag-of-words text: IMDB from Keras's cache file, and its offline stand-in (``tui_trainer.data.reviews``).
TextDataset = Literal["imdb", "reviews"]
Dataset = Literal[PlaygroundDataset, ImageDataset, TextDataset, Literal["file"]]
#: Feature inputs of the playground, in its order; keys are what presets write.
Feature = Literal["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"]
Activation = Literal["relu", "tanh", "sigmoid", "linear"]
OutputActivation = Literal["auto", "tanh", "sigmoid", "linear", "softmax"]
Regularization = Literal["none", "l1", "l2"]
Optimizer = Literal["sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"]
Loss = Literal["auto", "mse", "binary_crossentropy", "categorical_crossentropy"]
Backend = Literal["tensorflow", "torch"]
Device = Literal["auto", "cpu", "cuda"]
Padding = Literal["valid", "same"]

PLAYGROUND_DATASETS: tuple[str, ...] = get_args(PlaygroundDataset)
IMAGE_DATASETS: tuple[str, ...] = get_args(ImageDataset)
TEXT_DATASETS: tuple[str, ...] = get_args(TextDataset)
DATASETS: tuple[str, ...] = get_args(Dataset)
REGRESSION_DATASETS = ("reg-plane", "reg-gauss")
FEATURES: tuple[str, ...] = get_args(Feature)
FEATURE_LABELS = {
    "x1": "X1",
    "x2": "X2",
    "x1sq": "X1²",
    "x2sq": "X2²",
    "x1x2": "X1X2",
    "sinx1": "sin X1",
    "sinx2": "sin X2",
}
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
OUTPUT_ACTIVATIONS: tuple[str, ...] = get_args(OutputActivation)
REGULARIZATIONS: tuple[str, ...] = get_args(Regularization)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
LOSSES: tuple[str, ...] = get_args(Loss)
BACKENDS: tuple[str, ...] = get_args(Backend)
DEVICES: tuple[str, ...] = get_args(Device)
PADDINGS: tuple[str, ...] = get_args(Padding)

#: Every section and layer is a frozen Struct that refuses unknown keys.
_STRICT: dict[str, Any] = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}

# -- the fields: each described once, here -------------------------------------------------
#
# Adding a field is one line in one of these Structs (type, default, constraints, help,
# label, unit); validation, its messages, the form row, ``--set`` and the README table
# follow from it.


class DataConfig(msgspec.Struct, **_STRICT):
    dataset: Annotated[Dataset, about("what to learn: a playground set, images, reviews or your own file",
                                      "dataset")] = "circle"
    path: Annotated[str, about('data file (dataset = "file") or an .npz for mnist/imdb; relative to the preset',
                               "data path")] = ""
    noise: Annotated[float, about("playground: how far points stray; reviews: the share of flipped labels",
                                  "noise", ge=0.0, le=0.5)] = 0.0
    train_ratio: Annotated[float, about("share of the samples trained on; the rest validate",
                                        "train ratio", ge=0.1, le=0.9)] = 0.5
    seed: Annotated[int, about("seed for the data, the initial weights and the shuffling",
                               "seed", ge=0, le=2**31 - 1)] = 0
    limit: Annotated[int, about("cap on the training samples (0 = all)", "max samples", unit="samples", ge=0)] = 0
    features: Annotated[tuple[Feature, ...], about(
        "the playground's feature inputs", "input features", min_length=1, choice_labels=FEATURE_LABELS,
        empty="needs at least one input; choose from " + ", ".join(FEATURES))] = ("x1", "x2")
    columns: Annotated[tuple[str, ...], about("feature columns of a data file", min_length=1,
                                              empty="needs at least one feature column name")] = ("x1", "x2")
    label_column: Annotated[str, about("the label column of a data file")] = "label"


class _LayerKinds(msgspec.StructMeta):
    """Lets ``LayerConfig("dense", units=8)`` build the kind its first argument names."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is LayerConfig:
            (kind,) = args
            if kind not in _LAYER_KINDS:
                raise choice_error("type", kind, LAYER_TYPES)
            return _LAYER_KINDS[kind](**kwargs)
        return super().__call__(*args, **kwargs)


class LayerConfig(msgspec.Struct, metaclass=_LayerKinds, tag_field="type", **_STRICT):
    """One explicit layer (``[[model.layers]]``): a tagged union on ``type``, one Struct per kind."""

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def options(self) -> dict[str, Any]:
        """The layer's own keys and values (the layer spec takes its defaults for the rest)."""
        return {k: getattr(self, k) for k in self.__struct_fields__}


class DenseLayer(LayerConfig, tag="dense"):
    units: Annotated[int, about("neurons", ge=1)]
    activation: Annotated[Activation, about("activation")] = "linear"


class DropoutLayer(LayerConfig, tag="dropout"):
    rate: Annotated[float, about("share of inputs dropped while training", ge=0.0, lt=1.0)]


class FlattenLayer(LayerConfig, tag="flatten"):
    pass


class Conv2DLayer(LayerConfig, tag="conv2d"):
    filters: Annotated[int, about("output channels", ge=1)]
    kernel: Annotated[int, about("kernel height and width", unit="pixels", ge=1)] = 3
    stride: Annotated[int, about("step between windows", unit="pixels", ge=1)] = 1
    padding: Annotated[Padding, about("valid: no padding; same: output as large as input / stride")] = "valid"
    activation: Annotated[Activation, about("activation")] = "linear"


class MaxPool2DLayer(LayerConfig, tag="maxpool2d"):
    size: Annotated[int, about("pool height and width", unit="pixels", ge=1)] = 2


Layer = DenseLayer | DropoutLayer | FlattenLayer | Conv2DLayer | MaxPool2DLayer
LAYER_TYPES: tuple[str, ...] = tuple(str(c.__struct_config__.tag) for c in get_args(Layer))


class ModelConfig(msgspec.Struct, **_STRICT):
    hidden: Annotated[tuple[Annotated[int, msgspec.Meta(ge=1)], ...], about(
        "widths of the hidden layers (any number of layers)", "units", widget="layers")] = (3, 3)
    activation: Annotated[tuple[Activation, ...], about(
        "activation of the hidden layers", "activation", widget="layers", each="tanh")] = ("tanh", "tanh")
    output_activation: Annotated[OutputActivation, about("the output layer's activation; auto suits the task",
                                                         "output")] = "tanh"
    dropout: Annotated[tuple[Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)], ...], about(
        "dropout rate after each hidden layer", "drop", widget="layers", each=0.0)] = (0.0, 0.0)
    regularization: Annotated[Regularization, about(
        "weight penalty on kernels (the loss shown excludes it)", "regularize")] = "none"
    reg_rate: Annotated[float, about("strength of the weight penalty", "reg. rate", ge=0.0)] = 0.0
    layers: Annotated[tuple[Layer, ...], about(
        "explicit layers; they replace hidden, activation and dropout",
        item="layer", example='{type = "dense", units = 8}')] = ()


class TrainConfig(msgspec.Struct, **_STRICT):
    backend: Annotated[Backend, about("the framework to train with", "framework")] = "tensorflow"
    device: Annotated[Device, about("where to train", "device")] = "auto"
    optimizer: Annotated[Optimizer, about("how the weights are updated", "optimizer", choice_labels={
        "sgd": "SGD", "momentum": "momentum", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
        "adagrad": "Adagrad"})] = "sgd"
    learning_rate: Annotated[float, about("the optimizer's step size", "learn. rate", gt=0.0, le=100.0)] = 0.03
    loss: Annotated[Loss, about("what training minimises; auto suits the task", "loss", choice_labels={
        "mse": "MSE", "binary_crossentropy": "binary cross-entropy", "categorical_crossentropy": "cross-entropy",
        "auto": "auto loss"})] = "mse"
    batch_size: Annotated[int, about("samples per weight update", "batch size", unit="samples",
                                     ge=1, le=1_000_000)] = 15
    epochs: Annotated[int, about("passes over the training data", "epochs", unit="epochs", ge=1, le=1_000_000)] = 100
    patience: Annotated[int, about("early stopping: epochs without a better val_loss (0 = off)", "patience",
                                   unit="epochs", ge=0)] = 0


class Config(msgspec.Struct, **_STRICT):
    description: Annotated[str, about("one line shown by --list-presets and the open dialog")] = ""
    data: Annotated[DataConfig, about("the data and how it is split", "Data")] = msgspec.field(
        default_factory=DataConfig)
    model: Annotated[ModelConfig, about("the network", "Network")] = msgspec.field(default_factory=ModelConfig)
    train: Annotated[TrainConfig, about("how it is trained", "Training")] = msgspec.field(
        default_factory=TrainConfig)

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
        """Plain TOML-ready data (tuples become lists; an empty description and layer list dropped)."""
        out: dict[str, Any] = _plain(msgspec.to_builtins(self))
        if not self.description:
            del out["description"]
        if not self.model.layers:
            del out["model"]["layers"]
        return out

    def with_updates(self, updates: Mapping[str, Any]) -> Config:
        """A new validated config with dotted-key updates (``{"train.epochs": 5}``)."""
        return from_dict(merge(self.to_dict(), dotted_to_nested(updates)))


_LAYER_KINDS: dict[str, type[LayerConfig]] = {str(c.__struct_config__.tag): c for c in get_args(Layer)}


#: The config's top-level fields (``description``) and its sections with their fields, read from the Structs.
TOP_FIELDS, SECTION_LIST = describe(Config)
SECTIONS: dict[str, Section] = {s.name: s for s in SECTION_LIST}
#: Every field by its dotted key (``train.epochs``).
FIELDS: dict[str, Field] = {f.key: f for f in TOP_FIELDS + tuple(f for s in SECTION_LIST for f in s.fields)}
TOP_LEVEL_KEYS = ("description", "extends") + tuple(SECTIONS)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- validation -----------------------------------------------------------------------------


def _spread_per_layer(model: Any) -> Any:
    """A single value of a per-layer field (``activation = "relu"``) means "every hidden layer"."""
    if not isinstance(model, Mapping) or not isinstance(model.get("hidden", ()), list | tuple):
        return model
    n = len(model.get("hidden", FIELDS["model.hidden"].default))
    out = dict(model)
    for f in SECTIONS["model"].fields:
        if "each" in f.extra and not isinstance(out.get(f.name), list | tuple):
            out[f.name] = [out.get(f.name, f.extra["each"])] * n
    return out


def _one_value_per_layer(cfg: Config) -> None:
    n = len(cfg.model.hidden)
    for f in SECTIONS["model"].fields:
        values = getattr(cfg.model, f.name)
        if "each" in f.extra and len(values) != n:
            raise ConfigError(
                f.key, f"has {len(values)} values but model.hidden has {n} layers; give one per layer or a single value"
            )


def _features_once(cfg: Config) -> None:
    if len(set(cfg.data.features)) != len(cfg.data.features):
        raise ConfigError("data.features", f"{list(cfg.data.features)!r} lists an input twice")


def from_dict(d: Mapping[str, Any]) -> Config:
    """Validate nested plain data into a Config; raises ConfigError naming the field."""
    if not isinstance(d, Mapping):
        raise ConfigError("config", "must be a table of [data], [model] and [train]")
    check_keys("", d, TOP_LEVEL_KEYS)
    data = {k: v for k, v in d.items() if k != "extends"}
    if "model" in data:
        data["model"] = _spread_per_layer(data["model"])
    cfg: Config = decode(data, Config)
    _one_value_per_layer(cfg)
    _features_once(cfg)
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
    if len(parts) == 1 and key in {f.key for f in TOP_FIELDS}:
        return key
    if len(parts) != 2:
        raise ConfigError(where, f"{key!r} must be section.key with section one of {', '.join(SECTIONS)}")
    section, name = parts
    if section not in SECTIONS:
        raise choice_error(where, section, tuple(SECTIONS))
    check_keys(section, {name: None}, tuple(f.name for f in SECTIONS[section].fields))
    return key


def default_config() -> Config:
    return Config()

