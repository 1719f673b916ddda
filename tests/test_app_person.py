"""The app as a person meets it (issue 10): resizes, the status line, saving, the table, the plot, the map.

Each test drives the real app with Pilot and a real (short) PyTorch run, as in ``test_app.py``.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
from textual.app import App

from tests.test_app import SIZE, app_for, circle, ready, run_to_end, wait_for
from tui_trainer import presets
from tui_trainer.app import create_app


def test_the_app_assigns_none_of_textuals_own_attributes():
    """The root cause of "resizes are ignored after a run": the app kept a timer of its own in
    ``_resize_timer``, the attribute textual.App debounces resizes with, so once a map redraw had
    been scheduled there every later terminal resize was dropped."""
    import inspect
    import re

    from tui_trainer.app import app as app_module

    assigned = set(re.findall(r"self\.(_?\w+)(?:: [^=]+)? = ", inspect.getsource(app_module)))
    textual_own = set(vars(App()))
    assert "_map_resize_timer" in assigned
    assert assigned & textual_own == set(), "TrainerApp overwrites textual.App's own state"


def test_resizes_after_a_run_relayout_the_screen():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 5}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            for width, height in ((80, 24), (120, 40), (100, 30), (200, 60), (60, 20), (120, 40)):
                await pilot.resize_terminal(width, height)
                # The map asks the model for a grid of the new size after 0.2 s; wait past that.
                await pilot.pause(0.35)
                assert app.screen.size == (width, height)
                footer = app.screen.query_one("Footer")
                assert footer.region.bottom == height, f"footer off-screen at {width}x{height}"
                wide = width >= 120 and height >= 32
                assert app.screen.has_class("-wide") == (width >= 120)
                assert app.map_panel.region.right <= width
                if wide:
                    # Every panel on screen at once, side by side.
                    assert app.map_panel.region.x > app.table.region.x
            await wait_for(pilot, lambda: app.boundary_map.values is not None
                           and app.run_state.boundary.values.shape == app._last_grid, what="a map of the last size")

    asyncio.run(scenario())


def write_ab_csv(path) -> None:
    """Points with columns a, b in 0..100, labelled by which is larger."""
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (120, 2))
    rows = [f"{a:.3f},{b:.3f},{1 if a > b else -1}" for a, b in points]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n", encoding="utf-8")


def ab_config(path, **updates: object):
    base = {"data.path": str(path), "data.columns": ["a", "b"], "data.label_column": "y",
            "train.backend": "torch", "train.epochs": 3}
    return presets.load_preset("csv").with_updates({**base, **updates})


def test_the_map_uses_a_data_files_own_range_and_column_names(tmp_path):
    write_ab_csv(tmp_path / "ab.csv")

    async def scenario():
        app = create_app(ab_config(tmp_path / "ab.csv"), preset_name="csv", threads=1)
        async with app.run_test(size=(160, 48)) as pilot:
            await ready(pilot)
            title = app.map_panel.query_one("#map-title").text
            assert "a -10..110 across, b -10..110 up" in title
            assert app.boundary_map.extent == (-10.0, 110.0, -10.0, 110.0)
            # The points spread over the map instead of one corner of [-6, 6]².
            marked = [line for line in map_text(app) if any(ch in line for ch in "OXox")]
            assert len(marked) >= 15, marked
            await run_to_end(pilot)
            await wait_for(pilot, lambda: not app.boundary_map.neutral, what="the trained map")
            assert app.run_state.boundary.extent == (-10.0, 110.0, -10.0, 110.0)
            assert app.run_state.boundary.axes == ("a", "b")
            assert app.boundary_map.extent == (-10.0, 110.0, -10.0, 110.0)

    asyncio.run(scenario())


def map_text(app) -> list[str]:
    """The map's lines as plain characters."""
    return ["".join(seg.text for seg in strip) for strip in app.boundary_map._strips()]


def test_the_metrics_table_fits_at_80x24_and_120x40_with_epoch_times_in_ms():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 4}))
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            for size in ((80, 24), (120, 40)):
                await pilot.resize_terminal(*size)
                await pilot.pause(0.3)
                table = app.table
                assert [str(c.label) for c in table.columns.values()] == [
                    "epoch", "loss", "acc", "val_loss", "val_acc", "time"]
                # Every column is inside the table's visible width, nothing cut.
                assert table.virtual_size.width <= table.scrollable_content_region.width, size
                assert table.region.right <= size[0]
                times = [str(table.get_row_at(r)[-1]) for r in range(4)]
                # Playground epochs take milliseconds: shown as such, never 0.00.
                assert all(t.endswith("ms") or t.endswith("s") for t in times) and "0.00" not in times, times
                assert any(t.endswith("ms") for t in times), times

    asyncio.run(scenario())


def plot_text(app) -> list[str]:
    """The loss plot as plotext builds it, as plain lines (colour codes removed)."""
    from textual_plotext import PlotextPlot

    plot = app.plot.query_one("#plot", PlotextPlot)
    plot.plt.plotsize(plot.size.width, plot.size.height)
    built = plot.plt.build()
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in built.splitlines()]


def test_the_plot_ticks_whole_epochs():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 7}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            await pilot.pause(0.2)
            lines = plot_text(app)
            at = next(i for i, line in enumerate(lines) if line.strip() == "epoch")
            labels = lines[at - 1].split()
            assert labels and all(label.isdigit() for label in labels), labels
            assert int(labels[0]) >= 1 and int(labels[-1]) <= 7

    asyncio.run(scenario())
