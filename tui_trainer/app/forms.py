"""The side panel: every config field as a form, validated by ``config.from_dict``.

The form never has its own rules.  It turns widget text into the same plain
data a preset or ``--set`` gives (``config.parse_value``), and lets the config
module judge it, so a mistake reads the same in the app as on the command line.
``from_dict`` stops at the first bad field; ``check_form`` repairs that field
and asks again, so every bad field is marked at once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Collapsible, Input, Label, Select, Static

from tui_trainer.app.safe import Literal
from tui_trainer.core import config as cfgmod
from tui_trainer.core.config import (
    ACTIVATIONS,
    BACKENDS,
    DATASETS,
    DEVICES,
    FEATURE_LABELS,
    FEATURES,
    LOSSES,
    OPTIMIZERS,
    OUTPUT_ACTIVATIONS,
    REGULARIZATIONS,
    Config,
)
from tui_trainer.core.errors import ConfigError

#: Fields typed as text and read like ``--set`` values, with their labels.
TEXT_FIELDS: dict[str, str] = {
    "data.noise": "noise",
    "data.train_ratio": "train ratio",
    "data.seed": "seed",
    "data.limit": "max samples",
    "data.path": "data path",
    "model.reg_rate": "reg. rate",
    "train.learning_rate": "learn. rate",
    "train.batch_size": "batch size",
    "train.epochs": "epochs",
    "train.patience": "patience",
}
#: Fields picked from the config module's own choice lists.
CHOICE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "data.dataset": ("dataset", DATASETS),
    "model.output_activation": ("output", OUTPUT_ACTIVATIONS),
    "model.regularization": ("regularize", REGULARIZATIONS),
    "train.backend": ("framework", BACKENDS),
    "train.device": ("device", DEVICES),
    "train.optimizer": ("optimizer", OPTIMIZERS),
    "train.loss": ("loss", LOSSES),
}
#: Keys that are free text, never parsed as numbers.
RAW_TEXT = {"data.path"}
#: Datasets read from a file or a download, which need ``data.path``.
PATH_DATASETS = {"file", "mnist"}
#: Per-layer keys, marked on the layer rows rather than on one field.
LAYER_FIELDS = ("model.hidden", "model.activation", "model.dropout")


def dom_id(key: str) -> str:
    return key.replace(".", "-").replace("_", "-")


def read_value(text: str, key: str) -> Any:
    """Text from an input as the value a preset would hold.

    Same reading as ``--set`` (TOML, else text), plus plain Python number
    syntax (``.5``) so people don't trip over TOML's stricter floats.
    """
    if key in RAW_TEXT:
        return text
    value = cfgmod.parse_value(text)
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
    return value


# -- validation (plain data in, config or per-field reasons out) ----------------------------


@dataclass
class FormCheck:
    """The outcome of checking the form: a config, or reasons keyed by field."""

    config: Config | None
    errors: dict[str, str] = field(default_factory=dict)
    #: Which hidden-layer rows hold a bad width / dropout, by key.
    bad_layers: dict[str, set[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.config is not None and not self.errors

    def summary(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.errors.items())


def _set(d: dict[str, Any], key: str, value: Any) -> None:
    section, _, name = key.partition(".")
    d.setdefault(section, {})[name] = value


def _bad_items(key: str, values: list[Any]) -> set[int]:
    """Indices of per-layer values the config module rejects on their own."""
    bad = set()
    for i, value in enumerate(values):
        probe = {"model": {"hidden": [1], key.split(".")[1]: [value]}}
        try:
            cfgmod.from_dict(probe)
        except ConfigError:
            bad.add(i)
    return bad


def _repair(data: dict[str, Any], exc: ConfigError, check: FormCheck) -> bool:
    """Put a harmless value where ``exc`` points, so checking can go on past it."""
    section, _, name = exc.field.partition(".")
    model = data.get("model", {})
    if exc.field in ("model.hidden", "model.dropout") and isinstance(model.get(name), list):
        bad = _bad_items(exc.field, model[name])
        check.bad_layers[exc.field] = bad
        if not bad:
            return False
        model[name] = [(1 if name == "hidden" else 0.0) if i in bad else v for i, v in enumerate(model[name])]
        return True
    if exc.field in ("train.loss", "model.output_activation"):
        # Cross-field rules: "auto" on both always suits the task.
        changed = data["train"].get("loss") != "auto" or data["model"].get("output_activation") != "auto"
        data["train"]["loss"] = "auto"
        data["model"]["output_activation"] = "auto"
        return changed
    if section in data and isinstance(data[section], dict) and name in data[section]:
        del data[section][name]
        return True
    return False


def check_form(raw: dict[str, Any]) -> FormCheck:
    """Validate form data with ``config.from_dict``, collecting every bad field."""
    data = copy.deepcopy(raw)
    check = FormCheck(config=None)
    for _ in range(len(TEXT_FIELDS) + len(CHOICE_FIELDS) + 8):
        try:
            cfg = cfgmod.from_dict(data)
        except ConfigError as exc:
            check.errors.setdefault(exc.field, exc.reason)
            if not _repair(data, exc, check):
                break
            continue
        if not check.errors:
            check.config = cfg
        break
    return check


# -- widgets ---------------------------------------------------------------------------------


class Flag(Checkbox):
    """A checkbox whose box is empty when off, so its state reads without colour (NO_COLOR)."""

    def render(self) -> Any:
        self.BUTTON_INNER = "X" if self.value else " "
        return super().render()


class ErrorText(Literal):
    """Where a field's reason shows; untouched when the reason is unchanged.

    Showing or hiding text changes the form's height, which makes Textual lay
    out the whole screen, so it must not happen on every check of an unchanged form.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", classes="field-error", **kwargs)
        self.reason: str | None = None

    def show(self, reason: str | None) -> None:
        reason = reason or None
        if reason == self.reason:
            return
        self.reason = reason
        self.update(reason or "")
        self.display = reason is not None


class FieldRow(Vertical):
    """A label, its input and the place where the reason for a bad value shows."""

    def __init__(self, key: str, label: str, widget: Widget) -> None:
        super().__init__(id=f"row-{dom_id(key)}", classes="field")
        self.key = key
        self.label = label
        self.widget = widget

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(self.label, classes="field-label")
            yield self.widget
        yield ErrorText()

    def set_error(self, reason: str | None) -> None:
        self.widget.set_class(reason is not None, "-bad")
        self.query_one(ErrorText).show(reason)


class LayerRow(Horizontal):
    """One hidden layer: width, activation and dropout."""

    def __init__(self, index: int, units: Any, activation: str, dropout: Any, *, disabled: bool = False) -> None:
        super().__init__(classes="layer-row", disabled=disabled)
        self.index = index
        self._units, self._activation, self._dropout = units, activation, dropout

    def compose(self) -> ComposeResult:
        yield Label(f"{self.index + 1:>2}", classes="layer-index")
        yield Input(str(self._units), compact=True, classes="layer-units", tooltip="neurons in this layer")
        yield Select([(a, a) for a in ACTIVATIONS], value=self._activation, allow_blank=False, compact=True,
                     classes="layer-act")
        yield Input(str(self._dropout), compact=True, classes="layer-drop", tooltip="dropout rate after this layer")

    def values(self) -> tuple[Any, str, Any]:
        act = self.query_one(".layer-act", Select).value
        return (
            read_value(self.query_one(".layer-units", Input).value, "model.hidden"),
            str(act),
            read_value(self.query_one(".layer-drop", Input).value, "model.dropout"),
        )

    def mark(self, bad_units: bool, bad_drop: bool) -> None:
        self.query_one(".layer-units", Input).set_class(bad_units, "-bad")
        self.query_one(".layer-drop", Input).set_class(bad_drop, "-bad")


def _choice_select(key: str, value: str) -> Select[str]:
    choices = CHOICE_FIELDS[key][1]
    return Select([(c, c) for c in choices], value=value, allow_blank=False, compact=True, id=f"in-{dom_id(key)}")


class ConfigForm(VerticalScroll):
    """Every field of the config; posts ``ConfigForm.Changed`` on any edit."""

    @dataclass
    class Changed(Message):
        form: ConfigForm
        key: str

    def __init__(self, config: Config, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = config.to_dict()
        self._config = config
        self.can_focus = False

    # -- building ----------------------------------------------------------------------------
    def _text_row(self, key: str, value: Any) -> FieldRow:
        return FieldRow(key, TEXT_FIELDS[key], Input(str(value), compact=True, id=f"in-{dom_id(key)}"))

    def _choice_row(self, key: str, value: str) -> FieldRow:
        return FieldRow(key, CHOICE_FIELDS[key][0], _choice_select(key, value))

    def compose(self) -> ComposeResult:
        cfg = self._config
        d, m, t = cfg.data, cfg.model, cfg.train
        with Collapsible(title="Data", collapsed=False, id="sec-data"):
            yield self._choice_row("data.dataset", d.dataset)
            yield self._text_row("data.path", d.path)
            yield self._text_row("data.noise", d.noise)
            yield self._text_row("data.train_ratio", d.train_ratio)
            yield self._text_row("data.seed", d.seed)
            yield self._text_row("data.limit", d.limit)
            with Vertical(id="row-data-features", classes="field"):
                yield Label("input features", id="features-label")
                with Horizontal(id="features"):
                    for key in FEATURES:
                        yield Flag(FEATURE_LABELS[key], key in d.features, compact=True, id=f"feat-{key}")
                yield ErrorText()
        with Collapsible(title="Network", collapsed=False, id="sec-network"):
            yield Literal("", id="explicit-layers")
            with Vertical(id="row-model-hidden", classes="field"):
                yield Label(" # units activation  drop", classes="layers-head")
                with Vertical(id="layers"):
                    yield from self._layer_rows(cfg)
                with Horizontal(id="layer-buttons"):
                    yield Button("+ layer", id="add-layer", compact=True)
                    yield Button("- layer", id="remove-layer", compact=True)
                yield ErrorText()
            yield self._choice_row("model.output_activation", m.output_activation)
            yield self._choice_row("model.regularization", m.regularization)
            yield self._text_row("model.reg_rate", m.reg_rate)
        with Collapsible(title="Training", collapsed=False, id="sec-training"):
            yield self._choice_row("train.backend", t.backend)
            yield self._choice_row("train.device", t.device)
            yield self._choice_row("train.optimizer", t.optimizer)
            yield self._text_row("train.learning_rate", t.learning_rate)
            yield self._choice_row("train.loss", t.loss)
            yield self._text_row("train.batch_size", t.batch_size)
            yield self._text_row("train.epochs", t.epochs)
            yield self._text_row("train.patience", t.patience)
        yield ErrorText(id="form-error")
        with Horizontal(id="preset-buttons"):
            yield Button("Save…", id="save-preset", compact=True, tooltip="save the form as a preset (ctrl+s)")
            yield Button("Open…", id="open-preset", compact=True, tooltip="open a preset (ctrl+o)")

    def _layer_rows(self, cfg: Config) -> list[LayerRow]:
        explicit = bool(cfg.model.layers)
        return [
            LayerRow(i, units, act, drop, disabled=explicit)
            for i, (units, act, drop) in enumerate(zip(cfg.model.hidden, cfg.model.activation, cfg.model.dropout,
                                                       strict=True))
        ]

    def on_mount(self) -> None:
        self._show_explicit_layers()
        self._update_path_visibility()

    # -- reading and writing -----------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The config the form was last loaded from (not what it shows now)."""
        return self._config

    def modified(self, current: Config | None) -> bool:
        """Whether ``current`` (the form checked as a config) differs from the preset loaded or last saved."""
        return current is None or current != self._config

    def mark_saved(self, config: Config) -> None:
        """The form was saved as ``config``: that is what it is compared with from now on."""
        self._config = config
        self._base = config.to_dict()

    def choice(self, key: str) -> str:
        return str(self.query_one(f"#in-{dom_id(key)}", Select).value)

    def raw(self) -> dict[str, Any]:
        """The form as nested plain data, on top of the loaded config's other keys."""
        out = copy.deepcopy(self._base)
        for key in TEXT_FIELDS:
            _set(out, key, read_value(self.query_one(f"#in-{dom_id(key)}", Input).value, key))
        for key in CHOICE_FIELDS:
            _set(out, key, self.choice(key))
        _set(out, "data.features", [k for k in FEATURES if self.query_one(f"#feat-{k}", Checkbox).value])
        rows = list(self.query(LayerRow))
        values = [row.values() for row in rows]
        _set(out, "model.hidden", [v[0] for v in values])
        _set(out, "model.activation", [v[1] for v in values])
        _set(out, "model.dropout", [v[2] for v in values])
        return out

    async def load(self, config: Config) -> None:
        """Show another config (an opened preset) in every field."""
        self._config = config
        self._base = config.to_dict()
        d, m, t = config.data, config.model, config.train
        for key in TEXT_FIELDS:
            section, _, name = key.partition(".")
            value = getattr({"data": d, "model": m, "train": t}[section], name)
            self.query_one(f"#in-{dom_id(key)}", Input).value = str(value)
        for key in CHOICE_FIELDS:
            section, _, name = key.partition(".")
            value = getattr({"data": d, "model": m, "train": t}[section], name)
            self.query_one(f"#in-{dom_id(key)}", Select).value = value
        for key in FEATURES:
            self.query_one(f"#feat-{key}", Checkbox).value = key in d.features
        layers = self.query_one("#layers", Vertical)
        await layers.remove_children()
        await layers.mount_all(self._layer_rows(config))
        self._show_explicit_layers()
        self._update_path_visibility()
        self.post_message(self.Changed(self, "preset"))

    def _show_explicit_layers(self) -> None:
        """Conv nets from presets are listed read-only; the simple editor doesn't apply to them."""
        layers = self._config.model.layers
        note = self.query_one("#explicit-layers", Static)
        note.display = bool(layers)
        if layers:
            lines = ["layers (from the preset, read-only):"]
            for i, layer in enumerate(layers):
                extras = ", ".join(f"{k}={v}" for k, v in layer.to_dict().items() if k != "type")
                lines.append(f" {i + 1}. {layer.type}" + (f" ({extras})" if extras else ""))
            lines.append("hidden layers below are not used.")
            note.update("\n".join(lines))
        for button in self.query("#layer-buttons Button"):
            button.disabled = bool(layers)

    def _update_path_visibility(self) -> None:
        dataset = self.choice("data.dataset")
        self.query_one("#row-data-path").display = dataset in PATH_DATASETS or bool(
            self.query_one("#in-data-path", Input).value
        )

    # -- marking -----------------------------------------------------------------------------
    def show_check(self, check: FormCheck) -> None:
        """Mark each bad field with its reason and clear the rest."""
        for row in self.query(FieldRow):
            row.set_error(check.errors.get(row.key))
        features = self.query_one("#row-data-features")
        reason = check.errors.get("data.features")
        features.query_one(ErrorText).show(reason)
        features.query_one("#features").set_class(reason is not None, "-bad")
        layer_reasons = [f"{k.split('.')[1]}: {check.errors[k]}" for k in LAYER_FIELDS if k in check.errors]
        self.query_one("#row-model-hidden > ErrorText", ErrorText).show("\n".join(layer_reasons))
        bad_units = check.bad_layers.get("model.hidden", set())
        bad_drop = check.bad_layers.get("model.dropout", set())
        for i, row in enumerate(self.query(LayerRow)):
            row.mark(i in bad_units, i in bad_drop)
        known = {row.key for row in self.query(FieldRow)} | set(LAYER_FIELDS) | {"data.features"}
        other = [f"{k}: {v}" for k, v in check.errors.items() if k not in known]
        self.query_one("#form-error", ErrorText).show("\n".join(other))

    def focus_first_error(self, check: FormCheck) -> None:
        for key in check.errors:
            if key in LAYER_FIELDS:
                bad = check.bad_layers.get(key) or {0}
                rows = list(self.query(LayerRow))
                if rows:
                    selector = ".layer-units" if key == "model.hidden" else ".layer-drop"
                    rows[min(min(bad), len(rows) - 1)].query_one(selector).focus()
                return
            for widget in self.query(f"#in-{dom_id(key)}"):
                widget.focus()
                return

    # -- events ------------------------------------------------------------------------------
    def _changed(self, key: str) -> None:
        self.post_message(self.Changed(self, key))

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        key = _key_of(event.input)
        if key == "data.path":
            self._update_path_visibility()
        self._changed(key)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        key = _key_of(event.select)
        if key == "data.dataset":
            self._update_path_visibility()
        self._changed(key)

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed("data.features")

    @on(Button.Pressed, "#add-layer")
    async def _add_layer(self, event: Button.Pressed) -> None:
        event.stop()
        rows = list(self.query(LayerRow))
        units, act, _ = rows[-1].values() if rows else (4, "tanh", 0.0)
        units = units if isinstance(units, int) and units > 0 else 4
        await self.query_one("#layers").mount(LayerRow(len(rows), units, act, 0.0))
        self._changed("model.hidden")

    @on(Button.Pressed, "#remove-layer")
    async def _remove_layer(self, event: Button.Pressed) -> None:
        event.stop()
        rows = list(self.query(LayerRow))
        if rows:
            await rows[-1].remove()
            self._changed("model.hidden")


def _key_of(widget: Widget) -> str:
    """The config key a field widget edits, from its id (``in-train-epochs``)."""
    if widget.has_class("layer-units"):
        return "model.hidden"
    if widget.has_class("layer-act"):
        return "model.activation"
    if widget.has_class("layer-drop"):
        return "model.dropout"
    wid = widget.id or ""
    for key in list(TEXT_FIELDS) + list(CHOICE_FIELDS):
        if wid == f"in-{dom_id(key)}":
            return key
    return wid
