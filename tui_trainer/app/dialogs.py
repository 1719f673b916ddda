"""Modal dialogs: save the form as a preset, confirm an overwrite, open a preset.

Each dialog only asks; the app does the saving and loading, so the rules
(names, folders, refusing to overwrite) stay in ``tui_trainer.core.presets``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_trainer.app.safe import Literal, literal
from tui_trainer.core import presets
from tui_trainer.core.config import FIELDS, Config
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.presets import PresetInfo

#: How the form's optimizers and losses read in a description (their fields' choice labels).
OPTIMIZER_NAMES: dict[str, str] = FIELDS["train.optimizer"].extra["choice_labels"]
LOSS_NAMES: dict[str, str] = FIELDS["train.loss"].extra["choice_labels"]


def _data_name(cfg: Config) -> str:
    """The data in a few letters: the dataset, or a data file's name without its folder and suffix."""
    if cfg.data.dataset == "file" and cfg.data.path:
        return Path(cfg.data.path).stem
    return cfg.data.dataset


def describe_config(cfg: Config) -> str:
    """A preset description from what the form holds, in the textbook's words:
    ``spiral: x1, x2 -> 16 tanh -> 8 tanh -> 1 tanh, MSE, Adam 0.03, batch 15, 2000 epochs, torch``."""
    m, t = cfg.model, cfg.train
    if m.layers:
        net = " -> ".join(layer.type for layer in m.layers)
    else:
        hidden = [f"{units} {act}" for units, act in zip(m.hidden, m.activation, strict=True)]
        net = " -> ".join([", ".join(cfg.data.features), *hidden, f"out {m.output_activation}"])
    noise = f" (noise {cfg.data.noise:g})" if cfg.data.noise else ""
    return (f"{_data_name(cfg)}{noise}: {net}, {LOSS_NAMES.get(t.loss, t.loss)}, "
            f"{OPTIMIZER_NAMES.get(t.optimizer, t.optimizer)} {t.learning_rate:g}, batch {t.batch_size}, "
            f"{t.epochs} epochs, {t.backend}")


def propose_name(cfg: Config) -> str:
    """A preset name from the form: data, hidden widths and framework, e.g. ``spiral-16-8-torch``."""
    widths = [] if cfg.model.layers else [str(w) for w in cfg.model.hidden]
    name = "-".join([_data_name(cfg), *widths, cfg.train.backend])
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return name or "my-preset"


def save_proposal(cfg: Config, preset: str | None, modified: bool, user_preset: bool) -> tuple[str, str]:
    """The name and description the save dialog starts with.

    Your own preset is saved over itself (after asking); an unchanged built-in
    as ``my-<name>``.  A changed form gets a description made from what it now
    holds, never the old preset's words, and, unless it came from your own
    preset, a name made from it too (``spiral-16-8-torch``).
    """
    description = describe_config(cfg) if modified or not cfg.description else cfg.description
    if preset and user_preset:
        return preset, description
    if preset and not modified:
        return f"my-{preset}", description
    return propose_name(cfg), description


@dataclass(frozen=True)
class SaveRequest:
    name: str
    description: str


class SavePresetScreen(ModalScreen[SaveRequest | None]):
    """Asks for a preset name (and an optional description)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, description: str) -> None:
        super().__init__()
        # Not ``_name``: textual's DOM nodes keep their own name there.
        self._proposed_name = name
        self._description = description

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save the form as a preset", classes="dialog-title")
            yield Literal(f"folder: {presets.user_dir()}", classes="dialog-note")
            yield Label("name (letters, digits, - and _):")
            yield Input(self._proposed_name, compact=True, id="preset-name")
            yield Literal("", id="name-error", classes="field-error")
            yield Label("description:")
            yield Input(self._description, compact=True, id="preset-description")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#preset-name", Input).focus()

    def _submit(self) -> None:
        name_input = self.query_one("#preset-name", Input)
        try:
            name = presets.valid_name(name_input.value)
        except ConfigError as exc:
            error = self.query_one("#name-error", Static)
            error.update(exc.reason)
            error.display = True
            name_input.add_class("-bad")
            name_input.focus()
            return
        self.dismiss(SaveRequest(name, self.query_one("#preset-description", Input).value.strip()))

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self._submit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; Escape means no."""

    BINDINGS = [Binding("escape", "no", "No"), Binding("y", "yes", "Yes", show=False),
                Binding("n", "no", "No", show=False)]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self._question = question
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Literal(self._question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._yes, id="yes", variant="warning", compact=True)
                yield Button("No", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


class OpenPresetScreen(ModalScreen[PresetInfo | None]):
    """A path to any ``.toml`` (as ``--preset PATH`` takes), or one of the listed presets.

    The list starts at its top (the one now open is marked, not scrolled to),
    and the path box comes first: type a path and Enter, or move through the
    list with Up/Down from the box and Enter to open the highlighted preset.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("down", "move(1)", "Next", show=False), Binding("up", "move(-1)", "Previous", show=False)]

    def action_move(self, step: int) -> None:
        """Up/Down in the path box move the list's highlight (the list's own keys do that when it has focus)."""
        options = self.query_one("#preset-list", OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self._current = current
        self._presets = presets.list_presets()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Label("Open a preset (Enter opens, Escape cancels)", classes="dialog-title")
            yield Label("a .toml file (~ and relative paths work), or pick one below with Up/Down:")
            yield Input("", placeholder="path/to/preset.toml", compact=True, id="preset-path")
            yield Literal("", id="path-error", classes="field-error")
            options = []
            for info in self._presets:
                text = Text()
                text.append_text(literal(info.name, style="bold"))
                text.append(f"  [{info.source}]", style="dim")
                if info.name == self._current:
                    text.append("  (open now)", style="italic")
                if info.error:  # a broken file is listed with its reason, never hides the rest
                    text.append_text(literal(f"\n  broken: {info.error}", style="red"))
                elif info.description:
                    text.append_text(literal(f"\n  {info.description}"))
                options.append(Option(text, id=info.name))
            if not options:
                yield Static("no presets found (built-in folder missing?)", classes="field-error")
            yield OptionList(*options, id="preset-list")
            yield Literal(f"user presets: {presets.user_dir()}", classes="dialog-note")

    def on_mount(self) -> None:
        options = self.query_one("#preset-list", OptionList)
        if options.option_count:
            options.highlighted = 0
        options.scroll_home(animate=False)
        self.query_one("#preset-path", Input).focus()

    def _path_error(self, reason: str) -> None:
        error = self.query_one("#path-error", Static)
        error.update(reason)
        error.display = True
        path_input = self.query_one("#preset-path", Input)
        path_input.add_class("-bad")
        path_input.focus()

    @on(Input.Submitted, "#preset-path")
    def _path_entered(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            # Nothing typed: Enter opens the preset highlighted in the list (Up/Down move it).
            options = self.query_one("#preset-list", OptionList)
            if options.highlighted is not None:
                self.dismiss(self._presets[options.highlighted])
            return
        path = Path(text).expanduser()
        if path.suffix.lower() != ".toml":
            self._path_error(f"{text}: not a .toml file; a preset is a TOML file")
            return
        if not path.is_file():
            self._path_error(f"{text}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
            return
        self.dismiss(PresetInfo(name=path.stem, source="file", path=path.resolve(), description=""))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._presets[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
