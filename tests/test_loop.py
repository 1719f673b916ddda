"""The training loop's bookkeeping on tiny hand-made data: best epoch, early stopping, divergence, stop, maps.

PyTorch only and a few milliseconds per run, so these also serve the mutation
run (marked ``mutation``); the same behaviours are checked on both backends
end to end in ``test_promises.py``.  Expected values come from the test's own
arithmetic (the starting weights are fixed) or from the run's history, never
from the engine's helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.test_hand_metrics import B0, W0, X_TRAIN, X_VAL, Y_TRAIN, Y_VAL, FixedWeights, sigmoid
from tui_trainer.core.config import from_dict
from tui_trainer.core.control import RunControl
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.events import BoundaryUpdated, EpochEnded, RunFailed, RunFinished, RunStarted
from tui_trainer.data.datasets import Dataset

pytestmark = [pytest.mark.framework, pytest.mark.mutation]


def dataset(y_val=Y_VAL, task: str = "binary") -> Dataset:
    x_train, x_val = np.array(X_TRAIN, np.float32), np.array(X_VAL, np.float32)
    return Dataset(name="hand", task=task, x_train=x_train, y_train=np.array(Y_TRAIN, np.float32).reshape(-1, 1),
                   x_val=x_val, y_val=np.array(y_val, np.float32).reshape(-1, 1), feature_names=("x1", "x2"),
                   points_train=x_train, points_val=x_val, features=("x1", "x2"))


def config(**train):
    output = train.pop("output", "tanh")
    loss = train.pop("loss", "mse")
    return from_dict({"data": {"dataset": "reg-plane" if train.pop("regression", False) else "circle"},
                      "model": {"hidden": [], "output_activation": output},
                      "train": {"backend": "torch", "optimizer": "sgd", "loss": loss, "batch_size": 2, **train}})


def run(cfg, ds=None, control=None, emit=None):
    events: list = []

    def collect(event):
        events.append(event)
        if emit:
            emit(event)

    session = FixedWeights(cfg, ds or dataset(), threads=1)
    result = session.run(collect, control)
    return session, result, events


def epochs_of(events):
    return [e for e in events if isinstance(e, EpochEnded)]


def test_a_completed_run_reports_every_epoch_and_the_best() -> None:
    session, result, events = run(config(learning_rate=0.2, epochs=6))
    assert isinstance(events[0], RunStarted) and events[0].n_train == 5 and events[0].n_val == 6
    assert events[0].task == "binary" and events[0].summary.params == 3
    history = epochs_of(events)
    assert [e.epoch for e in history] == [1, 2, 3, 4, 5, 6] and {e.epochs for e in history} == {6}
    assert all(e.seconds > 0 for e in history)
    done = events[-1]
    assert isinstance(done, RunFinished) and done is result.finished and result.failed is None
    assert done.reason == "completed" and done.epochs_run == 6 and done.final is history[-1]
    best = min(history, key=lambda e: e.val_loss)  # first of equals
    assert (done.best_epoch, done.best_val_loss, done.best_val_acc) == (best.epoch, best.val_loss, best.val_acc)
    assert 60 > done.seconds >= sum(e.seconds for e in history)
    assert result.history == history == session.history


def test_early_stopping_counts_epochs_without_a_lower_val_loss() -> None:
    # Weights that barely move: every epoch has the same val_loss, which is not an improvement.
    _, result, events = run(config(learning_rate=1e-9, epochs=50, patience=3))
    history = epochs_of(events)
    done = result.finished
    assert done.reason == "early-stopped" and done.epochs_run == 4 and [e.epoch for e in history] == [1, 2, 3, 4]
    assert done.best_epoch == 1 and done.final is history[-1]
    assert done.best_val_loss == history[0].val_loss and done.best_val_acc == history[0].val_acc == 4 / 6


def test_early_stopping_when_val_loss_rises() -> None:
    # Validation labels opposite to the training ones: learning the training set makes val_loss rise.
    ds = dataset(y_val=[-y for y in Y_VAL])
    _, result, events = run(config(learning_rate=0.5, epochs=200, patience=2), ds)
    history = epochs_of(events)
    done = result.finished
    best = min(history, key=lambda e: e.val_loss)
    assert done.reason == "early-stopped"
    assert done.best_epoch == best.epoch and done.epochs_run == best.epoch + 2 == history[-1].epoch
    assert done.final.val_loss > done.best_val_loss  # the final epoch is not the best one
    assert all(e.val_loss >= best.val_loss for e in history[best.epoch:])


def test_patience_zero_never_stops_early() -> None:
    _, result, _ = run(config(learning_rate=1e-9, epochs=5, patience=0))
    assert result.finished.reason == "completed" and result.finished.epochs_run == 5


def test_divergence_stops_at_the_first_non_finite_epoch() -> None:
    control = RunControl()
    control.grid_shape = (2, 2)
    control.grid_interval = math.inf
    _, result, events = run(config(learning_rate=100, epochs=300, output="linear"), control=control)
    history = epochs_of(events)
    done = result.finished
    assert done.reason == "diverged" and done.epochs_run == history[-1].epoch < 300
    last = history[-1]
    assert not (math.isfinite(last.loss) and math.isfinite(last.val_loss))
    assert all(math.isfinite(e.loss) and math.isfinite(e.val_loss) for e in history[:-1])
    assert not any(isinstance(e, BoundaryUpdated) for e in events)  # only a final map, and none of a broken model
    assert done.best_epoch < last.epoch


def test_stop_before_the_first_epoch() -> None:
    control = RunControl()
    control.stop()
    _, result, events = run(config(learning_rate=0.1, epochs=5), control=control)
    done = result.finished
    assert [type(e) for e in events] == [RunStarted, RunFinished]
    assert done.reason == "stopped" and done.epochs_run == 0 and done.final is None and done.best_epoch == 0


def test_stop_between_epochs_keeps_what_ran() -> None:
    control = RunControl()

    def stop_after_two(event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            control.stop()

    _, result, events = run(config(learning_rate=0.1, epochs=10), control=control, emit=stop_after_two)
    assert result.finished.reason == "stopped" and result.finished.epochs_run == 2
    assert [e.epoch for e in epochs_of(events)] == [1, 2] and result.finished.final.epoch == 2


def test_stop_inside_an_epoch_drops_the_partial_epoch() -> None:
    control = RunControl()
    calls = []

    class StopsMidEpoch(FixedWeights):
        def prepare(self):
            started = super().prepare()
            real = self.backend.train_epoch

            def train_epoch(order, batch_size, should_stop, **options):
                calls.append(len(calls))
                if len(calls) == 2:
                    control.stop()  # asked while epoch 2 runs: its first batch is seen, then it stops
                return real(order, batch_size, should_stop, **options)

            self.backend.train_epoch = train_epoch
            return started

    events: list = []
    result = StopsMidEpoch(config(learning_rate=0.1, epochs=10), dataset(), threads=1).run(events.append, control)
    assert result.finished.reason == "stopped" and result.finished.epochs_run == 1
    assert [e.epoch for e in epochs_of(events)] == [1]


def test_boundary_maps_are_the_model_on_the_grid() -> None:
    control = RunControl()
    control.grid_shape = (3, 4)
    control.grid_interval = 0.0  # a map after every epoch
    session, result, events = run(config(learning_rate=1e-9, epochs=3), control=control)
    maps = [e for e in events if isinstance(e, BoundaryUpdated)]
    # Before training, after epochs 1 and 2 (not 3: the final map follows), then the final one.
    assert [m.epoch for m in maps] == [0, 1, 2, 3]
    assert isinstance(events[-1], RunFinished) and events[-2] is maps[-1]
    # Cell centres: x1 = -4.5, -1.5, 1.5, 4.5 across; x2 = 4, 0, -4 down.
    want = [[math.tanh(W0[0] * x1 + W0[1] * x2 + B0) for x1 in (-4.5, -1.5, 1.5, 4.5)] for x2 in (4, 0, -4)]
    for m in maps:
        assert m.values.shape == (3, 4)
        np.testing.assert_allclose(m.values, want, rtol=1e-5)
    assert session.boundary(3, 4, 7).epoch == 7


def test_only_a_final_map_when_the_interval_is_infinite() -> None:
    control = RunControl()
    control.grid_shape = (2, 2)
    control.grid_interval = math.inf
    _, _, events = run(config(learning_rate=0.1, epochs=3), control=control)
    assert [e.epoch for e in events if isinstance(e, BoundaryUpdated)] == [3]


def test_no_maps_without_a_grid_or_for_non_2d_data() -> None:
    _, _, events = run(config(learning_rate=0.1, epochs=2))
    assert not any(isinstance(e, BoundaryUpdated) for e in events)
    control = RunControl()
    control.grid_shape = (2, 2)
    flat = Dataset(name="hand", task="binary", x_train=np.array(X_TRAIN, np.float32),
                   y_train=np.array(Y_TRAIN, np.float32).reshape(-1, 1), x_val=np.array(X_VAL, np.float32),
                   y_val=np.array(Y_VAL, np.float32).reshape(-1, 1), feature_names=("a", "b"))
    session, result, events = run(config(learning_rate=0.1, epochs=2), flat, control=control)
    assert result.finished.reason == "completed"
    assert not any(isinstance(e, BoundaryUpdated) for e in events) and session.boundary(2, 2, 1) is None


def test_predictions_for_each_head() -> None:
    point = np.array([[2.0, 0.0]])  # z = 1.125
    session, _, _ = run(config(learning_rate=1e-9, epochs=1, output="sigmoid"))
    assert session.predict_raw(np.array([[2.0, 0.0]], np.float32))[0, 0] == pytest.approx(sigmoid(1.125), rel=1e-6)
    assert session.predict_points(point)[0] == pytest.approx(2 * sigmoid(1.125) - 1, rel=1e-6)
    assert session.decision(np.array([[0.25]]))[0] == pytest.approx(-0.5)
    session, _, _ = run(config(learning_rate=1e-9, epochs=1, output="linear", loss="binary_crossentropy"))
    assert session.predict_points(point)[0] == pytest.approx(math.tanh(1.125), rel=1e-6)
    reg = Dataset(name="hand", task="regression", x_train=np.array(X_TRAIN, np.float32),
                  y_train=np.array(Y_TRAIN, np.float32).reshape(-1, 1), x_val=np.array(X_VAL, np.float32),
                  y_val=np.array(Y_VAL, np.float32).reshape(-1, 1), feature_names=("x1", "x2"),
                  points_train=np.array(X_TRAIN, np.float32), points_val=np.array(X_VAL, np.float32),
                  features=("x1", "x2"))
    session, result, _ = run(config(learning_rate=1e-9, epochs=1, output="linear", regression=True), reg)
    assert session.predict_points(np.array([[2.0, 2.0]]))[0] == pytest.approx(0.625, rel=1e-6)
    final = result.finished.final
    assert final.acc is None and final.val_acc is None and result.finished.best_val_acc is None
    assert final.val_mae == pytest.approx(sum(abs(z - y) for z, y in zip(
        [1.125, 0.625, -0.875, 0.375, 0.0, 1.125], Y_VAL, strict=True)) / 6, rel=1e-5)


def test_save_writes_the_weights(tmp_path) -> None:
    import torch

    session, _, _ = run(config(learning_rate=1e-9, epochs=1))
    path = session.save(tmp_path)
    assert path == tmp_path / "model.pt"
    state = torch.load(path)
    weights = [v for k, v in state.items() if k.endswith("weight")]
    np.testing.assert_allclose(weights[-1].numpy(), [list(W0)], rtol=1e-6)


def test_failures_become_one_event() -> None:
    # Bad input (a loss that does not suit the data) keeps its own message.
    events: list = []
    cfg = config(learning_rate=0.1, epochs=2, output="sigmoid", loss="binary_crossentropy")
    result = FixedWeights(cfg, dataset(task="regression"), threads=1).run(events.append)
    assert isinstance(result.error, ConfigError)
    assert [type(e) for e in events] == [RunFailed] and events[0] is result.failed
    assert events[0].message == str(result.error) and not events[0].message.startswith("ConfigError")
    assert result.finished is None

    # Anything else is named by its type.
    def explode(event):
        if isinstance(event, EpochEnded):
            raise RuntimeError("boom")

    _, result, events = run(config(learning_rate=0.1, epochs=3), emit=explode)
    assert result.failed.message == "RuntimeError: boom" and isinstance(result.error, RuntimeError)
    assert isinstance(events[-1], RunFailed) and result.finished is None


def test_seeded_shuffles_are_reproducible() -> None:
    def losses(seed):
        cfg = config(learning_rate=0.3, epochs=3).with_updates({"data.seed": seed})
        return [(e.loss, e.val_loss) for e in run(cfg)[1].history]

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)  # batches of 2 from 5 samples: the order matters


def test_divergence_seen_in_the_validation_loss_alone() -> None:
    # One validation point so far out that its squared error overflows float32: training stays finite.
    ds = dataset()
    far = np.array(X_VAL + [(1e20, 0.0)], np.float32)
    ds = Dataset(name="hand", task="regression", x_train=ds.x_train, y_train=ds.y_train, x_val=far,
                 y_val=np.array(Y_VAL + [1], np.float32).reshape(-1, 1), feature_names=("x1", "x2"))
    _, result, events = run(config(learning_rate=1e-9, epochs=5, output="linear", regression=True), ds)
    (epoch,) = epochs_of(events)
    assert math.isfinite(epoch.loss) and epoch.val_loss == math.inf
    assert result.finished.reason == "diverged" and result.finished.epochs_run == 1


def test_maps_wait_for_the_interval() -> None:
    control = RunControl()
    control.grid_shape = (2, 2)
    control.grid_interval = 60.0  # longer than the run: the first map and the final one only
    _, result, events = run(config(learning_rate=0.1, epochs=4), control=control)
    assert [e.epoch for e in events if isinstance(e, BoundaryUpdated)] == [0, 4]
    assert 0 < result.finished.seconds < 60


def multiclass_dataset() -> Dataset:
    x = np.array(X_TRAIN, np.float32)
    return Dataset(name="hand3", task="multiclass", x_train=x, y_train=np.array([0, 1, 2, 1, 0]),
                   x_val=x[:3], y_val=np.array([0, 1, 2]), feature_names=("x1", "x2"), points_train=x,
                   points_val=x[:3], class_names=("a", "b", "c"), notes=("three classes",), features=("x1", "x2"))


def test_multiclass_runs_set_up_their_head_and_draw_no_map() -> None:
    from tui_trainer.backends import Head
    from tui_trainer.engine.session import Session

    cfg = from_dict({"data": {"dataset": "file"}, "model": {"hidden": [4], "output_activation": "auto"},
                     "train": {"backend": "torch", "loss": "auto", "epochs": 2, "learning_rate": 0.1}})
    control = RunControl()
    control.grid_shape = (2, 2)
    control.grid_interval = 0.0
    events: list = []
    session = Session(cfg, multiclass_dataset(), threads=1)
    result = session.run(events.append, control)
    assert result.failed is None, result.failed
    assert session.head == Head(task="multiclass", loss="categorical_crossentropy", output_activation="softmax",
                                n_outputs=3)
    started = events[0]
    assert started.config is cfg and started.class_names == ("a", "b", "c") and started.notes == ("three classes",)
    assert started.summary.params == 2 * 4 + 4 + 4 * 3 + 3
    assert not any(isinstance(e, BoundaryUpdated) for e in events) and session.boundary(2, 2, 1) is None
    scores = session.predict_points(np.array([[1.0, 0.0], [0.0, 2.0]]))
    assert scores.shape == (2, 3) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-6)  # class probabilities


def test_train_loads_the_configured_data_when_given_none() -> None:
    from tui_trainer.engine.session import train

    cfg = from_dict({"data": {"dataset": "circle", "noise": 0.1, "train_ratio": 0.6},
                     "train": {"backend": "torch", "epochs": 2}})
    events: list = []
    session, result = train(cfg, events.append, threads=1)
    assert session.threads == 1 and session.config is cfg and result.history == session.history
    assert events[0].n_train == 300 and events[0].n_val == 200  # the circle's 500 points, split 60/40
    assert result.finished.reason == "completed" and [e.epoch for e in result.history] == [1, 2]
    quiet_session, quiet = train(cfg.with_updates({"train.epochs": 1}))  # no listener: still runs
    assert quiet.finished.epochs_run == 1 and quiet_session.dataset.name == "circle"


def test_l2_penalty_enters_the_step_but_not_the_reported_loss() -> None:
    rate, lr = 0.1, 0.5
    cfg = config(learning_rate=lr, epochs=1, batch_size=5).with_updates(
        {"model.regularization": "l2", "model.reg_rate": rate})
    _, _, events = run(cfg)
    (epoch,) = epochs_of(events)
    from tests.test_hand_metrics import hand_loss, sgd_step

    head = ("tanh", "mse")
    assert epoch.loss == pytest.approx(hand_loss(head, W0, B0, X_TRAIN, Y_TRAIN), rel=1e-5)  # data loss only
    w1, b1 = sgd_step(head, W0, B0, X_TRAIN, Y_TRAIN, lr)
    w1 = (w1[0] - lr * 2 * rate * W0[0], w1[1] - lr * 2 * rate * W0[1])  # d(rate * |w|^2)/dw = 2 rate w
    assert epoch.val_loss == pytest.approx(hand_loss(head, w1, b1, X_VAL, Y_VAL), rel=1e-4)


def test_exporter_saves_the_weights_of_a_run_that_trained(tmp_path) -> None:
    import json

    from tui_trainer.runs.export import RunExporter

    for folder, control in (("ran", None), ("never", RunControl())):
        if control is not None:
            control.stop()
        session = FixedWeights(config(learning_rate=1e-9, epochs=2), dataset(), threads=1)
        exporter = RunExporter(tmp_path / folder, lambda s=session: s)
        session.run(exporter, control)
        if control is None:
            summary = json.loads((tmp_path / folder / "summary.json").read_text())
            assert summary["weights"] == "model.pt" and exporter.weights == tmp_path / folder / "model.pt"
            assert (tmp_path / folder / "model.pt").stat().st_size > 0
        else:  # stopped before the first epoch: nothing worth keeping, not even the folder
            assert exporter.weights is None and not (tmp_path / folder).exists()
