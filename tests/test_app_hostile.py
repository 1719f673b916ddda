"""The app against hostile text (issue 8): labels, names, paths and typed values are shown literally.

Driven with Pilot like a person would use it; what is checked is the text on
the screen (from the app's own screenshot), so markup that was interpreted
(a crash, a live link, a style) would show.  The last test runs the real
command in a pseudo-terminal for what only a real process shows: framework
lines on the screen and how fast it quits while TensorFlow is still loading.
"""

from __future__ import annotations

import asyncio
import html
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_app import ready, run_to_end, wait_for
from tui_trainer.app import create_app
from tui_trainer.app.dialogs import OpenPresetScreen
from tui_trainer.core import presets

pytestmark = pytest.mark.app

WIDE = (220, 60)  # wide enough that no label is cut short
LABELS = ("[/]", "[@click=app.quit]x[/]", "[b]bold")


def screen_text(app) -> str:
    """Everything on the screen as plain text, one string (from the SVG screenshot)."""
    svg = app.export_screenshot()
    body = svg[svg.index("<g class=\"terminal"):] if "<g class=\"terminal" in svg else svg
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")


def hostile_csv(folder: Path) -> Path:
    path = folder / "[b]evil[@click=app.quit]q.csv"
    rows = ["x1,x2,x3,label"]
    for i in range(60):
        rows.append(f"{i % 7 - 3},{i % 5 - 2},{i % 3},\"{LABELS[i % 3]}\"")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_labels_and_file_names_with_markup_train_and_show_literally(tmp_path):
    data = hostile_csv(tmp_path)
    cfg = presets.load_preset("csv").with_updates({
        "data.path": str(data), "data.columns": ["x1", "x2", "x3"], "train.backend": "torch", "train.epochs": 3,
    })

    async def scenario():
        app = create_app(cfg, preset_name="[red]csv[/red]", threads=1)
        async with app.run_test(size=WIDE, notifications=True) as pilot:
            await ready(pilot)
            await run_to_end(pilot)
            assert app.run_state.failed is None, app.run_state.failed
            assert app.run_state.class_report is not None
            assert set(app.run_state.class_report.class_names) == set(LABELS)
            await pilot.press("f2")  # the map view: title (file name) and class report (labels)
            await pilot.pause(0.2)
            seen = screen_text(app)
            for label in LABELS:
                assert label in seen, label
            assert "[b]evil[@click=app.quit]q.csv" in seen
            await pilot.press("f2")  # the model view: the notes quote the label mapping
            await pilot.pause(0.2)
            assert "labels: [/]→0" in screen_text(app) or "[/]→0" in " ".join(screen_text(app).split())
            assert "preset [red]csv[/red]" in screen_text(app)  # the status line
            assert app.is_running  # no live [@click=app.quit] anywhere

    asyncio.run(scenario())


def test_typed_values_and_error_messages_are_literal(tmp_path, isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "evil.toml").write_text('description = "[@click=app.quit]click me[/] [/]"\n')
    (isolated_config / "broken.toml").write_bytes(b'description = "caf\xe9"\n')
    cfg = presets.load_preset("circle").with_updates({"train.backend": "torch", "train.epochs": 2})

    async def scenario():
        app = create_app(cfg, preset_name="circle", threads=1)
        async with app.run_test(size=WIDE, notifications=True) as pilot:
            await ready(pilot)
            app.form.query_one("#in-train-epochs").value = "3[/]"
            await pilot.pause(0.3)
            assert "'3[/]' is not a whole number" in " ".join(screen_text(app).split())
            await pilot.press("f5")  # refused: the notification quotes the typed value
            await pilot.pause(0.3)
            assert app.is_running and "[/]" in screen_text(app)
            app.form.query_one("#in-train-epochs").value = "2"
            app.form.query_one("#in-data-path").value = "[/]missing[@click=app.quit]x.csv"
            await pilot.pause(0.3)
            await pilot.press("ctrl+o")
            assert isinstance(app.screen, OpenPresetScreen)
            names = [p.name for p in presets.list_presets()]
            options = app.screen.query_one("#preset-list")
            options.highlighted = names.index("evil")  # user presets come last: scroll to them
            await pilot.pause(0.2)
            listed = " ".join(screen_text(app).split())
            assert "[@click=app.quit]click me[/] [/]" in listed
            options.highlighted = names.index("broken")
            await pilot.pause(0.2)
            listed = " ".join(screen_text(app).split())
            assert "broken: toml: not UTF-8 text" in listed  # listed with its reason, the rest still there
            assert len(names) > 10
            await pilot.press("enter")  # opening it: an error notification naming the file
            await wait_for(pilot, lambda: "Can't open broken" in screen_text(app), 10, "the error notification")
            assert "toml: not UTF-8 text (byte 19, line 1)" in screen_text(app)
            assert app.is_running

    asyncio.run(scenario())


def test_quitting_while_tensorflow_loads_is_fast_and_the_screen_stays_clean(isolated_config):
    """A real process on a pseudo-terminal, with no TF_CPP_MIN_LOG_LEVEL: no framework line, quick exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL"))}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", XDG_CONFIG_HOME=str(isolated_config.parent.parent))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a person starts it
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "tui_trainer"], env)
    screen = b""

    def read(until: float) -> None:
        nonlocal screen
        while time.monotonic() < until:
            ready_fds, _, _ = select.select([fd], [], [], 0.05)
            if ready_fds:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                screen += chunk

    done, status = 0, 0
    try:
        deadline = time.monotonic() + 60
        while b"F5" not in screen and time.monotonic() < deadline:
            read(time.monotonic() + 0.1)
        assert b"F5" in screen, screen[-2000:]
        read(time.monotonic() + 0.3)
        started = time.monotonic()
        os.write(fd, b"\x11")  # ctrl+q while TensorFlow is still being imported
        while time.monotonic() - started < 30:
            read(time.monotonic() + 0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        took = time.monotonic() - started
        read(time.monotonic() + 0.2)
    finally:
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert done and os.waitstatus_to_exitcode(status) == 0
    # Before: 4-6 s (9 s on a loaded 2-core box) waiting for the import; the key itself may wait
    # for the GIL while TensorFlow loads, so the bound here is loose (typically well under a second).
    assert took < 3.0, took
    text = screen.decode("utf-8", "replace")
    for noise in ("absl", "oneDNN", "InitializeLog", "cpu_feature_guard", "Traceback"):
        assert noise not in text


def test_app_process_quits_quickly_when_idle():
    """The import thread is a daemon thread now: a plain --help still never imports Textual or a framework."""
    code = "import sys; from tui_trainer import cli; print(sorted(m for m in ('textual', 'torch', 'tensorflow') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
