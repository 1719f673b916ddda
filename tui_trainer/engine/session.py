"""The training engine: one loop, one event stream, any face.

``Session.run`` loads data, builds the backend, trains epoch by epoch and
reports everything through ``emit``.  It never raises: failures become a
``RunFailed`` event (and ``RunResult.error`` for faces that map them to exit
codes), so a UI can show them and a headless run can exit cleanly.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tui_trainer.backends import Backend, Head, create_backend
from tui_trainer.backends.base import BuildOptions, default_threads
from tui_trainer.core import metrics
from tui_trainer.core.config import Config, check_consistency, resolve_loss, resolve_output_activation
from tui_trainer.core.control import RunControl
from tui_trainer.core.epoch_progress import EpochProgressReporter
from tui_trainer.core.errors import UserError
from tui_trainer.core.events import (
    BoundaryUpdated,
    ClassReport,
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
from tui_trainer.engine.network import snapshot

Emit = Callable[[Event], None]


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

    def __init__(self, config: Config, dataset: Dataset | None = None, *, threads: int | None = None) -> None:
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
        self._lock = threading.RLock()

    # -- setup -----------------------------------------------------------------------------
    def prepare(self) -> RunStarted:
        cfg = self.config
        if self.dataset is None:
            self.dataset = load_dataset(cfg)
        ds = self.dataset
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

    # -- predictions -----------------------------------------------------------------------
    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.backend.predict(x)

    def decision(self, raw: np.ndarray) -> np.ndarray:
        return metrics.decision_values(raw, self.head.output_activation, self.head.task)

    def predict_points(self, points: np.ndarray) -> np.ndarray:
        """Outputs for raw (x1, x2) points: decision values, regression values or class scores."""
        ds = self.dataset
        raw = self.predict_raw(expand_features(np.asarray(points, np.float64), ds.features))
        return raw if self.head.task == "multiclass" else self.decision(raw)

    def boundary(self, rows: int, cols: int, epoch: int) -> BoundaryUpdated | None:
        if not self.dataset.is_2d or self.head.task == "multiclass":
            return None
        extent = self.dataset.extent
        values = self.predict_points(grid_points(rows, cols, extent)).reshape(rows, cols)
        return BoundaryUpdated(epoch=epoch, values=values.astype(np.float32), extent=extent, axes=self.dataset.axes)

    def network(self, shape: tuple[int, int], epoch: int,
                map_shape: tuple[int, int] | None = None) -> tuple[NetworkUpdated, BoundaryUpdated | None]:
        """The network view's snapshot and, when ``map_shape`` is given, the output map too.

        With equal shapes both come from one forward pass over the grid.
        """
        with self._lock:
            net, raw = snapshot(self.backend, self.specs, self.dataset, shape, epoch)
        boundary = None
        if map_shape is not None:
            if raw is not None and tuple(map_shape) == tuple(shape) and self.head.task != "multiclass":
                values = self.decision(raw).reshape(shape).astype(np.float32)
                boundary = BoundaryUpdated(epoch=epoch, values=values, extent=self.dataset.extent,
                                           axes=self.dataset.axes)
            else:
                boundary = self.boundary(map_shape[0], map_shape[1], epoch)
        return net, boundary

    def save(self, directory: Path) -> Path:
        with self._lock:
            return self.backend.save(Path(directory) / "model")

    # -- the loop --------------------------------------------------------------------------
    def _epoch_metrics(self, val_out: np.ndarray) -> tuple[float | None, float | None]:
        """Validation accuracy (classification) or MAE (regression), in numpy."""
        ds, head = self.dataset, self.head
        if head.task == "regression":
            return None, metrics.mae(val_out, ds.y_val)
        if head.task == "multiclass":
            return metrics.multiclass_accuracy(val_out, ds.y_val), None
        return metrics.binary_accuracy(self.decision(val_out), ds.y_val), None

    def run(self, emit: Emit, control: RunControl | None = None) -> RunResult:
        control = control or RunControl()
        result = RunResult(history=self.history)
        try:
            with self._lock:
                started = self.prepare()
            emit(started)
            self._loop(emit, control, result)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the face as an event
            message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            result.failed = RunFailed(message=message)
            result.error = exc
            emit(result.failed)
        return result

    def _loop(self, emit: Emit, control: RunControl, result: RunResult) -> None:
        cfg, ds = self.config, self.dataset
        epochs, bs, patience = cfg.train.epochs, cfg.train.batch_size, cfg.train.patience
        rng = np.random.default_rng(cfg.data.seed)
        best_loss, best_acc, best_epoch, since_best = math.inf, None, 0, 0
        last_grid = time.perf_counter()  # with an infinite interval the only map is the final one
        reason = "completed"
        last: EpochEnded | None = None
        val_out: np.ndarray | None = None

        if control.grid_shape and math.isfinite(control.grid_interval):
            self._emit_boundary(emit, control, 0)
            last_grid = time.perf_counter()
        # Timed from here: the untrained model's map (and a framework's first trace of it) is not training.
        t0 = time.perf_counter()
        progress = EpochProgressReporter(emit, epochs, len(ds.x_train), bs)

        for epoch in range(1, epochs + 1):
            if not control.checkpoint():
                reason = "stopped"
                break
            e0 = time.perf_counter()
            progress.start(epoch)
            order = rng.permutation(len(ds.x_train))
            with self._lock:
                stats = self.backend.train_epoch(order, bs, control.should_stop,
                                                 progress=progress if progress.enabled else None)
                if stats.stopped:
                    reason = "stopped"
                    break
                val_loss, val_out = self.backend.evaluate()
                val_acc, val_mae = self._epoch_metrics(val_out)
                regression = self.head.task == "regression"
                last = EpochEnded(
                    epoch=epoch, epochs=epochs, loss=stats.loss,
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
            emit(last)
            if not (math.isfinite(stats.loss) and math.isfinite(val_loss)):
                reason = "diverged"
                break
            if val_loss < best_loss:
                best_loss, best_acc, best_epoch, since_best = val_loss, val_acc, epoch, 0
            else:
                since_best += 1
            now = time.perf_counter()
            if control.grid_shape and now - last_grid >= control.grid_interval and epoch < epochs:
                self._emit_boundary(emit, control, epoch)
                last_grid = time.perf_counter()
            if patience and since_best >= patience:
                reason = "early-stopped"
                break

        if last is not None and control.grid_shape and reason != "diverged":
            self._emit_boundary(emit, control, last.epoch)
        if val_out is not None and self.head.task == "multiclass":
            pred = np.argmax(val_out, axis=1)
            confusion = metrics.confusion_matrix(ds.y_val, pred, len(ds.class_names))
            emit(ClassReport(class_names=ds.class_names, confusion=confusion))
        result.finished = RunFinished(
            reason=reason,
            epochs_run=last.epoch if last else 0,
            best_epoch=best_epoch,
            best_val_loss=best_loss,
            best_val_acc=best_acc,
            final=last,
            seconds=time.perf_counter() - t0,
        )
        emit(result.finished)

    def _emit_boundary(self, emit: Emit, control: RunControl, epoch: int) -> None:
        rows, cols = control.grid_shape
        net = None
        if control.network_shape is not None:
            net, event = self.network(control.network_shape, epoch, (rows, cols))
        else:
            event = self.boundary(rows, cols, epoch)
        if event is not None:
            emit(event)
        if net is not None:
            emit(net)


def train(config: Config, emit: Emit | None = None, control: RunControl | None = None,
          dataset: Dataset | None = None, threads: int | None = None) -> tuple[Session, RunResult]:
    """Run a whole training synchronously; the simplest way to use the engine."""
    session = Session(config, dataset, threads=threads)
    result = session.run(emit or (lambda event: None), control)
    return session, result
