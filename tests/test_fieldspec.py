"""A field described once is validated, explained, listed and put in the form from that one line (core tier).

These tests declare a config of their own, with a field that the real config
doesn't have, to show what "adding a field is one edit" gives for free.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest

from tui_trainer.core.config import FIELDS, SECTIONS, from_dict
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.fieldspec import about, allowed_text, decode, describe


class Train(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    epochs: Annotated[int, about("passes over the data", "epochs", unit="epochs", ge=1, le=1000)] = 10
    momentum: Annotated[float, about("share of the last step kept", "momentum", ge=0.0, lt=1.0)] = 0.9
    schedule: Annotated[Literal["constant", "cosine", "step"], about("how the rate changes", "schedule")] = "constant"


class Mini(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    train: Annotated[Train, about("how it is trained", "Training")] = msgspec.field(default_factory=Train)


def message(data) -> str:
    with pytest.raises(ConfigError) as err:
        decode(data, Mini)
    return str(err.value)


def test_a_new_field_is_validated_with_the_usual_words() -> None:
    assert decode({"train": {"momentum": 0.5, "schedule": "COSINE", "epochs": 5.0}}, Mini) == Mini(
        train=Train(momentum=0.5, schedule="cosine", epochs=5))
    assert message({"train": {"momentum": 1.0}}) == "train.momentum: 1.0 is out of range; allowed: 0.0 <= value < 1.0"
    assert message({"train": {"momentum": "x"}}) == "train.momentum: 'x' is not a number; allowed: 0.0 <= value < 1.0"
    assert message({"train": {"momentum": float("nan")}}) == (
        "train.momentum: nan is not a number; allowed: 0.0 <= value < 1.0")
    assert message({"train": {"schedule": "cosin"}}) == (
        "train.schedule: 'cosin' is not allowed; choose one of constant, cosine, step (did you mean 'cosine'?)")
    assert message({"train": {"momentun": 0.5}}) == (
        "train.momentun: unknown key; allowed keys in [train]: epochs, momentum, schedule (did you mean 'momentum'?)")
    assert message({"train": {"epochs": 0}}) == "train.epochs: 0 is out of range; allowed: 1..1000"
    assert message({"train": 3}) == "train: must be a table ([train]), not 3"


def test_a_new_field_is_described_for_every_face() -> None:
    top, sections = describe(Mini)
    assert top == () and [s.title for s in sections] == ["Training"]
    momentum, schedule = sections[0].fields[1:]
    assert (momentum.key, momentum.label, momentum.widget, momentum.default) == ("train.momentum", "momentum", "input", 0.9)
    assert momentum.allowed == "0.0 <= value < 1.0" and momentum.help == "share of the last step kept"
    assert (schedule.widget, schedule.choices) == ("select", ("constant", "cosine", "step"))
    assert momentum.problem(2) is not None and momentum.problem(0.2) is None


def test_the_real_config_describes_every_field() -> None:
    for key, field in FIELDS.items():
        assert field.help, key
        assert field.key == key and (field.section in SECTIONS or field.section == "")
        if field.widget is not None:
            assert field.label, key
    assert FIELDS["train.backend"].choices == ("tensorflow", "torch")
    assert FIELDS["train.epochs"].unit == "epochs" and FIELDS["train.epochs"].allowed == "1..1000000"
    assert [s.title for s in SECTIONS.values()] == ["Data", "Network", "Training"]


#: Messages of the hand-written validators that the descriptions replaced, word for word (each input has one
#: mistake; with several, the first in declaration order is named).
BEFORE = [
    ({'model': {'layers': [5]}},
     'model.layers[0]: 5 is not a table; write it like {type = "dense", units = 8}'),
    ({'model': {'layers': 'dense'}},
     "model.layers: 'dense' is not a list; write it like [a, b]"),
    ({'model': {'layers': [{'units': 3}]}},
     'model.layers[0].type: None is not allowed; choose one of dense, dropout, flatten, conv2d, maxpool2d'),
    ({'model': {'layers': [{'type': 3}]}},
     'model.layers[0].type: 3 is not allowed; choose one of dense, dropout, flatten, conv2d, maxpool2d'),
    ({'model': {'layers': [{'type': 'conv2d', 'filters': 4, 'padding': 'SAME', 'kernel': 0}]}},
     'model.layers[0].kernel: 0 is out of range; allowed: a whole number >= 1'),
    ({'model': {'layers': [{'type': 'conv2d', 'filters': 4, 'padding': 'full'}]}},
     "model.layers[0].padding: 'full' is not allowed; choose one of valid, same"),
    ({'model': {'layers': [{'type': 'dropout', 'rate': 1.0}]}},
     'model.layers[0].rate: 1.0 is out of range; allowed: 0.0 <= value < 1.0'),
    ({'model': {'layers': [{'type': 'dropout'}]}},
     'model.layers[0].rate: is required for a dropout layer'),
    ({'model': {'layers': [{'type': 'flatten', 'x': 1}]}},
     'model.layers[0].x: unknown key; allowed keys in [model.layers[0]]: type'),
    ({'model': {'layers': [{'type': 'maxpool2d', 'size': 0}]}},
     'model.layers[0].size: 0 is out of range; allowed: a whole number >= 1'),
    ({'model': {'layers': [{'type': 'dense', 'units': 3, 'activation': 'tanhh'}]}},
     "model.layers[0].activation: 'tanhh' is not allowed; choose one of relu, tanh, sigmoid, linear (did you mean 'tanh'?)"),
    ({'model': {'layers': [{'type': 'dropout', 'rate': float("inf")}]}},
     'model.layers[0].rate: inf is not a number; allowed: 0.0 <= value < 1.0'),
    ({'model': {'layers': [{'type': 'dense', 'units': 4}, {'type': 'dense', 'units': 0}]}},
     'model.layers[1].units: 0 is out of range; allowed: a whole number >= 1'),
    ({'model': {'layers': [{'type': 'dense', 'units': 4}, {'type': 'dense', 'units': 2, 'unit': 3}]}},
     "model.layers[1].unit: unknown key; allowed keys in [model.layers[1]]: type, units, activation (did you mean 'units'?)"),
    ({'data': {'features': 'x1'}},
     "data.features: 'x1' is not a list; write it like [a, b]"),
    ({'data': {'columns': []}},
     'data.columns: needs at least one feature column name'),
    ({'data': {'columns': ['a', 1]}},
     'data.columns: 1 is not text; write it in quotes'),
    ({'data': {'seed': 2147483648}},
     'data.seed: 2147483648 is out of range; allowed: 0..2147483647'),
    ({'data': {'train_ratio': True}},
     'data.train_ratio: True is not a number; allowed: 0.1 <= value <= 0.9'),
    ({'data': {'path': 5}},
     'data.path: 5 is not text; write it in quotes'),
    ({'data': {'label_column': ['y']}},
     "data.label_column: ['y'] is not text; write it in quotes"),
    ({'model': {'dropout': [0.1]}},
     'model.dropout: has 1 values but model.hidden has 2 layers; give one per layer or a single value'),
    ({'model': {'dropout': float("nan")}},
     'model.dropout: nan is not a number; allowed: 0.0 <= value < 1.0'),
    ({'model': {'hidden': [4, 'x', 2]}},
     "model.hidden: 'x' is not a whole number; allowed: a whole number >= 1"),
    ({'model': {'hidden': 3, 'activation': 'relu'}},
     'model.hidden: 3 is not a list; write it like [a, b]'),
    ({'model': {'hidden': [4, 4], 'dropout': [0.1, -0.5]}},
     'model.dropout: -0.5 is out of range; allowed: 0.0 <= value < 1.0'),
    ({'train': {'batch_size': 1000001}},
     'train.batch_size: 1000001 is out of range; allowed: 1..1000000'),
    ({'train': {'learning_rate': -float("inf")}},
     'train.learning_rate: -inf is not a number; allowed: 0.0 < value <= 100.0'),
    ({'train': {'optimizer': None}},
     'train.optimizer: None is not allowed; choose one of sgd, momentum, adam, adamw, rmsprop, adagrad'),
    ({'description': None},
     'description: None is not text; write it in quotes'),
    ({'model': None},
     'model: must be a table ([model]), not None'),
]


@pytest.mark.parametrize(("data", "words"), BEFORE, ids=[w.split(":")[0] for _, w in BEFORE])
def test_the_words_are_those_of_the_hand_written_checks(data, words) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    assert str(err.value) == words and err.value.field == words.split(": ")[0]


def test_tidy_input_is_accepted_as_before() -> None:
    cfg = from_dict({"model": {"layers": [{"type": "Conv2D", "filters": 4.0, "padding": "SAME"}, {"type": "FLATTEN"}],
                               "activation": "RELU"},
                     "data": {"features": ["X1", "sinx2"]}})
    conv, flatten = cfg.model.layers
    assert (conv.type, conv.filters, conv.padding, flatten.type) == ("conv2d", 4, "same", "flatten")
    assert cfg.model.activation == ("relu", "relu") and cfg.data.features == ("x1", "sinx2")
    assert cfg.model.layers[0].to_dict() == {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 1,
                                             "padding": "same", "activation": "linear"}


def test_ranges_read_as_in_the_messages() -> None:
    from msgspec import Meta
    from msgspec.inspect import type_info

    def allowed(t) -> str:
        return allowed_text(type_info(t))

    assert allowed(Annotated[float, Meta(lt=2.0)]) == "value < 2.0"
    assert allowed(Annotated[float, Meta(le=2)]) == "value <= 2.0"
    assert allowed(Annotated[float, Meta(gt=0)]) == "value > 0.0"
    assert allowed(float) == "any number"
    assert allowed(Annotated[int, Meta(gt=0, lt=10)]) == "1..9"
    assert allowed(Annotated[int, Meta(le=5)]) == "a whole number <= 5"
    assert allowed(int) == "a whole number"
    assert allowed(Annotated[tuple[Annotated[int, Meta(ge=1)], ...], Meta(min_length=1)]) == (
        "a non-empty list of whole numbers >= 1")
