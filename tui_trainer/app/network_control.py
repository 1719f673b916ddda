"""The app's side of the Network panel, kept out of ``app.py``: a mixin of ``TrainerApp``.

What it does:

* asks the engine for ``NetworkUpdated`` events (``RunControl.network_shape``)
  only while the Network panel is on screen or a neuron is selected, at the
  big map's grid shape, so the engine computes the output map and every
  neuron's map in one forward pass, as often as it sends maps anyway;
* draws the panel from the newest event (or, before a run or after the form
  changed, the planned network with neutral neurons);
* when a neuron is selected, puts its map in the big map panel and fills the
  inspector; space on an input feature switches it in the form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Checkbox, Input

from tui_trainer.app.messages import NetworkReady
from tui_trainer.app.model_panel import parse_point
from tui_trainer.app.network_view import (
    Column,
    NetworkPanel,
    NetworkView,
    columns_from_config,
    columns_from_event,
    describe,
    input_grids,
    neuron_range,
)
from tui_trainer.core.config import PLAYGROUND_DATASETS, Config
from tui_trainer.core.events import NetworkUpdated
from tui_trainer.data.datasets import PLAYGROUND_EXTENT
from tui_trainer.engine import network

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Width the weight images of image data are wrapped to, at least.
MIN_IMAGE_WIDTH = 30


class NetworkViewMixin:
    """Methods ``TrainerApp`` gets for the Network panel (it supplies the rest of ``self``)."""

    _network_dirty = False
    #: The selected neuron (column, index) while the view has one; None = the output map.
    inspected: tuple[int, int] | None = None
    _columns: list[Column] | None = None
    _columns_event: NetworkUpdated | None = None

    # -- what is on screen --------------------------------------------------------------------
    def network_visible(self) -> bool:
        try:
            panels = self.query_one("#panels")
        except Exception:  # noqa: BLE001 - closing down: nothing is visible
            return False
        return panels.has_class("-view-network")

    def network_wanted(self) -> bool:
        return self.network_visible() or self.inspected is not None

    def sync_network_request(self) -> None:
        """Tell the running engine whether to send network events, at the map's grid shape."""
        run = self.run_state
        if run is None:
            return
        run.control.network_shape = tuple(self._last_grid) if self.network_wanted() else None
        if self.network_wanted() and run.session.has_model() and (run.over or run.control.paused):
            stale = run.network is None or run.network.epoch != (run.last.epoch if run.last else 0)
            if stale or (run.network.layers and run.network.layers[0].grids is not None
                         and run.network.layers[0].grids.shape[1:] != tuple(self._last_grid)):
                self._redraw_boundary(run, self._last_grid)
        self._network_dirty = True

    def on_network_ready(self, message: NetworkReady) -> None:
        run = self._current(message.run_id)
        old = run.network if run is not None else None
        if run is not None and (old is None or message.event.epoch >= old.epoch):
            run.network = message.event
            self._network_dirty = True
            if self.inspected is not None:
                self._boundary_dirty = True  # the big map shows the neuron: its map changed

    # -- drawing --------------------------------------------------------------------------------
    def _network_event(self) -> NetworkUpdated | None:
        """The run's newest network while it runs, and after it as long as the form keeps its config."""
        run = self.run_state
        if run is None or run.network is None:
            return None
        if self._run_active() or run.config == self.check.config:
            return run.network
        return None

    def draw_network(self) -> None:
        self._network_dirty = False
        if self.closing_down:
            return
        panel = self.query_one("#network-panel", NetworkPanel)
        view = self.query_one("#network-view", NetworkView)
        event = self._network_event()
        cfg: Config | None = self.check.config or (self.run_state.config if self.run_state else None)
        plain = self.no_color
        if event is not None and event.layers and event.layers[0].grids is None:
            panel.set_mode(images=True)
            panel.set_title(f"first-layer weights and filters · epoch {event.epoch}")
            lines = network.network_text(event, color=not plain, width=max(MIN_IMAGE_WIDTH, panel.size.width - 2))
            panel.show_images(Text("\n").join(lines) if lines else Text("no dense or conv weights to draw"))
            return
        if event is None and (cfg is None or cfg.data.dataset not in PLAYGROUND_DATASETS):
            ds = self._display_dataset()
            if cfg is None or ds is None or not ds.is_2d:
                panel.set_mode(images=True)
                panel.set_title("network")
                panel.show_images(Text("the network view draws each neuron's map for 2-D data; for images it "
                                       "shows the first layer's weights and conv filters once a run has started"
                                       if cfg is None or ds is None or ds.image_shape is not None else
                                       "no network view: the data is not 2-D points or images"))
                return
        panel.set_mode(images=False)
        if event is not None:
            features = self.run_state.config.data.features
            columns = columns_from_event(event, features)
            title = f"network · epoch {event.epoch}"
        else:
            ds = self._display_dataset()
            extent = ds.extent if ds is not None and ds.is_2d else PLAYGROUND_EXTENT
            columns = columns_from_config(cfg, tuple(self._last_grid), extent)
            title = "planned network (F5 trains it)"
            if columns is None:
                panel.set_title("fix the marked fields to see the network")
                view.show([], plain)
                return
        panel.set_title(title + " · arrows/mouse select, Esc output map")
        self._columns, self._columns_event = columns, event
        view.show(columns, plain)
        self.update_inspector()

    def update_inspector(self) -> None:
        panel = self.query_one("#network-panel", NetworkPanel)
        where, columns = self.inspected, self._columns
        if where is None or not columns or where[0] >= len(columns) or where[1] >= columns[where[0]].size:
            panel.set_inspector(Text("select a neuron (arrow keys or the mouse) to see its map, bias and weights",
                                     style="dim"))
            return
        point = parse_point(self.query_one("#predict-input", Input).value)
        point = point if isinstance(point, tuple) else None
        event = self._columns_event  # the event the columns were drawn from
        features = self.run_state.config.data.features if event is not None and self.run_state else (
            self.check.config.data.features if self.check.config else ())
        panel.set_inspector(describe(columns, where, point, event, features))

    # -- the big map shows the selected neuron ------------------------------------------------
    def neuron_map(self) -> tuple[np.ndarray, bool, str] | None:
        """(values, regression-style scale, title) for the selected neuron, or None (the output map)."""
        import numpy as np

        where, columns = self.inspected, self._columns
        if where is None or not columns or where[0] >= len(columns):
            return None
        c, i = where
        col = columns[c]
        if i >= col.size:
            return None
        if col.grids is None:
            return None
        grid = col.grids[i]
        shape = tuple(self._last_grid)
        if col.kind == "inputs" and grid.shape != shape:
            ds = self._display_dataset()
            grid = input_grids(shape, ds.extent if ds is not None else PLAYGROUND_EXTENT)[i]
        lo, hi = neuron_range(col, grid)
        if col.activation == "sigmoid":
            values, regression = (grid - 0.5) * 2.0, False  # [0, 1] onto the map's [-1, 1]
        else:
            values, regression = grid, (lo, hi) != (-1.0, 1.0)
        name = col.labels[i] if col.kind == "inputs" else f"{col.layer.name if col.layer else col.title} #{col.labels[i]}"
        return np.asarray(values, np.float32), regression, f"neuron {name} {col.activation or 'input'}"

    def on_network_view_selected(self, message: NetworkView.Selected) -> None:
        if self.closing_down:
            return
        self.inspected = message.where
        self.sync_network_request()
        self.update_inspector()
        self._show_data_mode()

    def on_network_view_feature_toggled(self, message: NetworkView.FeatureToggled) -> None:
        box = self.query_one(f"#feat-{message.key}", Checkbox)
        box.value = not box.value
        self.notify(f"input {message.key} switched {'on' if box.value else 'off'} (F5 trains with it)")
