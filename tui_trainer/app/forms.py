"""The side panel: every config field as a form, built from the fields' own descriptions.

The form never has its own rules or lists.  Its rows come from ``config.FIELDS``
(each field's label, widget, choices and help text are declared once, on the
config's Structs), it turns widget text into the same plain data a preset or
``--set`` gives (``config.parse_value``), and each value is judged by its
field's description, so a mistake reads the same in the app as on the command
line.  Every field is checked on its own, then the cross-field rules once on the
rest, so every bad field is marked at once.
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
from tui_trainer.core.config import FIELDS, SECTION_LIST, Config
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.fieldspec import Field, Section

#: Every field the form edits, in declaration order.
FORM_FIELDS = tuple(k for k, f in FIELDS.items() if f.widget)
#: Fields typed into an input and read like ``--set`` values (text fields as they are).
INPUT_FIELDS = tuple(k for k, f in FIELDS.items() if f.widget == "input")
#: Fields picked from their choices.
SELECT_FIELDS = tuple(k for k, f in FIELDS.items() if f.widget == "select")
#: Lists of choices, one checkbox per choice (``data.features``).
FLAG_FIELDS = tuple(k for k, f in FIELDS.items() if f.widget == "flags")
#: Per-layer keys, edited and marked on the layer rows rather than on one field.
LAYER_FIELDS = tuple(k for k, f in FIELDS.items() if f.widget == "layers")
#: Datasets read from a file or a download, which need ``data.path``.
PATH_DATASETS = {"file", "mnist"}


def dom_id(key: str) -> str:
    return key.replace(".", "-").replace("_", "-")


def section_id(section: Section) -> str:
    """The collapsible of a config section: ``sec-data``, ``sec-network``, ``sec-training``."""
    return f"sec-{section.title.lower()}"


def tooltip(f: Field) -> str:
    """A field's help text with its unit and what it allows."""
    unit = f"{f.unit}; " if f.unit else ""
    return f"{f.help} ({unit}{f.allowed})"


def read_value(text: str, key: str) -> Any:
    """Text from an input as the value a preset would hold.

    Same reading as ``--set`` (TOML, else text), plus plain Python number
    syntax (``.5``) so people don't trip over TOML's stricter floats.
    """
    if FIELDS[key].kind == "text":
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
    section, _, name = key.rpartition(".")
    (d.setdefault(section, {}) if section else d)[name] = value


def check_form(raw: dict[str, Any]) -> FormCheck:
    """Every form field judged by its own description, then the cross-field rules on the rest.

    A bad field is left out (a bad layer value takes its field's default) before
    ``config.from_dict`` judges the whole, so a loss that can't train the data is
    reported next to a bad epoch count, each with the CLI's words.
    """
    data = copy.deepcopy(raw)
    check = FormCheck(config=None)
    for key in FORM_FIELDS:
        f = FIELDS[key]
        section = data.setdefault(f.section, {}) if f.section else data
        if f.name not in section:
            continue
        value = section[f.name]
        bad = f.problem(value)
        if bad is None:
            continue
        check.errors[key] = bad.reason
        if key in LAYER_FIELDS and isinstance(value, list):
            rows = {i for i, v in enumerate(value) if f.problem([v]) is not None}
            check.bad_layers[key] = rows
            section[f.name] = [f.default[0] if i in rows else v for i, v in enumerate(value)]
        else:
            del section[f.name]
    try:
        config = cfgmod.from_dict(data)
    except ConfigError as exc:
        check.errors.setdefault(exc.field, exc.reason)
    else:
        if not check.errors:
            check.config = config
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
        units, activation, dropout = (FIELDS[k] for k in ("model.hidden", "model.activation", "model.dropout"))
        yield Label(f"{self.index + 1:>2}", classes="layer-index")
        yield Input(str(self._units), compact=True, classes="layer-units", tooltip=tooltip(units))
        yield Select([(a, a) for a in activation.choices], value=self._activation, allow_blank=False, compact=True,
                     classes="layer-act", tooltip=tooltip(activation))
        yield Input(str(self._dropout), compact=True, classes="layer-drop", tooltip=tooltip(dropout))

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


def _value(config: Config, f: Field) -> Any:
    return getattr(getattr(config, f.section), f.name) if f.section else getattr(config, f.name)


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

    # -- building: one row per described field ----------------------------------------------
    def _row(self, f: Field, value: Any) -> ComposeResult:
        if f.widget == "select":
            select: Select[str] = Select([(c, c) for c in f.choices], value=value, allow_blank=False, compact=True,
                                         id=f"in-{dom_id(f.key)}", tooltip=tooltip(f))
            yield FieldRow(f.key, str(f.label), select)
        elif f.widget == "input":
            yield FieldRow(f.key, str(f.label), Input(str(value), compact=True, id=f"in-{dom_id(f.key)}",
                                                      tooltip=tooltip(f)))
        elif f.widget == "flags":
            labels = f.extra.get("choice_labels", {})
            with Vertical(id=f"row-{dom_id(f.key)}", classes="field"):
                yield Label(str(f.label), id=f"{f.name}-label")
                with Horizontal(id=f.name, classes="flags"):
                    for choice in f.choices:
                        yield Flag(labels.get(choice, choice), choice in value, compact=True, id=f"feat-{choice}",
                                   tooltip=f.help)
                yield ErrorText()
        elif f.widget == "layers" and f.key == LAYER_FIELDS[0]:
            yield from self._layer_editor()

    def _layer_editor(self) -> ComposeResult:
        """The hidden layers, one row each (width, activation, dropout); explicit layers listed above."""
        yield Literal("", id="explicit-layers")
        with Vertical(id=f"row-{dom_id(LAYER_FIELDS[0])}", classes="field"):
            units, activation, drop = (str(FIELDS[k].label) for k in LAYER_FIELDS)
            yield Label(f" # {units} {activation}  {drop}", classes="layers-head")
            with Vertical(id="layers"):
                yield from self._layer_rows(self._config)
            with Horizontal(id="layer-buttons"):
                yield Button("+ layer", id="add-layer", compact=True)
                yield Button("- layer", id="remove-layer", compact=True)
            yield ErrorText()

    def compose(self) -> ComposeResult:
        for section in SECTION_LIST:
            with Collapsible(title=section.title, collapsed=False, id=section_id(section)):
                for f in section.fields:
                    if f.widget:
                        yield from self._row(f, _value(self._config, f))
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
        for key in INPUT_FIELDS:
            _set(out, key, read_value(self.query_one(f"#in-{dom_id(key)}", Input).value, key))
        for key in SELECT_FIELDS:
            _set(out, key, self.choice(key))
        for key in FLAG_FIELDS:
            _set(out, key, [c for c in FIELDS[key].choices if self.query_one(f"#feat-{c}", Checkbox).value])
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
        for key in INPUT_FIELDS:
            self.query_one(f"#in-{dom_id(key)}", Input).value = str(_value(config, FIELDS[key]))
        for key in SELECT_FIELDS:
            self.query_one(f"#in-{dom_id(key)}", Select).value = _value(config, FIELDS[key])
        for key in FLAG_FIELDS:
            chosen = _value(config, FIELDS[key])
            for choice in FIELDS[key].choices:
                self.query_one(f"#feat-{choice}", Checkbox).value = choice in chosen
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
        for key in FLAG_FIELDS:
            reason = check.errors.get(key)
            row = self.query_one(f"#row-{dom_id(key)}")
            row.query_one(ErrorText).show(reason)
            row.query_one(".flags").set_class(reason is not None, "-bad")
        layer_reasons = [f"{k.split('.')[1]}: {check.errors[k]}" for k in LAYER_FIELDS if k in check.errors]
        self.query_one("#row-model-hidden > ErrorText", ErrorText).show("\n".join(layer_reasons))
        bad_units = check.bad_layers.get("model.hidden", set())
        bad_drop = check.bad_layers.get("model.dropout", set())
        for i, row in enumerate(self.query(LayerRow)):
            row.mark(i in bad_units, i in bad_drop)
        known = {row.key for row in self.query(FieldRow)} | set(LAYER_FIELDS) | set(FLAG_FIELDS)
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
        self._changed(FLAG_FIELDS[0])

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
    for key in INPUT_FIELDS + SELECT_FIELDS:
        if wid == f"in-{dom_id(key)}":
            return key
    return wid
