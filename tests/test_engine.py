"""The engine on both backends: events, metrics, control, reproducibility, saving."""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
import pytest

from tui_trainer.core.config import from_dict
from tui_trainer.core.control import RunControl
from tui_trainer.core.events import BoundaryUpdated, EpochEnded, RunFailed, RunFinished, RunStarted
from tui_trainer.core.layers import build_specs, count_params
from tui_trainer.core.presets import load_preset
from tui_trainer.data.datasets import load_dataset
from tui_trainer.engine.session import Session, train

pytestmark = pytest.mark.framework

BACKENDS = ["torch", "tensorflow"]


def collect(cfg, control=None, grid=None):
    events = []
    control = control or RunControl()
    if grid:
        control.grid_shape = grid
    session, result = train(cfg, events.append, control)
    return session, result, events


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_run_emits_the_stream(backend):
    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": 3})
    session, result, events = collect(cfg, grid=(6, 12))
    assert isinstance(events[0], RunStarted) and events[0].summary.params == 25
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == [1, 2, 3] and all(e.epochs == 3 for e in epochs)
    assert all(0 <= e.acc <= 1 and 0 <= e.val_acc <= 1 and e.loss > 0 and e.seconds > 0 for e in epochs)
    maps = [e for e in events if isinstance(e, BoundaryUpdated)]
    assert maps and maps[-1].values.shape == (6, 12) and np.all(np.abs(maps[-1].values) <= 1)
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "completed"
    assert result.finished.epochs_run == 3 and result.history == epochs


@pytest.mark.parametrize("backend", BACKENDS)
def test_circle_reaches_textbook_accuracy(backend):
    _, result, _ = collect(load_preset("circle", {"train.backend": backend}))
    assert result.finished.final.val_acc >= 0.95


def test_same_network_on_both_backends():
    cfg = from_dict({"model": {"hidden": [8, 5], "activation": ["relu", "sigmoid"], "dropout": [0.1, 0.0]},
                     "train": {"epochs": 1}})
    summaries = {}
    for backend in BACKENDS:
        s, _, events = collect(cfg.with_updates({"train.backend": backend}))
        summaries[backend] = events[0].summary
    tf_s, pt_s = summaries["tensorflow"], summaries["torch"]
    assert tf_s.params == pt_s.params == 2 * 8 + 8 + 8 * 5 + 5 + 5 + 1
    assert [(x.name, x.output_shape, x.params) for x in tf_s.layers] == [(x.name, x.output_shape, x.params) for x in pt_s.layers]
    ds = load_dataset(cfg)
    assert count_params(build_specs(cfg, ds.input_shape, 1, "binary")) == tf_s.params


def flat(rows: list[tuple]) -> list:
    """Rows of numbers as one list, which ``pytest.approx`` compares number by number (not nested tuples)."""
    return [value for row in rows for value in row]


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeded_runs_are_reproducible(backend):
    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": 4, "model.dropout": 0.1,
                                 "model.hidden": [6, 6]})
    a = [(e.loss, e.val_loss) for e in collect(cfg)[1].history]
    b = [(e.loss, e.val_loss) for e in collect(cfg)[1].history]
    if backend == "torch":
        assert a == b
    else:
        # TensorFlow's CPU kernels may sum a batch in another order from one process to the next
        # (seen once in a few runs on a busy machine: 1.0257145 against 1.0257144 at epoch 2, the
        # last float32 bit); the printed 5-decimal lines are the same.
        assert len(a) == len(b) == 4 and flat(a) == pytest.approx(flat(b), rel=1e-6)
    c = [(e.loss, e.val_loss) for e in collect(cfg.with_updates({"data.seed": 3}))[1].history]
    assert flat(a) != pytest.approx(flat(c), rel=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_are_per_sample_averages(backend):
    """val_loss/val_acc recomputed by hand from the model's own predictions."""
    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": 2})
    session, result, _ = collect(cfg)
    ds = session.dataset
    raw = session.predict_raw(ds.x_val)
    last = result.history[-1]
    assert math.isclose(last.val_loss, float(np.mean((raw - ds.y_val) ** 2)), rel_tol=1e-4)
    # Accuracy by hand: the sign of the tanh output (0 counts as +1) against the ±1 label.
    right = sum((1.0 if r >= 0 else -1.0) == y for r, y in zip(raw[:, 0], ds.y_val[:, 0], strict=True))
    assert last.val_acc == right / len(ds.y_val)
    assert 0.0 < last.loss < 4.0  # an average, not a sum over batches or epochs


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_reports_loss_and_mae(backend):
    cfg = load_preset("reg-plane", {"train.backend": backend, "train.epochs": 5})
    session, result, _ = collect(cfg, grid=(4, 4))
    last = result.history[-1]
    assert last.acc is None and last.val_acc is None and last.mae is not None
    raw = session.predict_raw(session.dataset.x_val)
    assert math.isclose(last.val_mae, float(np.mean(np.abs(raw - session.dataset.y_val))), rel_tol=1e-4)
    assert last.val_loss < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_binary_crossentropy_with_sigmoid(backend):
    cfg = load_preset("gauss", {"train.backend": backend, "train.loss": "binary_crossentropy",
                                "model.output_activation": "sigmoid", "train.optimizer": "adam",
                                "train.learning_rate": 0.05, "train.epochs": 10})
    _, result, _ = collect(cfg)
    assert result.finished.final.val_acc >= 0.9


@pytest.mark.parametrize("backend", BACKENDS)
def test_divergence_stops_the_run(backend):
    cfg = load_preset("reg-plane", {"train.backend": backend, "train.learning_rate": 10, "train.epochs": 50})
    _, result, events = collect(cfg)
    assert result.finished.reason == "diverged"
    assert result.finished.epochs_run < 50
    assert not math.isfinite(result.history[-1].loss) or not math.isfinite(result.history[-1].val_loss)


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping(backend):
    cfg = load_preset("gauss", {"train.backend": backend, "train.epochs": 500, "train.patience": 3,
                                "train.learning_rate": 0.3})
    _, result, _ = collect(cfg)
    f = result.finished
    assert f.reason == "early-stopped" and f.epochs_run < 500
    assert f.epochs_run - f.best_epoch == 3
    best = min(result.history, key=lambda e: e.val_loss)
    assert (f.best_epoch, f.best_val_loss, f.best_val_acc) == (best.epoch, best.val_loss, best.val_acc)
    assert all(e.val_loss >= best.val_loss for e in result.history[best.epoch:]) and f.final is result.history[-1]


def test_pause_step_resume_stop_from_another_thread():
    cfg = load_preset("circle", {"train.backend": "torch", "train.epochs": 100000})
    control = RunControl()
    seen: list[int] = []
    first = threading.Event()
    done = threading.Event()

    def emit(event):
        if isinstance(event, EpochEnded):
            seen.append(event.epoch)
            first.set()
        if isinstance(event, RunFinished | RunFailed):
            done.set()

    control.pause()
    session = Session(cfg)
    t = threading.Thread(target=session.run, args=(emit, control))
    t.start()
    assert not first.wait(1.0)  # paused before the first epoch: nothing runs
    control.step()
    assert first.wait(30)
    threading.Event().wait(0.3)
    assert seen == [1]  # exactly one epoch, then paused again
    control.resume()
    threading.Event().wait(0.3)
    assert len(seen) > 1
    control.stop()
    t.join(timeout=30)
    assert not t.is_alive() and done.is_set()
    assert session.history[-1].epoch == len(seen)


def test_stop_mid_epoch_is_seen_within_a_batch():
    cfg = from_dict({"data": {"dataset": "circle"}, "train": {"backend": "torch", "batch_size": 1, "epochs": 1000}})
    control = RunControl()
    events: list = []
    session = Session(cfg)
    t = threading.Thread(target=session.run, args=(events.append, control))
    t.start()
    while not session.history:
        threading.Event().wait(0.01)
    control.stop()
    t.join(timeout=10)
    assert not t.is_alive()
    assert events[-1].reason == "stopped"


def test_failures_become_events():
    cfg = from_dict({"data": {"dataset": "file", "path": "/nonexistent/points.csv"}, "train": {"backend": "torch"}})
    events: list = []
    _, result = train(cfg, events.append)
    assert isinstance(events[-1], RunFailed) and "/nonexistent/points.csv" in events[-1].message
    assert result.error is not None


@pytest.mark.parametrize(("backend", "suffix"), [("torch", ".pt"), ("tensorflow", ".keras")])
def test_save_weights(backend, suffix, tmp_path):
    session, _, _ = collect(load_preset("circle", {"train.backend": backend, "train.epochs": 1}))
    path = session.save(tmp_path)
    assert path.suffix == suffix and path.stat().st_size > 0
    if backend == "torch":
        import torch

        state = torch.load(path)
        assert sum(v.numel() for v in state.values()) == 25
    else:
        import keras

        model = keras.models.load_model(path)
        np.testing.assert_allclose(model.predict(session.dataset.x_val[:5], verbose=0),
                                   session.predict_raw(session.dataset.x_val[:5]), rtol=1e-5)


def test_predict_points_matches_the_map():
    session, _, events = collect(load_preset("circle", {"train.backend": "torch", "train.epochs": 30}), grid=(3, 3))
    centre = session.predict_points(np.array([[0.0, 0.0]]))
    grid = [e for e in events if isinstance(e, BoundaryUpdated)][-1].values
    assert math.isclose(float(centre[0]), float(grid[1, 1]), rel_tol=1e-5)


def test_how_a_tensorflow_epoch_is_cut_into_chunks_never_changes_its_numbers():
    # Long epochs are cut into compiled chunks (fewer when a chunk is slow, on a busy machine), so a
    # stop request and progress are seen within a second; the loss must not depend on the cut.
    pytest.importorskip("tensorflow")
    cfg = load_preset("circle", {"train.backend": "tensorflow", "train.epochs": 3, "model.hidden": [6, 6]})

    def history(batches_per_chunk: int | None) -> list[tuple[float, float, float | None]]:
        session = Session(cfg)
        session.prepare()
        if batches_per_chunk is not None:
            session.backend._chunks[cfg.train.batch_size] = batches_per_chunk
        events: list = []
        session.run(events.append)
        return [(e.loss, e.val_loss, e.acc) for e in events if isinstance(e, EpochEnded)]

    whole = history(None)
    assert len(whole) == 3
    # Equal to the last float32 bit or so (see test_seeded_runs_are_reproducible): a chunk counted
    # twice or left out would be off by several percent.
    assert flat(history(1)) == pytest.approx(flat(whole), rel=1e-6)
    assert flat(history(4)) == pytest.approx(flat(whole), rel=1e-6)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_training_process_freezes_the_heap_for_its_run_and_thaws_it_after():
    """``freeze_gc``: no collection while the framework is imported, the heap frozen while epochs run."""
    import gc

    cfg = load_preset("circle", {"train.backend": "torch", "train.epochs": 3})
    seen: list[tuple[str, int, bool]] = []

    def emit(event) -> None:
        seen.append((event.kind, gc.get_freeze_count(), gc.isenabled()))

    session = Session(cfg)
    session.freeze_gc = True
    leftover = _Cycle()  # garbage in a cycle when the run starts: frozen with the rest, freed after the thaw
    probe = weakref.ref(leftover)
    del leftover
    result = session.run(emit)
    assert result.finished is not None and result.finished.reason == "completed"
    assert [kind for kind, _, _ in seen].count("epoch_ended") == 3
    assert all(frozen > 1000 and enabled for _, frozen, enabled in seen)  # framework, data and model
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.collect()
    assert probe() is None

    # Not asked for, or the collector already frozen by whoever embeds the engine: left alone.
    plain = Session(cfg)
    plain.run(lambda event: seen.append((event.kind, gc.get_freeze_count(), gc.isenabled())))
    assert seen[-1][1:] == (0, True)
    gc.freeze()
    try:
        outer = gc.get_freeze_count()
        embedded = Session(cfg)
        embedded.freeze_gc = True
        embedded.run(lambda event: None)
        assert 0 < gc.get_freeze_count() <= outer  # neither thawed nor frozen again by the run
    finally:
        gc.unfreeze()

