"""The app as a person meets it (issue 10): resizes, the status line, saving, the table, the plot, the map.

Each test drives the real app with Pilot and a real (short) PyTorch run, as in ``test_app.py``.
"""

from __future__ import annotations

import asyncio

from textual.app import App

from tests.test_app import SIZE, app_for, circle, ready, run_to_end, wait_for


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
