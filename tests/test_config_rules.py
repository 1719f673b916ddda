"""Config validation, message by message: the exact line a user reads for each mistake (core tier).

The messages are the interface: the CLI prints them as they are, the app shows
them at the field. Each one names the field, the value and what is allowed.
"""

from __future__ import annotations

import pytest

from tui_trainer.core.config import Config, check_consistency, from_dict, resolve_loss, resolve_output_activation
from tui_trainer.core.errors import ConfigError

MESSAGES = [
    ({"bogus": 1}, "bogus: unknown key; allowed keys: description, extends, data, model, train"),
    ({"train": {"epoch": 5}}, "train.epoch: unknown key; allowed keys in [train]: backend, device, optimizer, "
                              "learning_rate, loss, batch_size, epochs, patience (did you mean 'epochs'?)"),
    ({"data": {"noise": "x"}}, "data.noise: 'x' is not a number; allowed: 0.0 <= value <= 0.5"),
    ({"train": {"learning_rate": "x"}}, "train.learning_rate: 'x' is not a number; allowed: 0.0 < value <= 100.0"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate: 0 is out of range; allowed: 0.0 < value <= 100.0"),
    ({"model": {"reg_rate": "x"}}, "model.reg_rate: 'x' is not a number; allowed: value >= 0.0"),
    ({"model": {"reg_rate": -1}}, "model.reg_rate: -1 is out of range; allowed: value >= 0.0"),
    ({"model": {"reg_rate": float("inf")}}, "model.reg_rate: inf is not a number; allowed: value >= 0.0"),
    ({"train": {"epochs": "5"}}, "train.epochs: '5' is not a whole number; allowed: 1..1000000"),
    ({"train": {"epochs": 1_000_001}}, "train.epochs: 1000001 is out of range; allowed: 1..1000000"),
    ({"train": {"epochs": 0}}, "train.epochs: 0 is out of range; allowed: 1..1000000"),
    ({"train": {"epochs": True}}, "train.epochs: True is not a whole number; allowed: 1..1000000"),
    ({"train": {"epochs": 2.5}}, "train.epochs: 2.5 is not a whole number; allowed: 1..1000000"),
    ({"train": {"patience": -1}}, "train.patience: -1 is out of range; allowed: a whole number >= 0"),
    ({"train": {"patience": "x"}}, "train.patience: 'x' is not a whole number; allowed: a whole number >= 0"),
    ({"description": 5}, "description: 5 is not text; write it in quotes"),
    ({"model": {"activation": ["tanh", "bogus"]}},
     "model.activation: 'bogus' is not allowed; choose one of relu, tanh, sigmoid, linear"),
    ({"model": {"activation": ["tanh"]}},
     "model.activation: has 1 values but model.hidden has 2 layers; give one per layer or a single value"),
    ({"data": "circle"}, "data: must be a table ([data]), not 'circle'"),
    ({"data": {"dataset": "reg-plane"}, "train": {"loss": "binary_crossentropy"}, "model": {"output_activation": "sigmoid"}},
     "train.loss: 'binary_crossentropy' needs class labels but reg-plane is a regression dataset; use mse"),
    ({"data": {"dataset": "digits"}, "train": {"loss": "mse"}},
     "train.loss: 'mse' can't train digits, which has several classes; use categorical_crossentropy"),
    ({"data": {"dataset": "digits"}, "train": {"loss": "categorical_crossentropy"}, "model": {"output_activation": "tanh"}},
     "model.output_activation: 'tanh' can't give class probabilities; use softmax (or linear for logits) with several "
     "classes"),
    ({"train": {"loss": "categorical_crossentropy"}},
     "train.loss: categorical_crossentropy needs several classes; circle has one output: use mse or binary_crossentropy"),
    ({"model": {"output_activation": "softmax"}},
     "model.output_activation: softmax needs several classes; use tanh, sigmoid or linear for one output"),
    ({"train": {"loss": "binary_crossentropy"}, "model": {"output_activation": "tanh"}},
     "model.output_activation: 'tanh' doesn't give a probability for binary_crossentropy; use sigmoid (or linear for "
     "logits)"),
]


@pytest.mark.parametrize(("data", "message"), MESSAGES, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(MESSAGES)])
def test_each_mistake_gets_its_exact_message(data, message) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    assert str(err.value) == message
    assert err.value.field == message.split(":")[0]


def test_not_a_table() -> None:
    with pytest.raises(ConfigError) as err:
        from_dict([1])
    assert str(err.value) == "config: must be a table of [data], [model] and [train]"
    assert err.value.field == "config" and err.value.reason == "must be a table of [data], [model] and [train]"


def test_limits_are_inclusive_where_documented() -> None:
    cfg = from_dict({"train": {"epochs": 1_000_000, "patience": 0, "learning_rate": 100, "batch_size": 1},
                     "data": {"noise": 0.5, "train_ratio": 0.1}, "model": {"reg_rate": 0}})
    assert (cfg.train.epochs, cfg.train.patience, cfg.train.learning_rate) == (1_000_000, 0, 100.0)
    assert from_dict({"train": {"epochs": 1}}).train.epochs == 1
    whole = from_dict({"train": {"epochs": 5.0, "patience": 3.0}}).train
    assert (whole.epochs, whole.patience) == (5, 3) and type(whole.epochs) is int and type(whole.patience) is int


def test_description_is_kept() -> None:
    assert from_dict({"description": "mine"}).description == "mine"
    assert from_dict({}).description == "" and from_dict({}) == Config()


def test_files_are_checked_once_their_task_is_known() -> None:
    # A data file's labels decide its task, so from_dict lets the pair through ...
    cfg = from_dict({"data": {"dataset": "file"}, "train": {"loss": "binary_crossentropy"},
                     "model": {"output_activation": "linear"}})
    cfg_tanh = from_dict({"data": {"dataset": "file"}, "train": {"loss": "mse"}, "model": {"output_activation": "softmax"}})
    # ... and the engine checks again with the real task.
    check_consistency(cfg, "binary")
    with pytest.raises(ConfigError) as err:
        check_consistency(cfg, "regression")
    assert str(err.value) == "train.loss: 'binary_crossentropy' needs class labels but file is a regression dataset; use mse"
    check_consistency(cfg_tanh.with_updates({"train.loss": "categorical_crossentropy"}), "multiclass")
    with pytest.raises(ConfigError):
        check_consistency(cfg_tanh, "binary")
    # The default recipe (MSE, tanh) cannot train several classes.
    with pytest.raises(ConfigError):
        check_consistency(Config(), "multiclass")


@pytest.mark.parametrize(("loss", "task", "want_loss", "want_out"), [
    ("auto", "binary", "mse", "tanh"),
    ("binary_crossentropy", "binary", "binary_crossentropy", "sigmoid"),
    ("auto", "regression", "mse", "linear"),
    ("auto", "multiclass", "categorical_crossentropy", "softmax"),
    ("categorical_crossentropy", "multiclass", "categorical_crossentropy", "softmax"),
])
def test_auto_loss_and_output(loss, task, want_loss, want_out) -> None:
    cfg = from_dict({"data": {"dataset": "file"}, "train": {"loss": loss}, "model": {"output_activation": "auto"}})
    assert resolve_loss(cfg, task) == want_loss
    assert resolve_output_activation(cfg, task) == want_out
    fixed = cfg.with_updates({"model.output_activation": "linear"})
    assert resolve_output_activation(fixed, task) == "linear"
