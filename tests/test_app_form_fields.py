"""The form is built from the fields' descriptions: a row per field, each judged with the CLI's words (app tier).

A person types a bad value into every input the form has, picks every choice of
every menu and switches every feature: each row shows exactly what ``--set``
would print for the same value, and a good value clears it.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Checkbox, Input, Label, Select

from tests.test_app import SIZE, app_for, circle, wait_for, words_of
from tui_trainer.app.forms import FLAG_FIELDS, INPUT_FIELDS, SELECT_FIELDS, ErrorText, FieldRow, dom_id
from tui_trainer.core.config import FIELDS, Config
from tui_trainer.core.errors import ConfigError

pytestmark = pytest.mark.app

#: A value each kind of field refuses, as typed into an input.
BAD = {"int": "1.5", "float": "lots"}


def cli_reason(key: str, value: object) -> str:
    """What ``--set key=value`` says about the value (the part after the field name)."""
    with pytest.raises(ConfigError) as err:
        Config().with_updates({key: value})
    assert err.value.field == key
    return err.value.reason


def test_every_described_field_has_its_row_label_and_words() -> None:
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.2)
            rows = {row.key: row for row in app.form.query(FieldRow)}
            assert set(rows) == set(INPUT_FIELDS) | set(SELECT_FIELDS)
            for key, row in rows.items():
                assert words_of(row.query_one(Label)) == FIELDS[key].label
                assert FIELDS[key].help in str(row.widget.tooltip)
            for key in SELECT_FIELDS:
                select = app.form.query_one(f"#in-{dom_id(key)}", Select)
                assert [str(option[1]) for option in select._options] == list(FIELDS[key].choices)
            for key in FLAG_FIELDS:
                for choice in FIELDS[key].choices:
                    assert isinstance(app.form.query_one(f"#feat-{choice}"), Checkbox)

            for key in INPUT_FIELDS:
                if FIELDS[key].kind not in BAD:
                    continue
                box = app.form.query_one(f"#in-{dom_id(key)}", Input)
                good = box.value
                box.value = BAD[FIELDS[key].kind]
                expected = cli_reason(key, float(box.value) if FIELDS[key].kind == "int" else box.value)
                # A row's ErrorText is made when it first has a reason to show (fewer widgets on the first frame).
                row = rows[key]

                def reason(row: FieldRow = row) -> str | None:
                    found = row.query(ErrorText)
                    return found.first().reason if found else None

                await wait_for(pilot, lambda: reason() is not None, what=f"{key} marked")
                assert reason() == expected and box.has_class("-bad"), key
                box.value = good
                await wait_for(pilot, lambda: reason() is None, what=f"{key} cleared")
                assert not box.has_class("-bad"), key
            assert app.check.ok

            for key in FLAG_FIELDS:
                for box in app.form.query(f"#row-{dom_id(key)} Checkbox").results(Checkbox):
                    box.value = False
                await wait_for(pilot, lambda key=key: key in app.check.errors, what=f"{key} marked")
                assert app.check.errors[key] == cli_reason(key, [])
                app.form.query_one("#feat-x1", Checkbox).value = True
                await wait_for(pilot, lambda key=key: key not in app.check.errors, what=f"{key} cleared")
    asyncio.run(scenario())
