"""The Textual app: a face on the engine, built by ``create_app``.

Threads and the UI meet in exactly one way: thread workers (training, data
preview, framework import, predictions) post small messages; the UI thread
folds them into ``RunState`` and a 10 Hz timer redraws what changed.  So a run
with 1 ms epochs costs the UI one list append per epoch, and the screen never
sees more than ten repaints a second however fast the engine goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Tab, Tabs
from textual.worker import Worker, WorkerState, get_current_worker

from tui_trainer.app.boundary import (
    GALLERY_MAX,
    BoundaryMap,
    MapPanel,
    axis_note,
    class_report_table,
    gallery,
    map_points,
    map_shape,
)
from tui_trainer.app.compare_mixin import CompareMixin
from tui_trainer.app.dialogs import ConfirmScreen, OpenPresetScreen, SavePresetScreen, SaveRequest, save_proposal
from tui_trainer.app.footer import WrappingFooter
from tui_trainer.app.forms import CompactButton, ConfigForm, FormCheck, check_form
from tui_trainer.app.keys import PLAYGROUND_ACTIONS, PLAYGROUND_BINDINGS, PlaygroundKeys
from tui_trainer.app.messages import (
    BackendLoaded,
    BoundaryReady,
    ClassReportReady,
    Courier,
    DataLoaded,
    EpochDone,
    EpochProgressed,
    GalleryPredicted,
    NetworkReady,
    PredictionDone,
    RunBegan,
    RunEnded,
)
from tui_trainer.app.metrics import MetricsTable, StatusLine
from tui_trainer.app.model_panel import ModelPanel, describe_prediction, parse_point, planned_summary
from tui_trainer.app.network_control import NetworkViewMixin
from tui_trainer.app.network_view import NetworkPanel
from tui_trainer.app.plot import LossPlot
from tui_trainer.app.remote import RemoteRuns
from tui_trainer.app.safe import literal
from tui_trainer.app.state import BACKEND_NAMES, Clock, RunState, UiBudget
from tui_trainer.app.sweep_mixin import SweepMixin
from tui_trainer.backends import BACKEND_MODULES, is_installed
from tui_trainer.backends.base import default_threads
from tui_trainer.core import mapview, presets
from tui_trainer.core.config import PLAYGROUND_DATASETS, Config, DataConfig
from tui_trainer.core.control import RunControl
from tui_trainer.core.errors import UserError
from tui_trainer.core.events import RunFailed
from tui_trainer.core.textsafe import printable
from tui_trainer.data.datasets import Dataset, load_dataset
from tui_trainer.engine.session import Session

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Name prefix of the threads that import a framework (daemon threads; see ``_import_backend``).
IMPORT_THREAD_PREFIX = "tui-trainer-import-"
#: Seconds between redraws of the table, plot, map and status (10 Hz at most).
FLUSH_INTERVAL = 0.1
#: Seconds between boundary maps the engine sends while training (twice that for very fast runs).
GRID_INTERVAL = 0.25
#: Seconds the form must be still before the preview data is loaded again.
PREVIEW_DELAY = 0.3
#: Seconds between status line redraws while training (state changes redraw it at once).
#: It spans the screen, so repainting it makes Textual recompose every row it shares
#: with a redrawn panel, the form included.
STATUS_INTERVAL = 0.5
#: GIL switch interval while the app runs (Python's default is 5 ms).  The training thread
#: gives the GIL up in every framework call; with the default it may then wait up to 5 ms for
#: the UI thread each time, which can halve a fast run.  1 ms keeps both moving.
SWITCH_INTERVAL = 0.001
VIEWS = ("train", "map", "model", "network")
TABLE_TITLE = "epochs (newest first, ★ best)"
#: How much each panel's wait counts when a fast run leaves time for one panel per tick.
PRIORITY = {"plot": 1.0, "map": 1.0, "table": 0.5, "status": 2.0, "network": 1.0}
#: Seconds a panel may go undrawn while the UI is over its budget.
MAX_STALE = {"plot": 1.0, "map": 1.0, "table": 1.5, "status": 1.0, "network": 1.0}
#: Playground data is drawn from Python's and numpy's global random generators, seeded and
#: restored around each load; two loads at once (a preview and a run) would mix their
#: streams, so the app's threads load one dataset at a time.
DATA_LOCK = threading.Lock()


def engine_threads() -> int:
    """Framework threads for training: all cores but one, which the UI keeps.

    ``TUI_TRAINER_THREADS`` still wins, as it does for the headless face.
    """
    env = os.environ.get("TUI_TRAINER_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, default_threads() - 1)


class MainScreen(Screen):
    """The app's one screen.  Its first resume does not restyle every widget again: each was styled as it was
    mounted a moment before, and the second pass cost ~50 ms of the first frame (a fifth of the widgets' cost)."""

    _resumed = False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
        super()._on_screen_resume(event)


class TrainerApp(RemoteRuns, CompareMixin, SweepMixin, PlaygroundKeys, NetworkViewMixin, App[None]):
    """Build a network in the side panel, train it, watch it learn."""

    CSS_PATH = "app.tcss"
    TITLE = "tui-trainer"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("f5", "start", "Start", priority=True, tooltip="start a run (or a new one when finished)"),
        Binding("f6", "pause", "Pause", priority=True, tooltip="pause or resume the run"),
        Binding("f7", "stop", "Stop", priority=True, tooltip="stop the run"),
        Binding("f8", "step", "Step", priority=True, tooltip="train one epoch, then pause"),
        Binding("ctrl+s", "save_preset", "Save", priority=True, tooltip="save the form as a preset"),
        Binding("ctrl+o", "open_preset", "Open", priority=True, tooltip="open a preset"),
        Binding("f2", "next_view", "View", tooltip="next panel (narrow screens); training curves or the network (wide)"),
        Binding("f3", "toggle_form", "Form", tooltip="hide or show the form"),
        Binding("f4", "predict", "Ask", tooltip="ask the model about a point (the predict box)"),
        Binding("f9", "compare", "Compare", tooltip="runs side by side: pick runs, overlay their curves; run a study"),
        Binding("f10", "runs", "Runs", tooltip="open a recorded run (live while it goes)"),
        Binding("f12", "sweep", "Sweep", tooltip="hyperparameter sweeps (Optuna): trials live; start one from the form"),
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="stop any run and quit"),
        *PLAYGROUND_BINDINGS,
    ]
    RUN_ACTIONS = {"start", "pause", "stop", "step", "save_preset", "open_preset", "next_view", "toggle_form",
                   "predict", "runs", "sweep", *PLAYGROUND_ACTIONS}

    def __init__(self, config: Config, preset_name: str | None = None, *, threads: int | None = None,
                 clock: Clock = time.monotonic, show_timings: bool = True, process: bool = True,
                 attach: Path | None = None, runs_dir: str | None = None) -> None:
        super().__init__()
        self._init_remote(process, attach, runs_dir)
        self.initial_config = config
        self.preset_name = preset_name
        self.threads = threads or engine_threads()
        #: Test hook: a frozen clock plus hidden timings make screenshots repeatable.
        self.clock = clock
        self.show_timings = show_timings
        self.run_state: RunState | None = None
        self.check: FormCheck = FormCheck(config=config)
        self.preview: Dataset | None = None
        self.preview_key: DataConfig | None = None
        self.preview_error: str | None = None
        self._preview_wanted: DataConfig | None = None
        self._preview_timer: Any = None
        self._run_id = 0
        self._boundary_dirty = False
        self._report_dirty = False
        self._loading: set[str] = set()
        self._imported: set[str] = set()
        self._backend_errors: dict[str, str] = {}
        self._note: tuple[str, bool] | None = None
        self._last_grid: tuple[int, int] = (20, 40)
        self._gallery_pred: tuple[int, np.ndarray] | None = None
        # Not ``_resize_timer``: textual.App uses that name for its own resize handling, and
        # a timer of ours left in it made the app ignore every terminal resize after a run.
        self._map_resize_timer: Any = None
        self._switch_interval: float | None = None
        #: When each panel was last drawn (perf_counter), for the round robin while training.
        self._drawn: dict[str, float] = {}
        self.ui_budget = UiBudget()
        self._stale_shown = False

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification quotes user text (names, paths, values): never read it as markup."""
        super().notify(printable(message, keep_newlines=True), title=printable(title), severity=severity,
                       timeout=timeout, markup=False)

    # -- layout -------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def compose(self) -> ComposeResult:
        self._apply_breakpoints()  # before the widgets exist: classes on an empty screen restyle nothing
        yield StatusLine(id="status")
        with Horizontal(id="body"):
            with Vertical(id="side"):
                with Horizontal(id="run-buttons"):
                    yield CompactButton("Start", id="btn-start", tooltip="F5")
                    yield CompactButton("Pause", id="btn-pause", tooltip="F6")
                    yield CompactButton("Stop", id="btn-stop", tooltip="F7")
                    yield CompactButton("Step", id="btn-step", tooltip="F8")
                yield ConfigForm(self.initial_config, id="form")
            with Vertical(id="main"):
                yield Tabs(*(Tab(view.title(), id=f"tab-{view}") for view in VIEWS), id="view-tabs")
                with Container(id="panels", classes="-view-train"):
                    with Vertical(id="train-panel", classes="panel"):
                        yield LossPlot(id="loss-plot")
                        yield MetricsTable(id="metrics", show_timings=self.show_timings)
                    yield NetworkPanel(id="network-panel", classes="panel")
                    yield MapPanel(id="map-panel", classes="panel")
                    yield ModelPanel(id="model-panel", classes="panel")
        yield WrappingFooter(compact=True, show_command_palette=False)

    # Panels are looked up once: the redraw timer may tick while the app is closing,
    # when the screen is already gone and a query would fail.
    @cached_property
    def form(self) -> ConfigForm:
        return self.query_one("#form", ConfigForm)

    @cached_property
    def map_panel(self) -> MapPanel:
        return self.query_one("#map-panel", MapPanel)

    @cached_property
    def boundary_map(self) -> BoundaryMap:
        return self.query_one("#map", BoundaryMap)

    @cached_property
    def plot(self) -> LossPlot:
        return self.query_one("#loss-plot", LossPlot)

    @cached_property
    def table(self) -> MetricsTable:
        return self.query_one("#metrics", MetricsTable)

    @cached_property
    def model_panel(self) -> ModelPanel:
        return self.query_one("#model-panel", ModelPanel)

    @cached_property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def closing_down(self) -> bool:
        """True once the widgets are gone: Textual still delivers queued messages while closing."""
        return not self.is_running or not self.form.is_attached

    def _apply_breakpoints(self) -> None:
        """Give the screen its breakpoint classes now, from the terminal's size.

        Textual adds them when the screen gets its first Resize, which comes after
        the first frame: at 120x40 that frame was the narrow tabbed layout,
        replaced a moment later.  Resizes keep them up to date as before.
        """
        width, height = self.size
        classes: dict[str, bool] = {}
        for dimension, breakpoints in ((width, self.HORIZONTAL_BREAKPOINTS), (height, self.VERTICAL_BREAKPOINTS)):
            chosen = next((name for least, name in sorted(breakpoints, reverse=True) if dimension >= least), None)
            for _, name in breakpoints:
                classes[name] = name == chosen
        # One batch: each class change restyles the whole screen (~50 ms apiece before the first frame).
        self.screen.update_classes(classes)

    def on_mount(self) -> None:
        for name in ("form", "map_panel", "boundary_map", "plot", "table", "model_panel", "status"):
            getattr(self, name)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self.query_one("#loss-plot").border_title = "loss"
        self.query_one("#metrics").border_title = TABLE_TITLE
        self.map_panel.border_title = "map"
        self.model_panel.border_title = "model"
        self.set_interval(FLUSH_INTERVAL, self._redraw_tick)
        self._validate()
        self._show_data_mode()
        self._sync_controls()
        # After the first frame: the framework import takes seconds and must not hold it up.
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        self._preload_backend(self.form.choice("train.backend"))
        self._schedule_preview(now=True)
        if self.attach_folder is not None:
            self.open_run(self.attach_folder)

    # -- form ---------------------------------------------------------------------------------
    def _validate(self) -> FormCheck:
        check = check_form(self.form.raw())
        self.form.show_check(check)
        self.check = check
        self._update_model_panel()
        self._update_status()
        return check

    @on(ConfigForm.Changed)
    def _form_changed(self, event: ConfigForm.Changed) -> None:
        if self.closing_down:
            return
        check = self._validate()
        self._network_dirty = True
        if check.ok and self._note is not None and self._note[0].startswith("can't start"):
            self._note = None  # the refused F5's reason is gone once the form is fixed
            self._update_status()
        if event.key in ("train.backend", "preset"):
            self._preload_backend(self.form.choice("train.backend"))
        if check.ok and self.preview_key != check.config.data:
            self._schedule_preview()
        self._sync_controls()

    def _update_model_panel(self) -> None:
        run = self.run_state
        if run is not None and run.started is not None and (not run.over or run.config == self.check.config):
            title = "model of the current run" if not run.over else "model of the last run"
            self.model_panel.show_summary(run.started.summary, title=title, notes=run.started.notes)
            return
        cfg = self.check.config
        if cfg is None:
            self.model_panel.show_summary("fix the marked fields to see the model", title="planned model")
            return
        dataset = self.preview if self.preview_key == cfg.data else None
        self.model_panel.show_summary(planned_summary(cfg, dataset), title="planned model (F5 trains it)")

    def _planned_params(self) -> int | None:
        cfg = self.check.config
        if cfg is None:
            return None
        summary = planned_summary(cfg, self.preview if self.preview_key == cfg.data else None)
        return None if isinstance(summary, str) else summary.params

    # -- background: framework import and preview data -----------------------------------------
    def _preload_backend(self, name: str) -> None:
        if name in self._imported or name in self._loading or name not in BACKEND_MODULES:
            return
        if not is_installed(name):
            self._backend_errors[name] = f"{BACKEND_NAMES.get(name, name)} is not installed"
            self._update_status()
            return
        self._loading.add(name)
        self._update_status()
        (self._warm_backend if self.process else self._import_backend)(name)

    def _import_backend(self, name: str) -> None:
        """Import a framework on a daemon thread, not a Textual worker.

        An import can't be cancelled, and a worker runs in asyncio's executor,
        which ``App.run`` joins on the way out: quitting while TensorFlow was
        still loading took 4-6 s.  A daemon thread is left behind instead (the
        CLI then ends the process at once, see ``cli.IMPORT_THREAD_PREFIX``).
        """

        def load() -> None:
            try:
                importlib.import_module(BACKEND_MODULES[name][0])
            except Exception as exc:  # noqa: BLE001 - a broken install is shown, not raised
                message = BackendLoaded(name, error=f"{type(exc).__name__}: {exc}")
            else:
                message = BackendLoaded(name)
            if self.is_running:
                with contextlib.suppress(RuntimeError):  # the app's loop may have closed meanwhile
                    self.post_message(message)

        threading.Thread(target=load, name=f"{IMPORT_THREAD_PREFIX}{name}", daemon=True).start()

    def on_backend_loaded(self, message: BackendLoaded) -> None:
        if self.closing_down:
            return
        self._loading.discard(message.backend)
        if message.error:
            self._backend_errors[message.backend] = message.error
        else:
            self._imported.add(message.backend)
        self._update_status()

    def backend_ready(self, name: str) -> bool:
        """Whether the framework has been imported (tests wait on this for stable screenshots)."""
        return name in self._imported or name in self._backend_errors

    def _schedule_preview(self, now: bool = False) -> None:
        cfg = self.check.config
        if cfg is None:
            return
        self._preview_wanted = cfg.data
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = None
        if now:
            self._load_preview(cfg)
        else:
            self._preview_timer = self.set_timer(PREVIEW_DELAY, lambda: self._load_preview(cfg))

    @work(thread=True, exit_on_error=False, group="data", exclusive=True, description="load the preview data")
    def _load_preview(self, cfg: Config) -> None:
        try:
            with DATA_LOCK:
                dataset = load_dataset(cfg)
        except UserError as exc:
            self.post_message(DataLoaded(cfg.data, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the map says what went wrong instead of crashing
            self.post_message(DataLoaded(cfg.data, None, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(DataLoaded(cfg.data, dataset))

    def on_data_loaded(self, message: DataLoaded) -> None:
        if self.closing_down:
            return
        if message.key != self._preview_wanted:
            return  # an older request finished after a newer one was made
        self.preview, self.preview_key, self.preview_error = message.dataset, message.key, message.error
        self._update_model_panel()
        self._update_status()
        if not self._run_active():
            self._show_data_mode()

    def preview_ready(self) -> bool:
        """Whether the preview for the current form is loaded (or failed)."""
        cfg = self.check.config
        return cfg is not None and self.preview_key == cfg.data

    # -- the map panel ----------------------------------------------------------------------------
    def _display_dataset(self) -> Dataset | None:
        """The run's data while it runs, and after it as long as the form keeps the same data."""
        run = self.run_state
        if run is not None and run.session.dataset is not None:
            if self._run_active() or self.preview_key is None or self.preview_key == run.config.data:
                return run.session.dataset
        return self.preview

    def _show_data_mode(self) -> None:
        """Pick map or gallery for the data on show and draw it (points over a neutral map before training)."""
        panel = self.map_panel
        ds = self._display_dataset()
        cfg = self.check.config or self.initial_config
        plain = self.no_color
        run = self.run_state
        trained = run is not None and ds is not None and run.session.dataset is ds
        if ds is None:
            if self.preview_error and not self._run_active():
                panel.set_mode("text")
                panel.set_title("can't load the data")
                panel.show_gallery(literal(self.preview_error, style="red"))
                panel.show_report(None)
                return
            name = cfg.data.dataset
            panel.set_mode("map" if name in PLAYGROUND_DATASETS else "text")
            panel.set_title(f"loading {name} data…")
            self.boundary_map.show(None, [], regression=cfg.task == "regression", plain=plain)
            if name not in PLAYGROUND_DATASETS:
                panel.show_gallery(Text(""))
                panel.show_report(None)
            return
        regression = ds.task == "regression"
        split = f"{len(ds.x_train)} train, {len(ds.x_val)} val"
        if ds.is_2d:
            panel.set_mode("map")
            panel.set_legend(mapview.legend(color=not plain, regression=regression))
            boundary = run.boundary if trained and run.boundary is not None else None
            neuron = self.neuron_map()
            if neuron is not None:
                values, scaled, what = neuron
                panel.set_title(what, ds.name, "Esc: output map", axis_note(ds))
                self.boundary_map.show(values, map_points(ds), regression=scaled, plain=plain, extent=ds.extent)
            elif boundary is None:
                panel.set_title(ds.name, "no model yet", split, axis_note(ds))
                self.boundary_map.show(None, map_points(ds), regression=regression, plain=plain, extent=ds.extent)
            else:
                what = ("last run's " if self.run_is_stale() else "") + ("output" if regression else "boundary")
                panel.set_title(ds.name, f"{what} · epoch {boundary.epoch}", axis_note(ds), split)
                self.boundary_map.show(boundary.values, map_points(ds), regression=regression, plain=plain,
                                       extent=boundary.extent)
            return
        panel.set_mode("text")
        if ds.image_shape is not None:
            predicted = None
            if trained and self._gallery_pred is not None and self._gallery_pred[0] == run.run_id:
                predicted = self._gallery_pred[1]
            key = "predicted=true" if predicted is not None else "t: true label"
            panel.set_title(ds.name, f"val images, {key}", split)
            panel.show_gallery(gallery(ds, predicted, max(20, panel.size.width - 2), plain))
        else:
            panel.set_title(ds.name, split)
            panel.show_gallery(Text(f"no map: the data has {ds.input_shape} inputs, not 2-D points"))
        report = run.class_report if trained else None
        panel.show_report(class_report_table(report) if report is not None else None)

    @on(MapPanel.Resized)
    def _panel_resized(self, event: MapPanel.Resized) -> None:
        if self.closing_down or event.size.width <= 0:
            return
        if self.map_panel.mode == "text":
            self._show_data_mode()  # the gallery fits as many images as the width allows

    @on(BoundaryMap.Resized)
    def _map_resized(self, event: BoundaryMap.Resized) -> None:
        if self.closing_down:
            return
        if event.size.width <= 0 or event.size.height <= 0:
            return
        shape = map_shape(event.size)
        self._last_grid = shape
        self._network_dirty = True
        run = self.run_state
        if run is None:
            return
        run.control.grid_shape = shape
        if run.control.network_shape is not None:
            run.control.network_shape = shape
        if (run.over or run.control.paused) and run.boundary is not None and run.boundary.values.shape != shape:
            if self._map_resize_timer is not None:
                self._map_resize_timer.stop()
            self._map_resize_timer = self.set_timer(0.2, lambda: self._redraw_boundary(run, shape))

    @work(thread=True, exit_on_error=False, group="predict", description="redraw the map")
    def _redraw_boundary(self, run: RunState, shape: tuple[int, int]) -> None:
        """The model's map asked of the session directly: at a new size after a run, or when paused.

        The engine only sends maps while it trains; a paused or finished model
        doesn't change, so one prediction over the grid is all it takes.  The
        session's lock makes this wait for an epoch in flight.
        """
        session = run.session
        if not session.has_model():
            return
        try:  # labelled with the epoch the weights belong to
            if run.control.network_shape is not None:  # the network view is open: its maps too, same pass
                net, event = session.network(shape, map_shape=shape)
                self.post_message(NetworkReady(run.run_id, net))
            else:
                event = session.boundary(shape[0], shape[1])
        except Exception:  # noqa: BLE001 - keep the old map if the model can't be asked
            return
        if event is not None:
            self.post_message(BoundaryReady(run.run_id, event))

    # -- running --------------------------------------------------------------------------------
    def _run_active(self) -> bool:
        return self.run_state is not None and not self.run_state.over

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer keeps every key lit, whatever the run state: greying keys out means
        # rebuilding the footer (a whole-screen layout) just as a run starts.  Keys that
        # don't apply say why instead, and the buttons show what applies.
        if action in self.RUN_ACTIONS and (isinstance(self.screen, ModalScreen)
                                           or getattr(self.screen, "blocks_run_keys", False)):
            return False
        return True

    def _sync_controls(self) -> None:
        """The buttons follow the run state."""
        active = self._run_active()
        paused = active and self.run_state.control.paused
        # Start stays enabled (it explains itself while a run goes): disabling the focused
        # button would move focus, and a focus change rebuilds the footer mid-start.
        pause = self.query_one("#btn-pause", Button)
        pause.disabled = not active
        pause.label = "Resume" if paused else "Pause"
        self.query_one("#btn-stop", Button).disabled = not active

    def _start(self, *, stepping: bool = False) -> RunState | None:
        if self._run_active():
            self.notify("A run is going: F7 stops it, F6 pauses it.", severity="warning")
            return None
        check = self._validate()
        if not check.ok:
            self.form.focus_first_error(check)
            count = len(check.errors)
            self._note = (f"can't start: fix {count} marked field{'s' if count > 1 else ''}", True)
            self._update_status()
            self.notify(check.summary(), title="Can't start yet", severity="error", timeout=8)
            return None
        cfg = check.config
        dataset = self.preview if self.preview_key == cfg.data else None
        control, session = (self._remote_parts(cfg, dataset) if self.process
                            else (RunControl(), Session(cfg, dataset, threads=self.threads)))
        control.grid_interval = GRID_INTERVAL
        control.grid_shape = self._last_grid
        control.network_shape = self._last_grid if self.network_wanted() else None
        if stepping:
            control.step()
        self._run_id += 1
        run = RunState(self._run_id, cfg, control, session, self.clock())
        self.run_state = run
        self._note = None
        self._gallery_pred = None
        self._preload_backend(cfg.train.backend)
        self.plot.set_history(run.epochs, cfg.task == "regression", placeholder="starting: waiting for the first epoch…")
        self.plot.mark_dirty()
        (self._train_remote if self.process else self._train)(run)
        self._show_data_mode()
        self._sync_controls()
        self._update_status()
        return run

    @work(thread=True, exit_on_error=False, group="train", description="train in this process")
    def _train(self, run: RunState) -> None:
        """Runs the engine; every event goes to the UI as a message, nothing else crosses."""
        from tui_trainer.runs.launch import store_exporter  # the recorder's imports wait for a run

        worker = get_current_worker()
        courier = Courier(run.run_id, self.post_message, lambda: run.control.paused)
        try:  # every run is recorded in the runs folder (tui-trainer runs lists it)
            recorder = store_exporter(self.preset_name, run.config, lambda: run.session)
        except UserError:
            recorder = None

        def emit(event: Any) -> None:
            if worker.is_cancelled:
                run.control.stop()
            courier(event)
            if recorder is not None:
                recorder(event)

        try:
            # Not previewed yet: load it here, one load at a time (see DATA_LOCK).  If that
            # fails, the engine tries again and reports why as RunFailed.
            with DATA_LOCK:
                try:
                    run.session.load_data()
                except Exception:  # noqa: BLE001 - reported by the engine's own attempt
                    pass
            run.session.run(emit, run.control)
        finally:
            if recorder is not None:
                recorder.close()
            run.thread_done.set()

    def _current(self, run_id: int) -> RunState | None:
        run = self.run_state
        return run if run is not None and run.run_id == run_id else None

    def on_run_began(self, message: RunBegan) -> None:
        if self.closing_down:
            return
        run = self._current(message.run_id)
        if run is None:
            return
        run.fold(message.event)
        self._loading.discard(run.config.train.backend)
        self._imported.add(run.config.train.backend)
        self.plot.set_history(run.epochs, run.regression)
        self._update_model_panel()
        self._show_data_mode()
        self.plot.mark_dirty()

    def on_epoch_done(self, message: EpochDone) -> None:
        run = self._current(message.run_id)
        if run is not None:
            first = not run.epochs
            for event in message.events:
                run.add_epoch(event)
            self.plot.mark_dirty()
            if first and not self.closing_down:  # the first epoch shows at once, not at the next status tick
                self._drawn["status"] = time.perf_counter()
                self._update_status()
            if run.control.paused and not self.closing_down:
                # A paused (or stepped) model: show its map now, not the last one sent while training.
                self._redraw_boundary(run, self._last_grid)

    def on_epoch_progressed(self, message: EpochProgressed) -> None:
        run = self._current(message.run_id)
        if run is not None and not run.over:
            run.progress = message.event  # drawn by the status line on its next tick

    def on_boundary_ready(self, message: BoundaryReady) -> None:
        run = self._current(message.run_id)
        old = run.boundary if run is not None else None
        event = message.event
        if run is not None and (old is None or event.epoch >= old.epoch or event.values.shape != old.values.shape):
            run.boundary = event
            self._boundary_dirty = True

    def on_class_report_ready(self, message: ClassReportReady) -> None:
        run = self._current(message.run_id)
        if run is not None:
            run.fold(message.event)
            self._report_dirty = True

    def on_run_ended(self, message: RunEnded) -> None:
        if self.closing_down:
            return
        run = self._current(message.run_id)
        if run is None:
            return
        run.ended_at = self.clock()
        end = message.failed if message.failed is not None else message.finished
        if end is not None:
            run.fold(end)
        if message.failed is not None and run.failed is not None:
            self._note = (run.failed, True)
            self.notify(run.failed, title="Run failed", severity="error", timeout=15)
        placeholder = "no epochs: the run failed" if run.failed else "no epochs yet: press F5 to train"
        self.plot.set_history(run.epochs, run.regression, placeholder=placeholder)
        self._boundary_dirty = True
        self._redraw_tick(force=True)
        self._sync_controls()
        self._update_model_panel()
        ds = run.session.dataset
        if run.finished is not None and ds is not None and ds.image_shape is not None and run.session.has_model():
            self._predict_gallery(run)

    @work(thread=True, exit_on_error=False, group="predict", description="predict the gallery")
    def _predict_gallery(self, run: RunState) -> None:
        import numpy as np

        ds = run.session.dataset
        try:
            raw = run.session.predict_raw(ds.x_val[:GALLERY_MAX])
        except Exception:  # noqa: BLE001 - the gallery then just shows true labels
            return
        self.post_message(GalleryPredicted(run.run_id, np.argmax(np.asarray(raw), axis=1)))

    def on_gallery_predicted(self, message: GalleryPredicted) -> None:
        if self.closing_down:
            return
        if self._current(message.run_id) is not None:
            self._gallery_pred = (message.run_id, message.predicted)
            self._show_data_mode()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A bug in a worker (not a failed run: the engine reports those) is shown, never swallowed."""
        if event.state != WorkerState.ERROR or self.closing_down:
            return
        error = event.worker.error
        message = f"{type(error).__name__}: {error}"
        self.notify(message, title=f"Internal error in {event.worker.name}", severity="error", timeout=15)
        run = self.run_state
        if event.worker.group == "train" and run is not None and not run.over:
            run.fold(RunFailed(message=message))
            run.ended_at = self.clock()
            self._note = (message, True)
            self._redraw_tick(force=True)
            self._sync_controls()

    # -- redraw timer -----------------------------------------------------------------------------
    def _redraw_tick(self, force: bool = False) -> None:
        """Draw what changed since the last tick: at most FLUSH_INTERVAL apart, within the UI budget.

        While a run goes and the UI thread nears its CPU budget (``UiBudget``),
        one panel is drawn per tick, the one that waited longest; over budget,
        only a panel older than ``MAX_STALE``.  So a fast run keeps the GIL for
        training and the screen still moves every second or so.  Otherwise (a
        slow run, a pause, idle, or ``force``d when a run ends) everything that
        changed is drawn at once.
        """
        if self.closing_down:
            return
        now = time.perf_counter()
        self.ui_budget.sample(now, time.thread_time())
        run = self.run_state
        jobs: dict[str, Callable[[], None]] = {}
        if self.plot.pending:
            jobs["plot"] = self.plot.redraw
        if self.table.pending(run):
            jobs["table"] = lambda: self.table.show(run)
        if self._boundary_dirty or self._report_dirty:
            jobs["map"] = self._draw_map
        if self._network_dirty and self.network_visible():
            jobs["network"] = self.draw_network
        racing = self._run_active() and not self.run_state.control.paused
        # Paused, the status is drawn with the table, so both show the same newest epoch.
        status_due = force or not racing or now - self._drawn.get("status", 0.0) >= STATUS_INTERVAL
        if status_due:
            jobs["status"] = self._update_status
        if not force and racing and jobs:
            used = self.ui_budget.used()
            # A run fast enough to fill the UI budget gets maps half as often: each one costs the
            # engine a prediction over the grid and the UI a redraw.
            self.run_state.control.grid_interval = GRID_INTERVAL * (2 if used >= self.ui_budget.share / 2 else 1)
            waited = {name: now - self._drawn.get(name, 0.0) for name in jobs}
            if used >= self.ui_budget.share:
                # Over budget: only what has been left alone too long, so nothing lags much.
                jobs = {name: job for name, job in jobs.items() if waited[name] >= MAX_STALE[name]}
            if "status" in jobs:
                # The status line spans the screen: drawn with a panel, Textual would recompose
                # every row between them, so it gets a tick of its own (it is cheap alone).
                jobs = {"status": jobs["status"]}
            elif len(jobs) > 1 and used >= self.ui_budget.share / 2:
                # Near or over budget: one panel per tick, the one that waited longest, weighed by
                # priority (the table is the dearest to draw; the plot shows the trend meanwhile).
                most = max(jobs, key=lambda name: waited[name] * PRIORITY[name])
                jobs = {most: jobs[most]}
        for name, job in jobs.items():
            self._drawn[name] = now
            job()

    def _draw_map(self) -> None:
        self._boundary_dirty = self._report_dirty = False
        self._show_data_mode()

    def _update_status(self) -> None:
        backend = self.form.choice("train.backend")
        run = self.run_state
        wanted = run.config.train.backend if self._run_active() and run.started is None else backend
        loading = BACKEND_NAMES.get(wanted, wanted) if wanted in self._loading else None
        note = self._note
        if note is None and wanted in self._backend_errors:
            note = (self._backend_errors[wanted], True)
        if note is None and not self.check.ok:
            count = len(self.check.errors)
            note = (f"{count} field{'s' if count > 1 else ''} to fix", True)
        self.status.show(run=run, now=self.clock(), show_timings=self.show_timings, backend=backend,
                         loading=loading, params=self._planned_params(), preset=self.preset_name, note=note,
                         stale=self.run_is_stale(), modified=self.form.modified(self.check.config))
        self._mark_stale()

    def _mark_stale(self) -> None:
        """Dim and label the last run's curves, table and map once the form no longer matches that run."""
        stale = self.run_is_stale()
        if stale == self._stale_shown:
            return
        self._stale_shown = stale
        self.query_one("#train-panel").set_class(stale, "-stale")
        self.table.border_title = "last run's epochs (form changed)" if stale else TABLE_TITLE
        self.plot.set_stale(stale)
        self._boundary_dirty = True

    def run_is_stale(self) -> bool:
        """The last run is over and the form has changed since: its results are not what F5 would train."""
        run = self.run_state
        return run is not None and run.over and self.check.config != run.config

    def status_text(self) -> str:
        """The status line as plain text (tests and the benchmark read it)."""
        return self.status.plain_text

    # -- actions ------------------------------------------------------------------------------------
    def action_start(self) -> None:
        self._start()

    def action_pause(self) -> None:
        run = self.run_state
        if not self._run_active():
            self.notify("Nothing is running: F5 starts a run.")
            return
        paused = run.control.toggle_pause()
        run.sync_pause(self.clock())
        self._note = None
        self._update_status()
        self._sync_controls()
        if paused and run.started is not None:
            self._redraw_boundary(run, self._last_grid)

    def action_stop(self) -> None:
        run = self.run_state
        if not self._run_active():
            self.notify("Nothing is running.")
            return
        run.control.stop()
        self._update_status()
        self._sync_controls()

    def action_step(self) -> None:
        """One more epoch then pause; from idle, start a run that way."""
        run = self.run_state
        if not self._run_active():
            self._start(stepping=True)
            return
        run.control.step()
        run.sync_pause(self.clock())
        self._update_status()
        self._sync_controls()

    def action_next_view(self) -> None:
        tabs = self.query_one("#view-tabs", Tabs)
        current = (tabs.active or f"tab-{VIEWS[0]}").removeprefix("tab-")
        if self.screen.has_class("-wide") and self.screen.has_class("-tall"):
            # Every panel is on screen but one: the network takes the training curves' place.
            tabs.active = "tab-train" if current == "network" else "tab-network"
            return
        tabs.active = f"tab-{VIEWS[(VIEWS.index(current) + 1) % len(VIEWS)]}"

    def action_predict(self) -> None:
        """Jump to the predict box (on narrow screens, show the model panel first)."""
        if not (self.screen.has_class("-wide") and self.screen.has_class("-tall")):
            self.query_one("#view-tabs", Tabs).active = "tab-model"  # wide: it is on screen, keep the rest
        self.model_panel.query_one("#predict-input").focus()

    def action_toggle_form(self) -> None:
        self.screen.toggle_class("-no-form")

    @on(Tabs.TabActivated, "#view-tabs")
    def _view_changed(self, event: Tabs.TabActivated) -> None:
        panels = self.query_one("#panels")
        for view in VIEWS:
            panels.set_class(event.tab.id == f"tab-{view}", f"-view-{view}")
        self.sync_network_request()
        if event.tab.id == "tab-network":
            self.query_one("#network-view").focus()  # arrow keys walk the neurons at once

    @on(Button.Pressed, "#btn-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#btn-pause")
    def _pause_pressed(self) -> None:
        self.action_pause()

    @on(Button.Pressed, "#btn-stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    @on(Button.Pressed, "#btn-step")
    def _step_pressed(self) -> None:
        self.action_step()

    @on(Button.Pressed, "#save-preset")
    def _save_pressed(self) -> None:
        self.action_save_preset()

    @on(Button.Pressed, "#open-preset")
    def _open_pressed(self) -> None:
        self.action_open_preset()

    # -- presets ----------------------------------------------------------------------------------
    def action_save_preset(self) -> None:
        check = self._validate()
        if not check.ok:
            self.form.focus_first_error(check)
            self.notify("Fix the marked fields before saving.", severity="error")
            return
        cfg = check.config
        name, description = save_proposal(cfg, self.preset_name, self.form.modified(cfg),
                                          bool(self.preset_name and self._is_user_preset(self.preset_name)))

        def saved(request: SaveRequest | None) -> None:
            if request is not None:
                self._save(cfg.with_updates({"description": request.description}), request.name)

        self.push_screen(SavePresetScreen(name, description), saved)

    @staticmethod
    def _is_user_preset(name: str) -> bool:
        return any(p.name == name and p.source == "user" for p in presets.list_presets())

    def _save(self, cfg: Config, name: str, overwrite: bool = False) -> None:
        try:
            path = presets.save_preset(cfg, name, overwrite=overwrite)
        except FileExistsError as exc:
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._save(cfg, name, overwrite=True)

            self.push_screen(ConfirmScreen(f"A preset named {name!r} exists:\n{exc.filename or exc}\nOverwrite it?",
                                           yes="Overwrite"), confirmed)
            return
        except (UserError, OSError) as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=10)
            return
        self.preset_name = name
        self.form.mark_saved(cfg)
        self._validate()
        self.notify(f"Saved preset {name!r} to {path}", title="Saved")

    def action_open_preset(self) -> None:
        async def chosen(info: presets.PresetInfo | None) -> None:
            if info is None:
                return
            try:
                cfg = presets.load_preset(str(info.path))
            except UserError as exc:
                self.notify(str(exc), title=f"Can't open {info.name}", severity="error", timeout=10)
                return
            self.preset_name = info.name
            await self.form.load(cfg)
            self.notify(f"Opened preset {info.name!r} ({info.source})")

        self.push_screen(OpenPresetScreen(self.preset_name), chosen)

    # -- predict box ------------------------------------------------------------------------------
    @on(ModelPanel.PredictRequested)
    def _predict_requested(self, event: ModelPanel.PredictRequested) -> None:
        run = self.run_state
        if run is None or not run.session.has_model() or run.started is None:
            self.model_panel.show_result("no model yet: press F5 to train one first", ok=False)
            return
        ds = run.session.dataset
        if ds is None or not ds.is_2d:
            self.model_panel.show_result(f"the predict box takes (x1, x2) points; {run.config.data.dataset} "
                                         "inputs are not 2-D", ok=False)
            return
        point = parse_point(event.text)
        if isinstance(point, str):
            self.model_panel.show_result(point, ok=False)
            return
        self.model_panel.show_result(f"asking the model about ({point[0]:g}, {point[1]:g})…")
        self._predict(run, point)

    @work(thread=True, exit_on_error=False, group="predict", description="predict a point")
    def _predict(self, run: RunState, point: tuple[float, float]) -> None:
        import numpy as np

        try:
            value = run.session.predict_points(np.array([point], dtype=np.float64))
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.post_message(PredictionDone(f"prediction failed: {type(exc).__name__}: {exc}", ok=False))
            return
        v = float(np.asarray(value).reshape(-1)[0])
        self.post_message(PredictionDone(describe_prediction(v, run.task, *point)))

    def on_prediction_done(self, message: PredictionDone) -> None:
        if self.closing_down:
            return
        self.model_panel.show_result(message.text, ok=message.ok)
        self.update_inspector()  # the selected neuron's value at the new point

    # -- quitting ---------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Stop the run, wait for its thread to end, then leave: no thread is left behind."""
        run = self.run_state
        if self.process and self._run_active():
            self._ask_quit()  # stop it, or leave it running in the background
            return
        if run is not None and not run.thread_done.is_set():
            run.control.stop()
            self._note = ("stopping the run before quitting…", False)
            self._update_status()
            while not run.thread_done.is_set():
                await asyncio.sleep(0.02)
        self.exit()

    def on_unmount(self) -> None:
        # Also when the app is closed without ctrl+q (app.exit() from elsewhere): never leave
        # a training thread running behind a closed UI.
        run = self.run_state
        if run is not None and not self._left_running:
            run.control.stop()
            run.thread_done.wait(timeout=60)
        self._close_remote()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)


def create_app(config: Config, preset_name: str | None = None, **options: Any) -> TrainerApp:
    """The app for a validated config; the one factory the CLI and the tests use.

    ``options`` are test hooks: ``threads``, ``clock`` and ``show_timings``.
    """
    return TrainerApp(config, preset_name, **options)
