"""The app's Network panel, driven with Pilot as a person would: real runs on PyTorch, short.

Also its screenshots at 120x40 and 80x24, with and without colour.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from textual.widgets import Checkbox

from tests.test_app import SIZE, app_for, circle, ready, run_to_end, wait_for, words_of
from tui_trainer.app import create_app
from tui_trainer.app.network_view import NetworkView, compute_layout
from tui_trainer.core import presets

pytestmark = pytest.mark.app

WIDE = (120, 40)
NARROW = (80, 24)


def view_of(app) -> NetworkView:
    return app.query_one("#network-view", NetworkView)


def inspector(app) -> str:
    return words_of(app.query_one("#network-inspector"))


def test_layout_shrinks_maps_then_scrolls():
    """2-3-3-1 (seven inputs shown) and 7-16-16-8-1 at the panel sizes the app has."""
    small = compute_layout([7, 3, 3, 1], 80, 33)
    assert (small.map_w, small.map_h) == (6, 3) and small.height == 33 and small.width == 80
    assert all(b[0] > a[0] for a, b in zip(small.gaps, small.gaps[1:], strict=False))
    assert min(x1 - x0 for x0, x1 in small.gaps) >= 8
    big = compute_layout([7, 16, 16, 8, 1], 52, 33)
    assert (big.map_w, big.map_h) == (4, 2) and big.height > 33  # 16 maps of 2 rows + gaps: scrolls
    assert big.width <= 52
    # Every neuron is where hit() finds it, and nowhere else.
    for c, tops in enumerate(big.tops):
        for i, top in enumerate(tops):
            assert big.hit(big.xs[c] + 1, top + 1) == (c, i)
    assert big.hit(0, 0) is None


def test_network_tab_shows_the_planned_net_then_the_trained_one_and_costs_nothing_when_hidden():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 20}))
        async with app.run_test(size=NARROW) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            # The view was not open: the engine sent no network events.
            assert app.run_state.network is None and app.run_state.control.network_shape is None
            for _ in range(3):
                await pilot.press("f2")
            assert app.query_one("#panels").has_class("-view-network")
            # Opening it after the run asks the finished model once, at the map's grid shape.
            await wait_for(pilot, lambda: app.run_state.network is not None, what="the network event")
            await pilot.pause(0.3)
            view = view_of(app)
            assert [c.size for c in view.columns] == [7, 3, 3, 1]
            assert view.columns[1].grids.shape[1:] == tuple(app._last_grid)
            assert view.columns[0].enabled == (True, True, False, False, False, False, False)
            assert view.draws >= 1 and app.focused is view
            # Change the net in the form: the view shows the planned one (neutral neurons) until F5.
            await pilot.press("f3")  # hide the form ... and show it again; the form keeps its values
            await pilot.press("f3")
            app.query_one("#feat-sinx1", Checkbox).value = True
            await wait_for(pilot, lambda: view.columns and view.columns[1].grids is None, what="the planned net")
            assert view.columns[0].enabled[5]
            await run_to_end(pilot)
            await wait_for(pilot, lambda: view.columns[1].grids is not None, what="the new run's net")
            assert app.run_state.control.network_shape == tuple(app._last_grid)
            assert app.run_state.network.layers[0].labels == ("X1", "X2", "sin X1")

    asyncio.run(scenario())


def test_selected_neuron_fills_the_big_map_and_inspector_and_escape_restores_the_output():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 30}))
        async with app.run_test(size=WIDE) as pilot:
            await ready(pilot)
            await pilot.press("f2")  # wide: the network takes the curves' place; the map stays
            assert app.query_one("#panels").has_class("-view-network") and app.map_panel.display
            await run_to_end(pilot)
            await wait_for(pilot, lambda: app.run_state.network is not None
                           and app.run_state.network.epoch == 30, what="the last network")
            await pilot.pause(0.2)
            run = app.run_state
            output = app.boundary_map.values
            np.testing.assert_allclose(output, run.boundary.values)
            await pilot.press("right")  # first key: the first input in use, X1
            assert view_of(app).selected == (0, 0)
            assert "input X1 · on" in inspector(app)
            await pilot.press("right", "down")  # into the first hidden layer
            c, i = view_of(app).selected
            assert c == 1
            await pilot.pause(0.1)
            grid = run.network.layers[1].grids[i]
            np.testing.assert_allclose(app.boundary_map.values, grid)
            words = inspector(app)
            bias = run.network.layers[1].biases[i]
            assert f"bias {bias:+.3f}" in words and "in: X1" in words and "tanh" in words
            assert "neuron dense #" in " · ".join(app.query_one("#map-title").parts)
            # The predict box's point (F4 keeps the network on screen and the neuron selected).
            await pilot.press("f4", *"1.5, -2", "enter")
            x = np.array([1.5, -2.0])
            expected = np.tanh(x @ run.network.layers[1].weights[:, i] + bias)
            await wait_for(pilot, lambda: f"at (1.5, -2): {expected:+.4f}" in inspector(app), what="the value")
            assert app.network_visible() and view_of(app).selected == (c, i)
            view_of(app).focus()
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert view_of(app).selected is None and app.inspected is None
            np.testing.assert_allclose(app.boundary_map.values, run.boundary.values)
            assert "boundary" in " · ".join(app.query_one("#map-title").parts)

    asyncio.run(scenario())


def test_space_on_an_input_switches_the_feature_and_the_mouse_selects():
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=WIDE) as pilot:
            await ready(pilot)
            await pilot.press("f2")
            await wait_for(pilot, lambda: bool(view_of(app).columns), what="the planned network")
            await pilot.pause(0.2)
            await pilot.press("down", "down", "down")  # X1, then X2, then X1²
            assert view_of(app).selected == (0, 2)
            box = app.query_one("#feat-x1sq", Checkbox)
            assert not box.value
            await pilot.press("space")
            await pilot.pause(0.1)
            assert box.value and "x1sq" in app.check.config.data.features
            await pilot.press("space")
            await pilot.pause(0.1)
            assert not box.value
            # The mouse: hovering a neuron selects it; leaving the view restores the output map.
            view = view_of(app)
            layout = view.layout_info
            target = (layout.xs[2] + 1, layout.tops[2][1] + 1)
            await pilot.hover("#network-view", offset=target)
            await pilot.pause(0.1)
            assert view.selected == (2, 1)
            await pilot.hover("#status")
            await pilot.pause(0.1)
            assert view.selected is None
            # A click on a selected input switches it too (the playground's click).
            target = (layout.xs[0] + 1, layout.tops[0][4] + 1)
            await pilot.click("#network-view", offset=target)
            await pilot.click("#network-view", offset=target)
            await pilot.pause(0.1)
            assert app.query_one("#feat-x1x2", Checkbox).value

    asyncio.run(scenario())


def test_digits_network_view_shows_weight_images():
    async def scenario():
        cfg = presets.load_preset("digits").with_updates({"train.epochs": 1, "train.backend": "torch"})
        app = create_app(cfg, preset_name="digits", threads=1)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f2")
            await run_to_end(pilot)
            await wait_for(pilot, lambda: app.run_state.network is not None, what="the weights")
            await pilot.pause(0.3)
            text = words_of(app.query_one("#network-images"))
            assert "first dense layer, 16 neurons shown, relu" in text
            assert not view_of(app).display

    asyncio.run(scenario())


# -- screenshots ------------------------------------------------------------------------------------
def frozen(cfg, name="circle"):
    return create_app(cfg, preset_name=name, threads=1, clock=lambda: 0.0, show_timings=False)


def trained_then(*keys: str, views: int = 1):
    async def run(pilot):
        await ready(pilot)
        for _ in range(views):
            await pilot.press("f2")
        await run_to_end(pilot)
        app = pilot.app
        await wait_for(pilot, lambda: app.run_state.network is not None
                       and app.run_state.network.epoch == app.run_state.last.epoch, what="the last network")
        await pilot.pause(0.3)
        await pilot.press(*keys)
        await pilot.pause(0.3)
    return run


def test_snapshot_network_at_120x40_with_a_neuron_selected(snap_compare):
    app = frozen(circle(**{"train.epochs": 20, "train.device": "cpu"}))
    assert snap_compare(app, terminal_size=WIDE, run_before=trained_then("right", "right", "down"))


def test_snapshot_network_at_120x40_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = frozen(circle(**{"train.epochs": 20, "train.device": "cpu"}))
    assert snap_compare(app, terminal_size=WIDE, run_before=trained_then("right", "right", "right"))


def test_snapshot_network_tab_at_80x24(snap_compare):
    app = frozen(circle(**{"train.epochs": 20, "train.device": "cpu"}))
    assert snap_compare(app, terminal_size=NARROW, run_before=trained_then("right", views=3))


def test_snapshot_network_tab_at_80x24_no_color(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = frozen(circle(**{"train.epochs": 20, "train.device": "cpu"}))
    assert snap_compare(app, terminal_size=NARROW, run_before=trained_then("escape", views=3))
