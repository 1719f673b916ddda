"""A field described once is validated, explained, listed and put in the form from that one line (core tier).

These tests declare a config of their own, with a field that the real config
doesn't have, to show what "adding a field is one edit" gives for free.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import pytest

from tui_trainer.core.config import FIELDS, SECTIONS
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.fieldspec import about, decode, describe


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
