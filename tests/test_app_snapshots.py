"""Screenshots of the app compared with accepted ones (pytest-textual-snapshot).

Made repeatable: a frozen clock and no timings (no elapsed time, ETA or
seconds column), one framework thread, a seeded PyTorch run on the CPU.
Update after a deliberate change with ``pytest tests/test_app_snapshots.py
--snapshot-update`` and look at the new SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tests.test_app import circle, ready, run_to_end
from tui_trainer.app import create_app
from tui_trainer.core import presets

pytestmark = pytest.mark.app


def frozen(cfg, name: str = "circle"):
    return create_app(cfg, preset_name=name, threads=1, clock=lambda: 0.0, show_timings=False)


def test_idle_screen_at_80x24(snap_compare):
    """The circle preset as it opens: form, empty plot and table, TensorFlow imported."""

    async def settle(pilot):
        await ready(pilot)
        await pilot.pause(0.2)

    assert snap_compare(frozen(presets.load_preset("circle")), terminal_size=(80, 24), run_before=settle)


def test_finished_run_at_120x36(snap_compare):
    """A finished 20-epoch PyTorch run: curves, table, boundary map and model, side by side."""

    async def train(pilot):
        await ready(pilot)
        await run_to_end(pilot)
        await pilot.pause(0.3)

    app = frozen(circle(**{"train.epochs": 20, "train.device": "cpu"}))
    assert snap_compare(app, terminal_size=(120, 36), run_before=train)


def test_map_tab_with_data_before_training_no_color(snap_compare, monkeypatch):
    """80x24 without colour: the Map tab shows the xor points in ASCII over a neutral background."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def to_map(pilot):
        await ready(pilot)
        await pilot.press("f2")
        await pilot.pause(0.2)

    app = frozen(presets.load_preset("xor").with_updates({"train.backend": "torch"}), "xor")
    assert snap_compare(app, terminal_size=(80, 24), run_before=to_map)
