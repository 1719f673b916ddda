"""Config validation: every field checked, errors name the field, value and what is allowed."""

from __future__ import annotations

import pytest

from tui_trainer.core import config as cfgmod
from tui_trainer.core.config import Config, from_dict, parse_set, parse_value
from tui_trainer.core.errors import ConfigError


def test_defaults_are_the_textbook_recipe():
    cfg = Config()
    assert cfg.data.dataset == "circle" and cfg.data.train_ratio == 0.5 and cfg.data.noise == 0.0
    assert cfg.model.hidden == (3, 3) and cfg.model.activation == ("tanh", "tanh")
    assert cfg.model.output_activation == "tanh"
    assert (cfg.train.optimizer, cfg.train.learning_rate, cfg.train.loss) == ("sgd", 0.03, "mse")
    assert (cfg.train.batch_size, cfg.train.epochs) == (15, 100)


def test_round_trip_through_dict():
    cfg = from_dict({"model": {"hidden": [8, 4, 2], "activation": ["relu", "tanh", "sigmoid"], "dropout": 0.1}})
    again = from_dict(cfg.to_dict())
    assert again == cfg
    assert again.model.dropout == (0.1, 0.1, 0.1)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"data": {"dataset": "circel"}}, "data.dataset", "did you mean 'circle'"),
        ({"data": {"noise": 0.7}}, "data.noise", "0.0 <= value <= 0.5"),
        ({"data": {"noise": "lots"}}, "data.noise", "not a number"),
        ({"data": {"train_ratio": 0.95}}, "data.train_ratio", "0.1 <= value <= 0.9"),
        ({"data": {"seed": -1}}, "data.seed", "allowed: 0..2147483647"),
        ({"data": {"seed": 1.5}}, "data.seed", "not a whole number"),
        ({"data": {"features": ["x1", "x3"]}}, "data.features", "choose one of x1, x2, x1sq"),
        ({"data": {"features": []}}, "data.features", "at least one"),
        ({"data": {"features": ["x1", "x1"]}}, "data.features", "twice"),
        ({"model": {"hidden": [3, 0]}}, "model.hidden", ">= 1"),
        ({"model": {"hidden": 3}}, "model.hidden", "not a list"),
        ({"model": {"activation": "tanhh"}}, "model.activation", "did you mean 'tanh'"),
        ({"model": {"activation": ["tanh"]}}, "model.activation", "has 1 values but model.hidden has 2 layers"),
        ({"model": {"dropout": 1.0}}, "model.dropout", "value < 1.0"),
        ({"model": {"regularization": "l3"}}, "model.regularization", "none, l1, l2"),
        ({"model": {"reg_rate": -0.1}}, "model.reg_rate", ">= 0.0"),
        ({"model": {"output_activation": "softmx"}}, "model.output_activation", "did you mean 'softmax'"),
        ({"model": {"layers": [{"type": "dense"}]}}, "model.layers[0].units", "required"),
        ({"model": {"layers": [{"type": "conv3d"}]}}, "model.layers[0].type", "dense, dropout, flatten, conv2d"),
        ({"model": {"layers": [{"type": "dense", "units": 4, "filters": 2}]}}, "model.layers[0].filters", "unknown key"),
        ({"train": {"optimizer": "adm"}}, "train.optimizer", "did you mean 'adam'"),
        ({"train": {"learning_rate": 0}}, "train.learning_rate", "0.0 < value <= 100.0"),
        ({"train": {"batch_size": 0}}, "train.batch_size", "1..1000000"),
        ({"train": {"epochs": True}}, "train.epochs", "not a whole number"),
        ({"train": {"backend": "jax"}}, "train.backend", "tensorflow, torch"),
        ({"train": {"device": "gpu"}}, "train.device", "auto, cpu, cuda"),
        ({"train": {"loss": "hinge"}}, "train.loss", "mse, binary_crossentropy"),
        ({"train": {"epoch": 5}}, "train.epoch", "did you mean 'epochs'"),
        ({"trian": {}}, "trian", "did you mean 'train'"),
        ({"train": 5}, "train", "must be a table"),
    ],
)
def test_bad_values_name_field_value_and_allowed(data, field, fragment):
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(field)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"data": {"dataset": "reg-plane"}, "train": {"loss": "binary_crossentropy"}, "model": {"output_activation": "sigmoid"}}, "train.loss"),
        ({"train": {"loss": "binary_crossentropy"}}, "model.output_activation"),
        ({"train": {"loss": "categorical_crossentropy"}}, "train.loss"),
        ({"model": {"output_activation": "softmax"}}, "model.output_activation"),
        ({"data": {"dataset": "digits"}, "train": {"loss": "mse"}, "model": {"output_activation": "auto"}}, "train.loss"),
    ],
)
def test_loss_and_output_must_suit_the_task(data, field):
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    assert info.value.field == field


def test_auto_loss_and_output_follow_the_task():
    cfg = from_dict({"data": {"dataset": "digits"}, "train": {"loss": "auto"}, "model": {"output_activation": "auto"}})
    assert cfgmod.resolve_loss(cfg, "multiclass") == "categorical_crossentropy"
    assert cfgmod.resolve_output_activation(cfg, "multiclass") == "softmax"
    reg = from_dict({"data": {"dataset": "reg-plane"}, "model": {"output_activation": "auto"}})
    assert cfgmod.resolve_output_activation(reg, "regression") == "linear"


def test_parse_value_reads_toml_and_bare_words():
    assert parse_value("50") == 50
    assert parse_value("0.5") == 0.5
    assert parse_value("[8,8]") == [8, 8]
    assert parse_value("xor") == "xor"
    assert parse_value("[x1, x2, sinx1]") == ["x1", "x2", "sinx1"]
    assert parse_value('"quoted"') == "quoted"
    assert parse_value("true") is True


def test_parse_set_checks_keys():
    assert parse_set("train.epochs=50") == ("train.epochs", 50)
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        parse_set("train.epoch=50")
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_set("train.epochs")
    with pytest.raises(ConfigError, match="data, model, train"):
        parse_set("tran.epochs=1")


def test_with_updates_resizes_per_layer_lists():
    cfg = Config().with_updates({"model.hidden": [8, 8, 8]})
    assert cfg.model.activation == ("tanh", "tanh", "tanh")
    assert cfg.model.dropout == (0.0, 0.0, 0.0)
    mixed = from_dict({"model": {"hidden": [4, 4], "activation": ["relu", "tanh"]}})
    with pytest.raises(ConfigError, match="model.activation"):
        mixed.with_updates({"model.hidden": [4]})
