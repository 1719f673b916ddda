"""The Textual app, driven headless with Pilot: real engine, real frameworks, short runs.

Runs use PyTorch unless a test is about TensorFlow (it imports faster) and a
handful of epochs, so the file stays quick on a 2-core CI box.  Every test
runs its own event loop (``asyncio.run``), so the thread pool that Textual's
thread workers use is shut down (joined) when the test's app is done.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from rich.console import Console

from tests.conftest import REPO
from tui_trainer.app import TrainerApp, create_app
from tui_trainer.app.boundary import map_shape
from tui_trainer.app.dialogs import ConfirmScreen, OpenPresetScreen, SavePresetScreen
from tui_trainer.app.forms import ErrorText, LayerRow
from tui_trainer.core import config as cfgmod
from tui_trainer.core import presets
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError

pytestmark = pytest.mark.app

SIZE = (120, 36)


def circle(**updates: object) -> Config:
    """The circle preset on PyTorch, short, with any other dotted updates."""
    base = {"train.backend": "torch", "train.epochs": 8}
    return presets.load_preset("circle").with_updates({**base, **updates})


def app_for(cfg: Config, **options: object) -> TrainerApp:
    return create_app(cfg, preset_name="circle", threads=1, **options)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Let the app run until ``condition`` holds (failing the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; status: {pilot.app.status_text()!r}")
        await pilot.pause(0.02)


async def ready(pilot) -> None:
    """Framework imported and preview data loaded: the app is as a user first sees it settle."""
    app = pilot.app
    backend = app.form.choice("train.backend")
    await wait_for(pilot, lambda: app.backend_ready(backend) and app.preview_ready(), what="backend and data")


async def run_to_end(pilot, key: str = "f5", timeout: float = 120.0) -> None:
    app = pilot.app
    await pilot.press(key)
    await wait_for(pilot, lambda: app.run_state is not None and app.run_state.over, timeout, "the run to end")
    await pilot.pause(0.05)


def text_of(widget) -> str:
    """The text a Static or Label was last given (rich renderables rendered wide, so unwrapped)."""
    console = Console(width=200, color_system=None)
    with console.capture() as capture:
        console.print(widget.content)
    return capture.get()


def words_of(widget) -> str:
    """What a widget says, with line breaks and runs of spaces made single spaces."""
    return " ".join(text_of(widget).split())


def table_rows(app: TrainerApp) -> list[list[str]]:
    """The metrics table's non-blank rows as plain text."""
    rows = []
    for r in range(app.table.row_count):
        cells = [str(getattr(c, "plain", c)) for c in app.table.get_row_at(r)]
        if cells[0]:
            rows.append(cells)
    return rows


# -- pure parts: form checking and the map, no app needed -----------------------------------------


def test_form_check_reports_every_bad_field_with_the_cli_message():
    from tui_trainer.app.forms import check_form

    raw = cfgmod.default_config().to_dict()
    raw["train"]["epochs"] = 0
    raw["data"]["noise"] = "lots"
    raw["model"]["hidden"] = [4, "x", 2]
    raw["model"]["activation"] = ["tanh"] * 3
    raw["model"]["dropout"] = [0.0, 0.0, 1.5]
    check = check_form(raw)
    assert check.config is None
    assert set(check.errors) == {"train.epochs", "data.noise", "model.hidden", "model.dropout"}
    assert check.bad_layers == {"model.hidden": {1}, "model.dropout": {2}}
    # Word for word what config.from_dict (and so the CLI) says about the same value.
    with pytest.raises(ConfigError) as exc:
        cfgmod.default_config().with_updates({"train.epochs": 0})
    assert check.errors["train.epochs"] == exc.value.reason


def test_fast_map_draws_exactly_what_mapview_render_rich_draws():
    from rich.console import Console

    from tui_trainer.app.boundary import map_points, map_segments
    from tui_trainer.core import mapview
    from tui_trainer.data.datasets import load_dataset

    ds = load_dataset(cfgmod.default_config())
    rng = np.random.default_rng(0)
    console = Console(width=60, color_system="truecolor")
    for regression in (False, True):
        values = rng.uniform(-1.5, 1.5, (15, 30)).astype(np.float32)
        values[2, 3] = np.nan
        reference = mapview.render_rich(values, map_points(ds), regression=regression)
        for line, segments in zip(reference.split("\n"), map_segments(values, map_points(ds), regression), strict=True):
            want = [(ch, seg.style) for seg in line.render(console) for ch in seg.text]
            got = [(ch, seg.style) for seg in segments for ch in seg.text]
            assert got == want


def test_images_are_drawn_in_text_at_a_readable_size():
    from tui_trainer.app.boundary import image_lines

    digit = np.zeros((8, 8, 1))
    digit[1:7, 3:5] = 16.0  # a "1"
    assert [len(line) for line in image_lines(digit, plain=False)] == [8] * 4  # half blocks: 2 pixel rows a line
    plain = [line.plain for line in image_lines(digit, plain=True)]
    assert plain[0][3] != " " and plain[0][0] == " "
    mnist = np.random.default_rng(0).uniform(0, 1, (28, 28, 1))
    assert [len(line) for line in image_lines(mnist, plain=True)] == [14] * 7  # 28x28 shown as 14x14


def test_courier_coalesces_fast_epochs_but_never_holds_one_back_at_a_pause():
    from tui_trainer.app.messages import Courier, EpochDone, RunEnded
    from tui_trainer.core.events import EpochEnded, RunFinished

    posted, now, paused = [], [0.0], [False]
    courier = Courier(1, posted.append, lambda: paused[0], clock=lambda: now[0])

    def epoch(n: int) -> EpochEnded:
        return EpochEnded(epoch=n, epochs=10, loss=1.0, acc=0.5, val_loss=1.0, val_acc=0.5, seconds=0.001)

    courier(epoch(1))  # first one goes at once
    now[0] = 0.005
    courier(epoch(2))  # 5 ms later: waits for company
    courier(epoch(3))
    assert [len(m.events) for m in posted] == [1]
    paused[0] = True
    courier(epoch(4))  # the engine is about to block: everything goes
    assert [[e.epoch for e in m.events] for m in posted] == [[1], [2, 3, 4]]
    paused[0] = False
    now[0] = 0.006
    courier(epoch(5))
    courier(RunFinished("completed", 5, 5, 0.1, 0.9, None, 0.1))
    assert [e.epoch for e in posted[2].events] == [5] and isinstance(posted[2], EpochDone)
    assert isinstance(posted[3], RunEnded) and posted[3].finished.reason == "completed"


# -- the app ---------------------------------------------------------------------------------------


def test_first_frame_comes_before_tensorflow_is_imported():
    """In a fresh interpreter: the screen is up while TensorFlow still loads in the background."""
    code = textwrap.dedent("""
        import asyncio, sys, time
        from tui_trainer.app import create_app
        from tui_trainer.core.presets import load_preset

        async def main():
            app = create_app(load_preset("circle"), preset_name="circle", threads=1)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                t0 = time.monotonic()
                print("first frame:", app.backend_ready("tensorflow"), "|", app.status_text())
                while not app.backend_ready("tensorflow"):
                    await pilot.pause(0.05)
                print("later:", app.backend_ready("tensorflow"), "|", app.status_text())
                print("waited:", round(time.monotonic() - t0, 2))

        asyncio.run(main())
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=180, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    first = next(line for line in r.stdout.splitlines() if line.startswith("first frame:"))
    later = next(line for line in r.stdout.splitlines() if line.startswith("later:"))
    waited = float(next(line for line in r.stdout.splitlines() if line.startswith("waited:")).split()[1])
    assert first.startswith("first frame: False |") and "loading TensorFlow…" in first
    assert later.startswith("later: True |") and "loading" not in later and "TensorFlow" in later
    assert waited > 0.3, "the import went on well after the first frame"


def test_torch_run_fills_table_plot_map_and_model_panel():
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert app.boundary_map.neutral and app.boundary_map.points, "data shown before training"
            draws_before = app.boundary_map.draws
            await run_to_end(pilot)
            run = app.run_state
            assert run.finished.reason == "completed"
            assert [row[0].lstrip("★") for row in table_rows(app)] == [str(n) for n in range(8, 0, -1)]
            assert sum(row[0].startswith("★") for row in table_rows(app)) == 1
            assert app.plot.points_drawn == 16  # train + validation loss, 8 epochs each
            assert not app.boundary_map.neutral and app.boundary_map.draws > draws_before
            # A map sized after the last epoch is redrawn at its size a moment later (a fast run can end first).
            await wait_for(pilot, lambda: app.boundary_map.values.shape == map_shape(app.boundary_map.size),
                           what="the map at its widget's size")
            status = app.status_text()
            assert status.startswith("finished (completed) · epoch 8/8") and "PyTorch CPU" in status
            assert "25 params" in status
            summary = text_of(app.model_panel.query_one("#model-summary"))
            assert "model of the last run" in summary and "dense_2" in summary

            # F5 again starts a fresh run.
            await run_to_end(pilot)
            assert app.run_state is not run and app.run_state.finished.reason == "completed"
            assert len(table_rows(app)) == 8

    asyncio.run(scenario())


def test_tensorflow_run_and_log_scale_and_accuracy_toggles():
    async def scenario():
        app = app_for(circle(**{"train.backend": "tensorflow", "train.epochs": 4}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            assert app.run_state.finished.reason == "completed"
            assert "TensorFlow CPU" in app.status_text()
            assert len(table_rows(app)) == 4
            app.plot.query_one("#plot-acc").value = True
            app.plot.query_one("#plot-log").value = True
            await pilot.pause(0.1)
            assert app.plot.title == "accuracy (log)" and app.plot.points_drawn == 8
            assert words_of(app.plot.query_one("#plot-title")) == "accuracy (log)"

    asyncio.run(scenario())


def test_pause_step_resume_and_stop_from_the_keyboard():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 100_000}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            run = app.run_state
            await wait_for(pilot, lambda: len(run.epochs) >= 3, what="a few epochs")
            await pilot.press("f6")
            assert app.status_text().startswith("paused")
            await pilot.pause(0.3)  # the epoch in flight may still land
            held = len(run.epochs)
            await pilot.pause(0.4)
            assert len(run.epochs) == held, "paused means no more epochs"
            await wait_for(pilot, lambda: run.boundary.epoch == held, what="the paused model's map")
            await pilot.press("f8")
            await wait_for(pilot, lambda: len(run.epochs) == held + 1, what="one stepped epoch")
            await pilot.pause(0.4)
            assert len(run.epochs) == held + 1 and app.status_text().startswith("paused")
            await wait_for(pilot, lambda: run.boundary.epoch == held + 1, what="the stepped model's map")
            assert table_rows(app)[0][0].lstrip("★") == str(held + 1), "a paused table is up to date"
            await pilot.press("f6")
            assert app.status_text().startswith("running")
            await wait_for(pilot, lambda: len(run.epochs) >= held + 5, what="training again")
            await pilot.press("f7")
            await wait_for(pilot, lambda: run.over, what="the stop")
            assert run.finished.reason == "stopped"
            await pilot.pause(0.1)
            assert app.status_text().startswith("finished (stopped)")

    asyncio.run(scenario())


def test_step_from_idle_runs_exactly_one_epoch_then_waits():
    async def scenario():
        app = app_for(circle(**{"train.epochs": 50}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f8")
            run = app.run_state
            await wait_for(pilot, lambda: len(run.epochs) == 1, what="the first epoch")
            await pilot.pause(0.4)
            assert len(run.epochs) == 1 and app.status_text().startswith("paused")
            await pilot.press("f7")
            await wait_for(pilot, lambda: run.over, what="the stop")

    asyncio.run(scenario())


def test_invalid_width_is_marked_at_the_field_and_blocks_the_start():
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            width = app.form.query(LayerRow).first().query_one(".layer-units")
            width.focus()
            width.value = ""
            await pilot.press(*"0x")
            await pilot.pause(0.1)
            error = app.form.query_one("#row-model-hidden > ErrorText", ErrorText)
            with pytest.raises(ConfigError) as exc:
                cfgmod.default_config().with_updates({"model.hidden": ["0x", 3]})
            assert error.display and error.reason == f"hidden: {exc.value.reason}"
            assert width.has_class("-bad")
            await pilot.press("f5")
            await pilot.pause(0.1)
            assert app.run_state is None, "no run with a bad field"
            assert "can't start: fix 1 marked field" in app.status_text()
            width.value = "4"
            await pilot.pause(0.1)
            assert not error.display and not width.has_class("-bad")
            assert "can't start" not in app.status_text(), "the refusal's note goes once the form is fixed"
            await run_to_end(pilot)
            assert app.run_state.config.model.hidden == (4, 3)

    asyncio.run(scenario())


def test_save_preset_then_open_it_again(isolated_config):
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            app.form.query_one("#in-train-epochs").value = "7"
            app.form.query(LayerRow).first().query_one(".layer-units").value = "5"
            await pilot.pause(0.1)
            await pilot.press("ctrl+s")
            assert isinstance(app.screen, SavePresetScreen)
            app.screen.query_one("#preset-name").value = "mine"
            await pilot.press("enter")
            await pilot.pause(0.1)
            saved = isolated_config / "mine.toml"
            assert saved.is_file()
            assert presets.load_preset("mine").train.epochs == 7
            assert presets.load_preset("mine").model.hidden == (5, 3)
            assert app.preset_name == "mine"

            # Saving again under the same name asks first.
            app.form.query_one("#in-train-epochs").value = "11"
            await pilot.pause(0.1)
            await pilot.press("ctrl+s", "enter")
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await pilot.pause(0.1)
            assert presets.load_preset("mine").train.epochs == 11

            # Open it back after changing the form.
            app.form.query_one("#in-train-epochs").value = "3"
            await pilot.pause(0.1)
            await pilot.press("ctrl+o")
            assert isinstance(app.screen, OpenPresetScreen)
            options = app.screen.query_one("#preset-list")
            names = [p.name for p in presets.list_presets()]
            assert "mine" in names and "circle" in names
            options.highlighted = names.index("mine")
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert app.form.query_one("#in-train-epochs").value == "11"
            assert app.check.config == presets.load_preset("mine")

    asyncio.run(scenario())


def test_predict_box_answers_for_a_trained_model_and_explains_otherwise():
    async def scenario():
        app = app_for(circle())
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            result = app.model_panel.query_one("#predict-result")
            await pilot.press("f4")
            await pilot.press(*"1, 2", "enter")
            await pilot.pause(0.05)
            assert "no model yet" in words_of(result)
            await run_to_end(pilot)
            box = app.model_panel.query_one("#predict-input")
            box.focus()
            box.value = "abc"
            await pilot.press("enter")
            await pilot.pause(0.05)
            assert "type two numbers" in words_of(result)
            box.value = "abc, 1"
            await pilot.press("enter")
            await pilot.pause(0.05)
            assert "'abc, 1' is not two numbers" in words_of(result)
            box.value = "0, 0"
            await pilot.press("enter")
            await wait_for(pilot, lambda: "decision value" in words_of(result), what="the prediction")
            expected = float(app.run_state.session.predict_points(np.array([[0.0, 0.0]]))[0])
            assert f"{expected:+.4f}" in words_of(result)

    asyncio.run(scenario())


def test_failed_run_is_shown_in_the_app_not_raised():
    async def scenario():
        app = app_for(circle(**{"train.device": "cuda"}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            assert app.run_state.failed and "cuda" in app.run_state.failed
            assert app.status_text().startswith("failed · train.device: 'cuda'")

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so asking for one doesn't fail")
    asyncio.run(scenario())


def test_map_follows_resizes_and_no_color_draws_ascii(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def scenario():
        app = app_for(circle(**{"train.epochs": 100_000}))
        assert app.no_color
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            run = app.run_state
            await wait_for(pilot, lambda: run.boundary is not None and run.boundary.epoch > 0, what="a map")
            assert run.control.grid_shape == map_shape(app.boundary_map.size)
            await pilot.resize_terminal(160, 48)
            await pilot.pause(0.2)
            bigger = map_shape(app.boundary_map.size)
            assert bigger[0] > SIZE[1] // 2 - 5 and run.control.grid_shape == bigger
            await wait_for(pilot, lambda: run.boundary.values.shape == bigger, what="a map of the new size")
            await pilot.press("f7")
            await wait_for(pilot, lambda: run.over, what="the stop")
            await pilot.pause(0.1)
            assert app.boundary_map.plain
            text = "".join(seg.text for strip in app.boundary_map._strips() for seg in strip)
            assert set(text) <= set(" =-.+#?OXox")
            assert "O" in text or "o" in text

    asyncio.run(scenario())


def test_digits_shows_images_with_predictions_and_a_class_report():
    pytest.importorskip("sklearn")

    async def scenario():
        cfg = presets.load_preset("digits").with_updates({"train.epochs": 2})
        app = create_app(cfg, preset_name="digits", threads=1)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            gallery = app.map_panel.query_one("#gallery")
            assert "t:" in text_of(gallery)  # true labels before any model
            await run_to_end(pilot)
            await wait_for(pilot, lambda: "=" in text_of(gallery) or "≠" in text_of(gallery),
                           what="predicted labels")
            report = app.map_panel.query_one("#class-report")
            event = app.run_state.class_report
            assert event is not None
            text = text_of(report)
            words = " ".join(text.split())  # titles may wrap in a narrow panel
            assert "per-class accuracy (validation)" in words and "confusion (rows true, cols predicted)" in words
            conf = event.confusion
            assert conf.shape == (10, 10) and int(conf.sum()) == app.run_state.started.n_val
            # The table agrees with the run's own accuracy: the diagonal over the total is the final val_acc.
            assert conf.trace() / conf.sum() == pytest.approx(app.run_state.last.val_acc)
            rows = [line.split() for line in text.splitlines()]
            for i, name in enumerate(event.class_names):
                n = int(conf[i].sum())
                assert [name, f"{conf[i, i] / n:.3f}", str(n)] in rows  # per-class accuracy, worked out here
                assert [name, *(str(int(v)) for v in conf[i])] in rows  # the confusion matrix row

    asyncio.run(scenario())


def test_quit_mid_run_stop_it_stops_the_engine_and_leaves_no_thread():
    before = set(threading.enumerate())

    async def scenario():
        app = app_for(circle(**{"train.epochs": 100_000}))
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            await wait_for(pilot, lambda: len(app.run_state.epochs) >= 3, what="a few epochs")
            await pilot.press("ctrl+q")  # a run is going: the app asks whether to stop it or leave it
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "QuitScreen", what="the question")
            await pilot.press("s")
            await wait_for(pilot, lambda: not app.is_running, what="the app to close")
        run = app.run_state
        assert run.control.stopped and run.thread_done.is_set()
        # No thread is still inside the engine.
        frames = sys._current_frames()
        busy = [t.name for t in threading.enumerate() if t is not threading.current_thread()
                and t.ident in frames and any("tui_trainer" in name for name in _stack(frames[t.ident]))]
        assert busy == []
        return run

    run = asyncio.run(scenario())
    assert run.finished is None or run.finished.reason == "stopped"
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert left == [], f"threads left behind: {left}"


def _stack(frame):
    """File names on a thread's stack, innermost first."""
    while frame is not None:
        yield frame.f_code.co_filename
        frame = frame.f_back
