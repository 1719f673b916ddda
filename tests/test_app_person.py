"""The app as a person meets it (issue 10): resizes, the status line, saving, the table, the plot, the map.

Each test drives the real app with Pilot and a real (short) PyTorch run, as in ``test_app.py``.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from textual.app import App
from textual.widgets import Button

from tests.test_app import SIZE, app_for, circle, ready, run_to_end, table_rows, text_of, wait_for
from tui_trainer.app import TrainerApp, create_app
from tui_trainer.app.dialogs import OpenPresetScreen, SavePresetScreen
from tui_trainer.app.forms import LayerRow
from tui_trainer.core import presets

pytestmark = pytest.mark.app


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


def test_every_worker_has_a_description_so_textual_never_reprs_its_arguments():
    """Textual names a ``@work`` call ``method(repr(arg), ...)`` unless given a description.

    ``_redraw_boundary(run, shape)`` runs on every pause, and ``repr(run)`` spelled out the run's
    whole history: on a few-thousand-epoch run, F6 -> "paused" took 80-250 ms of the UI thread
    (``bench_app.py --sections keys``), growing with the run.  With descriptions it takes ~2 ms.
    """
    import ast
    from pathlib import Path

    from tui_trainer import app as app_package

    missing = []
    for path in Path(app_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    name = deco.func if isinstance(deco, ast.Call) else deco
                    if isinstance(name, ast.Name) and name.id == "work" and not (
                            isinstance(deco, ast.Call) and any(k.arg == "description" for k in deco.keywords)):
                        missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert missing == []


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
            await wait_for(pilot, lambda: app.boundary_map.points and app.boundary_map.size.height > 10,
                           what="the points on the map")
            await pilot.pause(0.1)
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


async def set_widths(pilot, *widths: int) -> None:
    """Make the hidden layers ``widths`` wide, with the form's own + and - buttons."""
    app = pilot.app
    while len(app.form.query(LayerRow)) < len(widths):
        await app.form._add_layer(Button.Pressed(app.form.query_one("#add-layer", Button)))
    while len(app.form.query(LayerRow)) > len(widths):
        await app.form._remove_layer(Button.Pressed(app.form.query_one("#remove-layer", Button)))
    for row, width in zip(app.form.query(LayerRow), widths, strict=True):
        row.query_one(".layer-units").value = str(width)
    await pilot.pause(0.1)


def test_saving_after_edits_proposes_a_name_and_description_from_the_form(isolated_config):
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert app.status_text().endswith("preset circle")
            app.form.query_one("#in-data-dataset").value = "spiral"
            await set_widths(pilot, 16, 8)
            app.form.query_one("#in-train-epochs").value = "2000"
            await pilot.pause(0.1)
            assert app.status_text().endswith("preset circle (modified)")
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, SavePresetScreen)
            name = app.screen.query_one("#preset-name").value
            description = app.screen.query_one("#preset-description").value
            assert name == "spiral-16-8-torch"
            assert "textbook" not in description and "100 epochs" not in description
            for words in ("spiral", "16 tanh", "8 tanh", "2000 epochs", "torch"):
                assert words in description, (words, description)
            await pilot.press("enter")
            await pilot.pause(0.2)
            listed = {p.name: p for p in presets.list_presets()}
            assert listed[name].description == description and listed[name].source == "user"
            saved = presets.load_preset(name)
            assert saved.data.dataset == "spiral" and saved.model.hidden == (16, 8) and saved.train.epochs == 2000
            # Saved: the form is that preset now, unmodified until the next edit.
            assert app.status_text().endswith(f"preset {name}")
            app.form.query_one("#in-train-epochs").value = "50"
            await pilot.pause(0.1)
            assert app.status_text().endswith(f"preset {name} (modified)")
            # An unchanged built-in is proposed as my-<name> with its own description.
            await pilot.press("ctrl+o")
            options = app.screen.query_one("#preset-list")
            options.highlighted = [p.name for p in presets.list_presets()].index("xor")
            await pilot.press("enter")
            await pilot.pause(0.2)
            await pilot.press("ctrl+s")
            assert app.screen.query_one("#preset-name").value == "my-xor"
            assert app.screen.query_one("#preset-description").value == presets.load_preset("xor").description
            await pilot.press("escape")

    asyncio.run(scenario())


def test_the_status_line_follows_the_form_after_a_run_and_old_results_are_labelled():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 5}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            status = app.status_text()
            assert status.startswith("finished (completed) · epoch 5/5") and "25 params" in status
            assert "PyTorch CPU" in status
            app.form.query_one("#in-data-dataset").value = "xor"
            await set_widths(pilot, 16, 8)
            app.form.query_one("#in-train-backend").value = "tensorflow"
            await pilot.pause(0.1)
            status = app.status_text()
            # What F5 would train now, and the old run named as such.
            assert status.startswith("idle · last run finished (completed) at epoch 5/5"), status
            assert "193 params" in status and "25 params" not in status
            assert ("TensorFlow" in status or "loading TensorFlow" in status) and "PyTorch" not in status
            assert "preset circle (modified)" in status
            assert "193" in text_of(app.model_panel.query_one("#model-summary"))
            # The old results stay, dimmed and labelled as the last run's.
            await pilot.pause(0.2)
            assert app.query_one("#train-panel").has_class("-stale")
            assert "last run" in app.plot.title and "last run" in str(app.table.border_title)
            assert len(table_rows(app)) == 5
            # Back to what was trained: current again.
            app.form.query_one("#in-data-dataset").value = "circle"
            await set_widths(pilot, 3, 3)
            app.form.query_one("#in-train-backend").value = "torch"
            await pilot.pause(0.2)
            assert not app.query_one("#train-panel").has_class("-stale") and "last run" not in app.plot.title
            assert app.status_text().startswith("finished (completed) · epoch 5/5")

    asyncio.run(scenario())


def test_the_status_line_while_paused_shows_the_newest_epoch_and_stops_the_clock():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 100_000}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            run = app.run_state
            await wait_for(pilot, lambda: len(run.epochs) >= 3, what="a few epochs")
            await pilot.press("f6")
            await wait_for(pilot, lambda: run.control.paused and table_rows(app)[0][0].lstrip("★")
                           == str(run.last.epoch), what="the paused epoch in the table")
            await pilot.pause(0.3)
            newest = table_rows(app)[0][0].lstrip("★")
            status = app.status_text()
            assert status.startswith(f"paused · epoch {newest}/100000 · "), (status, newest)
            elapsed = status.split(" · ")[2]
            await pilot.pause(1.2)
            assert app.status_text().split(" · ")[2] == elapsed, "the clock stops while paused"
            # The run's clock leaves the pause out.
            paused_for = app.clock() - run.paused_since
            assert paused_for >= 1.2
            assert run.elapsed(app.clock()) <= app.clock() - run.started_at - paused_for + 1e-6
            await pilot.press("f8")
            await wait_for(pilot, lambda: table_rows(app)[0][0].lstrip("★") == str(int(newest) + 1),
                           what="the stepped epoch")
            await pilot.pause(0.3)
            assert app.status_text().startswith(f"paused · epoch {int(newest) + 1}/100000")
            await pilot.press("f6")
            await pilot.pause(1.2)
            assert app.status_text().split(" · ")[2] != elapsed, "the clock runs again"
            await pilot.press("f7")
            await wait_for(pilot, lambda: run.over, what="the stop")

    asyncio.run(scenario())


def test_the_first_frame_at_120x40_is_already_the_wide_layout():
    """No flicker: the first frame written to the terminal has every panel side by side."""
    from pathlib import Path

    from tui_trainer.app import app as app_module

    frames: list[tuple[set[str], bool]] = []

    class Recording(TrainerApp):
        CSS_PATH = Path(app_module.__file__).with_name("app.tcss")

        def _display(self, screen, renderable) -> None:  # every frame the app writes passes here
            if renderable is not None:
                frames.append((set(screen.classes), self.query_one("#view-tabs").display))
            super()._display(screen, renderable)

    async def scenario():
        app = Recording(circle(), "circle", threads=1)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)

    asyncio.run(scenario())
    assert frames, "no frame was drawn"
    classes, tabs_shown = frames[0]
    assert {"-wide", "-tall"} <= classes and not tabs_shown


def test_ctrl_o_takes_a_path_to_any_toml_and_lists_presets_from_the_top(tmp_path):
    preset = tmp_path / "elsewhere.toml"
    preset.write_text('description = "from a file"\n[data]\ndataset = "xor"\n[train]\nepochs = 9\n',
                      encoding="utf-8")

    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+o")
            dialog = app.screen
            assert isinstance(dialog, OpenPresetScreen)
            options = dialog.query_one("#preset-list")
            assert options.highlighted == 0 and options.scroll_y == 0, "the list opens at its top"
            assert dialog.focused.id == "preset-path"
            # A wrong path is explained in the dialog, which stays open.
            await pilot.press(*str(tmp_path / "missing.toml"), "enter")
            assert app.screen is dialog and "no such file" in str(dialog.query_one("#path-error").render())
            dialog.query_one("#preset-path").value = str(preset)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, OpenPresetScreen)
            assert app.form.choice("data.dataset") == "xor" and app.form.query_one("#in-train-epochs").value == "9"
            assert app.preset_name == "elsewhere" and app.status_text().endswith("preset elsewhere")
            # Up/Down from the path box move through the list; Enter opens the highlighted preset.
            await pilot.press("ctrl+o", "down", "enter")
            await pilot.pause(0.3)
            assert app.preset_name == presets.list_presets()[1].name

    asyncio.run(scenario())


def test_playground_keys_jump_sections_and_toggle_the_map():
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+n")
            await pilot.pause(0.1)
            assert app.current_section() == "sec-data" and app.focused.id == "in-data-dataset"
            await pilot.press("ctrl+n")
            await pilot.pause(0.1)
            assert app.current_section() == "sec-network"
            await pilot.press("ctrl+n")
            await pilot.pause(0.1)
            assert app.current_section() == "sec-training" and app.focused.id == "in-train-backend"
            # A closed section is skipped by Tab; its key opens it again.
            app.form.query_one("#sec-data").collapsed = True
            await pilot.pause(0.1)
            await pilot.press("alt+d")
            await pilot.pause(0.1)
            assert not app.form.query_one("#sec-data").collapsed and app.current_section() == "sec-data"
            # The keys are listed in the footer, at 80x24 too.
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.3)
            shown = {key.key_display for key in app.query("FooterKey") if key.region.bottom <= 24}
            assert {"^n", "^t", "^b", "^r", "f5", "^q"} <= shown, shown
            await pilot.resize_terminal(*SIZE)
            await pilot.pause(0.3)

            # ctrl+t hides the validation points, ctrl+b shows only the sign.
            assert app.boundary_map.show_test
            before = "".join(map_text(app))
            await pilot.press("ctrl+t")
            await pilot.pause(0.1)
            hidden = "".join(map_text(app))
            assert not app.boundary_map.show_test and "o" not in hidden and "x" not in hidden
            assert "o" in before or "x" in before
            await pilot.press("ctrl+t")
            await run_to_end(pilot)
            await pilot.press("ctrl+b")
            await pilot.pause(0.1)
            assert app.boundary_map.discrete
            segments = [seg for strip in app.boundary_map._strips() for seg in strip]
            colours = {seg.style.bgcolor for seg in segments if seg.style and seg.style.bgcolor and seg.text.strip() == ""}
            assert len(colours) <= 3, colours  # orange, blue and the panel's own background
            # ctrl+r: new data from the next seed, shown before any run.
            seed = int(app.form.query_one("#in-data-seed").value)
            await pilot.press("ctrl+r")
            assert app.form.query_one("#in-data-seed").value == str(seed + 1)
            await wait_for(pilot, lambda: app.preview_ready() and app.preview_key.seed == seed + 1,
                           what="the regenerated data")

    asyncio.run(scenario())
