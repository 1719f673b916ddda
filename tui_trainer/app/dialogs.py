"""Modal dialogs: save the form as a preset, confirm an overwrite, open a preset.

Each dialog only asks; the app does the saving and loading, so the rules
(names, folders, refusing to overwrite) stay in ``tui_trainer.presets``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_trainer import presets
from tui_trainer.app.safe import Literal, literal
from tui_trainer.errors import ConfigError
from tui_trainer.presets import PresetInfo


@dataclass(frozen=True)
class SaveRequest:
    name: str
    description: str


class SavePresetScreen(ModalScreen[SaveRequest | None]):
    """Asks for a preset name (and an optional description)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, description: str) -> None:
        super().__init__()
        self._name = name
        self._description = description

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save the form as a preset", classes="dialog-title")
            yield Literal(f"folder: {presets.user_dir()}", classes="dialog-note")
            yield Label("name (letters, digits, - and _):")
            yield Input(self._name, compact=True, id="preset-name")
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
    """Built-in and user presets with their descriptions; Enter opens one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self._current = current
        self._presets = presets.list_presets()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Label("Open a preset (Enter opens, Escape cancels)", classes="dialog-title")
            options = []
            for info in self._presets:
                text = Text()
                text.append_text(literal(info.name, style="bold"))
                text.append(f"  [{info.source}]", style="dim")
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
        options.focus()
        names = [p.name for p in self._presets]
        if self._current in names:
            options.highlighted = names.index(self._current)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._presets[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
