"""The training engine: one loop, one event stream, any face.

``Session.run`` loads data, builds the backend, trains epoch by epoch and
reports everything through ``emit``.  It never raises: failures become a
``RunFailed`` event (and ``RunResult.error`` for faces that map them to exit
codes), so a UI can show them and a headless run can exit cleanly.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui_trainer.backends import Backend, Head, create_backend
from tui_trainer.backends.base import BuildOptions, default_threads
from tui_trainer.core import metrics
from tui_trainer.core.config import Config, check_consistency, resolve_loss, resolve_output_activation
from tui_trainer.core.control import RunControl
from tui_trainer.core.epoch_progress import EpochProgressReporter
from tui_trainer.core.errors import UserError
from tui_trainer.core.events import (
    BoundaryUpdated,
    EpochEnded,
    Event,
    ModelSummary,
    NetworkUpdated,
    RunFailed,
    RunFinished,
    RunStarted,
)
from tui_trainer.core.layers import LayerSpec, build_specs, count_params
from tui_trainer.data.datasets import Dataset, expand_features, grid_points, load_dataset
from tui_trainer.engine.callbacks import Callback, LoopState, default_callbacks, first_stop
from tui_trainer.engine.network import snapshot

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

Emit = Callable[[Event], None]


@contextlib.contextmanager
def collector_off_then_frozen(wanted: bool = True) -> Iterator[bool]:
    """No cyclic collections inside the block, then everything alive is frozen (``gc.freeze``).

    For a process about to train: each full collection while a framework is imported walks
    every object the import made, and all of them (framework, data, model) outlive the run.
    Later garbage still goes through every generation; what a collection would have freed
    here is import-time litter.  Yields whether it acted: never on a collector someone else
    has frozen or switched off (the caller thaws with ``gc.unfreeze`` only what it froze).
    """
    acting = wanted and gc.get_freeze_count() == 0 and gc.isenabled()
    if acting:
        gc.disable()
    try:
        yield acting
    finally:
        if acting:
            gc.freeze()
            gc.enable()


@dataclass
class RunResult:
    finished: RunFinished | None = None
    failed: RunFailed | None = None
    error: BaseException | None = None
    history: list[EpochEnded] = field(default_factory=list)


class Session:
    """A model, its data and its backend, from one config.

    The lock makes ``predict`` safe from another thread while a run is going:
    it waits for the current epoch to end rather than racing the weights.
    """

    def __init__(self, config: Config, dataset: Dataset | None = None, *, threads: int | None = None,
                 callbacks: Sequence[Callback] = ()) -> None:
        self.config = config
        self.dataset = dataset
        self.threads = threads
        self.backend: Backend | None = None
        self.summary: ModelSummary | None = None
        self.head: Head | None = None
        self.specs: list[LayerSpec] = []
        self.history: list[EpochEnded] = []
        #: False keeps only the last epoch in ``history``: a recorded run has its history on disk,
        #: and a week-long run must not grow its process by every epoch it ran.
        self.keep_history = True
        #: Loop rules beyond the built-in ones (``callbacks.default_callbacks``), called after them.
        self.callbacks = list(callbacks)
        #: Keep the cyclic GC off while ``prepare`` imports the framework and builds the run, then
        #: freeze what is alive out of it until the run ends (``gc.freeze``).  The processes that
        #: exist to train (headless, the app's worker, a sweep trial) turn it on: the framework's
        #: import leaves ~10^5 long-lived objects, and a full collection walking them (~40 ms on the
        #: 2-core machine, a third of a playground run) fell inside the import or the first epochs.
        self.freeze_gc = False
        self._lock = threading.RLock()

    # -- setup -----------------------------------------------------------------------------
    def prepare(self) -> RunStarted:
        cfg = self.config
        ds = self.load_data()
        check_consistency(cfg, ds.task)
        self.head = Head(
            task=ds.task,
            loss=resolve_loss(cfg, ds.task),
            output_activation=resolve_output_activation(cfg, ds.task),
            n_outputs=ds.n_outputs,
        )
        specs = build_specs(cfg, ds.input_shape, ds.n_outputs, ds.task)
        backend = create_backend(cfg.train.backend)
        opts = BuildOptions(
            optimizer=cfg.train.optimizer,
            learning_rate=cfg.train.learning_rate,
            regularization=cfg.model.regularization,
            reg_rate=cfg.model.reg_rate,
            device=cfg.train.device,
            seed=cfg.data.seed,
            # Tiny networks lose more to thread hand-offs than they gain from parallel math.
            threads=self.threads or (1 if count_params(specs) < 100_000 else default_threads()),
        )
        summary = backend.build(specs, self.head, ds.input_shape, opts)
        if summary.params != count_params(specs):
            raise RuntimeError(f"{backend.name} built {summary.params} parameters, expected {count_params(specs)}")
        backend.set_data(ds.x_train, ds.y_train, ds.x_val, ds.y_val)
        self.backend, self.summary, self.specs = backend, summary, specs
        return RunStarted(
            config=cfg, summary=summary, task=ds.task, n_train=len(ds.x_train), n_val=len(ds.x_val),
            class_names=ds.class_names, notes=ds.notes,
        )

    # -- the built parts, typed: each exists once ``prepare`` has run ---------------------------
    @property
    def _model(self) -> Backend:
        if self.backend is None:
            raise RuntimeError("Session.prepare() builds the model first")
        return self.backend

    @property
    def _head(self) -> Head:
        if self.head is None:
            raise RuntimeError("Session.prepare() decides the head first")
        return self.head

    @property
    def _data(self) -> Dataset:
        if self.dataset is None:
            raise RuntimeError("Session.prepare() or load_data() loads the data first")
        return self.dataset

    # -- what a face may ask ------------------------------------------------------------------
    def load_data(self) -> Dataset:
        """The run's data, loaded from the config the first time (a face may load it early, to draw it)."""
        if self.dataset is None:
            self.dataset = load_dataset(self.config)
        return self.dataset

    def has_model(self) -> bool:
        """Whether the model is built, so maps and predictions can be asked for."""
        return self.backend is not None and self.head is not None

    def last_epoch(self) -> int:
        """The epoch the current weights belong to (0 before the first)."""
        history = self.history
        return history[-1].epoch if history else 0

    # -- predictions -----------------------------------------------------------------------
    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._model.predict(x)

    def decision(self, raw: np.ndarray) -> np.ndarray:
        return metrics.decision_values(raw, self._head.output_activation, self._head.task)

    def predict_points(self, points: np.ndarray) -> np.ndarray:
        """Outputs for raw (x1, x2) points: decision values, regression values or class scores."""
        import numpy as np

        ds = self._data
        raw = self.predict_raw(expand_features(np.asarray(points, np.float64), ds.features))
        return raw if self._head.task == "multiclass" else self.decision(raw)

    def boundary(self, rows: int, cols: int, epoch: int | None = None) -> BoundaryUpdated | None:
        """The output map over a ``rows`` x ``cols`` grid, labelled ``epoch`` (default: the last one)."""
        import numpy as np

        if not self._data.is_2d or self._head.task == "multiclass":
            return None
        extent = self._data.extent
        with self._lock:  # the weights and the epoch they belong to, read together
            epoch = self.last_epoch() if epoch is None else epoch
            values = self.predict_points(grid_points(rows, cols, extent)).reshape(rows, cols)
        return BoundaryUpdated(epoch=epoch, values=values.astype(np.float32), extent=extent, axes=self._data.axes)

    def network(self, shape: tuple[int, int], epoch: int | None = None,
                map_shape: tuple[int, int] | None = None) -> tuple[NetworkUpdated, BoundaryUpdated | None]:
        """The network view's snapshot and, when ``map_shape`` is given, the output map too.

        With equal shapes both come from one forward pass over the grid.
        """
        import numpy as np

        with self._lock:
            epoch = self.last_epoch() if epoch is None else epoch
            net, raw = snapshot(self._model, self.specs, self._data, shape, epoch)
        boundary = None
        if map_shape is not None:
            if raw is not None and tuple(map_shape) == tuple(shape) and self._head.task != "multiclass":
                values = self.decision(raw).reshape(shape).astype(np.float32)
                boundary = BoundaryUpdated(epoch=epoch, values=values, extent=self._data.extent,
                                           axes=self._data.axes)
            else:
                boundary = self.boundary(map_shape[0], map_shape[1], epoch)
        return net, boundary

    def save(self, directory: Path) -> Path:
        with self._lock:
            return self._model.save(Path(directory) / "model")

    # -- the loop --------------------------------------------------------------------------
    def _epoch_metrics(self, val_out: np.ndarray) -> tuple[float | None, float | None]:
        """Validation accuracy (classification) or MAE (regression), in numpy."""
        ds, head = self._data, self._head
        if head.task == "regression":
            return None, metrics.mae(val_out, ds.y_val)
        if head.task == "multiclass":
            return metrics.multiclass_accuracy(val_out, ds.y_val), None
        return metrics.binary_accuracy(self.decision(val_out), ds.y_val), None

    def run(self, emit: Emit, control: RunControl | None = None) -> RunResult:
        control = control or RunControl()
        result = RunResult(history=self.history)
        froze = False
        try:
            with collector_off_then_frozen(self.freeze_gc) as froze, self._lock:
                started = self.prepare()
            emit(started)
            self._loop(emit, control, result)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the face as an event
            message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            result.failed = RunFailed(message=message)
            result.error = exc
            emit(result.failed)
        finally:
            if froze:  # a process that trains again (a sweep worker's next trial) starts from a normal heap
                gc.unfreeze()
        return result

    def _loop(self, emit: Emit, control: RunControl, result: RunResult) -> None:
        """Epochs until done or a callback says why not; the rules live in ``callbacks``."""
        import numpy as np

        epochs, rng = self.config.train.epochs, np.random.default_rng(self.config.data.seed)
        callbacks = [*default_callbacks(self.config.train.patience), *self.callbacks]
        loop = LoopState(self, control, emit, epochs)
        for callback in callbacks:
            callback.on_run_start(loop)
        # Timed from here: the untrained model's map (and a framework's first trace of it) is not training.
        t0 = time.perf_counter()
        progress = EpochProgressReporter(emit, epochs, len(self._data.x_train), self.config.train.batch_size)
        reason = "completed"
        for epoch in range(1, epochs + 1):
            ended = self._epoch(epoch, rng, control, progress, loop) if control.checkpoint() else None
            if ended is None:  # stopped between epochs, or inside this one (its partial epoch is dropped)
                reason = "stopped"
                break
            emit(ended)
            stop = first_stop(callbacks, loop, ended)
            if stop:
                reason = stop
                break
        for callback in callbacks:
            callback.on_run_end(loop, reason)
        best, last = loop.progress.best, loop.last
        result.finished = RunFinished(
            reason=reason, epochs_run=last.epoch if last else 0, best_epoch=best.epoch if best else 0,
            best_val_loss=best.val_loss if best else math.inf, best_val_acc=best.val_acc if best else None,
            final=last, seconds=time.perf_counter() - t0,
        )
        emit(result.finished)

    def _epoch(self, epoch: int, rng: np.random.Generator, control: RunControl, progress: EpochProgressReporter,
               loop: LoopState) -> EpochEnded | None:
        """Train and validate one epoch; None when the run was stopped inside it (the partial epoch is dropped)."""
        e0 = time.perf_counter()
        progress.start(epoch)
        order = rng.permutation(len(self._data.x_train))
        with self._lock:
            stats = self._model.train_epoch(order, self.config.train.batch_size, control.should_stop,
                                             progress=progress if progress.enabled else None)
            if stats.stopped:
                return None
            val_loss, val_out = self._model.evaluate()
            val_acc, val_mae = self._epoch_metrics(val_out)
            regression = self._head.task == "regression"
            last = EpochEnded(
                epoch=epoch, epochs=loop.epochs, loss=stats.loss,
                acc=None if regression else stats.metric,
                val_loss=val_loss, val_acc=val_acc, seconds=time.perf_counter() - e0,
                mae=stats.metric if regression else None, val_mae=val_mae,
            )
            # In the lock: a map asked for between epochs (a paused run) is labelled with
            # the epoch its weights belong to, never the one before.
            if self.keep_history:
                self.history.append(last)
            else:
                self.history[:] = [last]
            loop.last, loop.val_out = last, val_out
        return last


def train(config: Config, emit: Emit | None = None, control: RunControl | None = None,
          dataset: Dataset | None = None, threads: int | None = None) -> tuple[Session, RunResult]:
    """Run a whole training synchronously; the simplest way to use the engine."""
    session = Session(config, dataset, threads=threads)
    result = session.run(emit or (lambda event: None), control)
    return session, result
