"""Playground keys: jump between the form's sections, and the map's one-key toggles.

TensorFlow Playground has a checkbox for each of these; here each is one key,
listed in the footer.  They are a mixin (``PlaygroundKeys``) so the app module
only lists the bindings: the actions live here, next to what they change.

* **ctrl+n** jumps to the next form section (Data → Network → Training),
  opening it and focusing its first field; **alt+d / alt+n / alt+t** jump to
  one directly.  A closed section is skipped by Tab.
* **ctrl+t** shows or hides the validation ("test") points on the map.
* **ctrl+b** discretizes the output: only each side of the boundary, no shading.
* **ctrl+r** regenerates the data with a new seed (the form's seed plus one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.widgets import Collapsible, Input

from tui_trainer.app.forms import section_id
from tui_trainer.core.config import SECTION_LIST

if TYPE_CHECKING:
    from tui_trainer.app.boundary import BoundaryMap
    from tui_trainer.app.forms import ConfigForm

#: The form's sections in order: (collapsible id, name), as the config declares them.
SECTIONS = tuple((section_id(s), s.title) for s in SECTION_LIST)

PLAYGROUND_BINDINGS = [
    Binding("ctrl+n", "next_section", "Section", priority=True,
            tooltip="next form section: Data, Network, Training (alt+d, alt+n, alt+t jump to one)"),
    Binding("alt+d", "section('sec-data')", "Data", show=False, priority=True),
    Binding("alt+n", "section('sec-network')", "Network", show=False, priority=True),
    Binding("alt+t", "section('sec-training')", "Training", show=False, priority=True),
    Binding("ctrl+t", "toggle_test_points", "Test", priority=True, tooltip="show or hide the validation points"),
    Binding("ctrl+b", "toggle_discrete", "Discrete", priority=True,
            tooltip="discretize the map: each side of the boundary in one colour"),
    Binding("ctrl+r", "regenerate", "New data", priority=True, tooltip="regenerate the data with a new seed"),
]
#: Actions that must not reach the main screen while a dialog is open.
PLAYGROUND_ACTIONS = {"next_section", "section", "toggle_test_points", "toggle_discrete", "regenerate"}


class PlaygroundKeys:
    """The actions of ``PLAYGROUND_BINDINGS``, mixed into the app (which provides the widgets)."""

    form: ConfigForm
    boundary_map: BoundaryMap

    # -- form sections ------------------------------------------------------------------------
    def current_section(self) -> str | None:
        """The id of the section holding the focus, if it is in the form."""
        node = self.focused  # type: ignore[attr-defined]
        while node is not None:
            if isinstance(node, Collapsible) and node.id in dict(SECTIONS):
                return node.id
            node = node.parent
        return None

    def action_next_section(self) -> None:
        ids = [sid for sid, _ in SECTIONS]
        current = self.current_section()
        self.action_section(ids[(ids.index(current) + 1) % len(ids)] if current in ids else ids[0])

    def action_section(self, section_id: str) -> None:
        """Open a section and put the focus on its first field (showing the form if F3 hid it)."""
        self.screen.remove_class("-no-form")  # type: ignore[attr-defined]
        section = self.form.query_one(f"#{section_id}", Collapsible)
        section.collapsed = False

        def focus_first() -> None:
            for widget in section.query("Contents *"):
                if widget.focusable:
                    widget.focus()
                    break
            section.scroll_visible(top=True, animate=False)

        # The contents become focusable once the opened section is laid out.
        self.call_after_refresh(focus_first)  # type: ignore[attr-defined]

    # -- map toggles ----------------------------------------------------------------------------
    def action_toggle_test_points(self) -> None:
        shown = not self.boundary_map.show_test
        self.boundary_map.set_toggles(show_test=shown)
        self.notify("validation points shown" if shown else "validation points hidden", timeout=2)  # type: ignore[attr-defined]

    def action_toggle_discrete(self) -> None:
        discrete = not self.boundary_map.discrete
        self.boundary_map.set_toggles(discrete=discrete)
        self.notify("map discretized: sign only" if discrete else "map shaded by confidence", timeout=2)  # type: ignore[attr-defined]

    def action_regenerate(self) -> None:
        """A new seed in the form: the preview reloads as for any edit, and the next run uses it."""
        seed = self.form.query_one("#in-data-seed", Input)
        try:
            value = int(seed.value)
        except ValueError:
            value = -1
        seed.value = str(max(0, value + 1))
        self.notify(f"new data: seed {seed.value}", timeout=2)  # type: ignore[attr-defined]
