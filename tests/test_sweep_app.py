"""The app's sweep view (f12): a real Optuna study in a real journal file, trials filling in live.

The study is written by the test with Optuna itself (enqueued params, ``ask``
and ``tell``, as a sweep worker does), each trial with a run folder in the
format the run store writes; the view follows it from another thread, as it
follows a sweep running in another process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label, OptionList, TextArea

from tests.conftest import REPO
from tests.test_app import wait_for
from tui_trainer.app import create_app
from tui_trainer.app.sweep_view import StudyPicker, SweepScreen
from tui_trainer.core import presets

optuna = pytest.importorskip("optuna")

pytestmark = pytest.mark.app

STARTED = "2026-01-02T10:00:00+00:00"


def run_folder(root: Path, run_id: str, lr: float, val_losses: list[float], state: str = "finished") -> Path:
    """A run folder as the run store writes one: the config, the event log, the state."""
    folder = root / run_id
    folder.mkdir(parents=True)
    config = presets.load_preset("circle").with_updates({"train.learning_rate": lr, "train.epochs": 50})
    (folder / "config.toml").write_text(presets.dumps(config), encoding="utf-8")
    add_epochs(folder, val_losses)
    (folder / "state.json").write_text(json.dumps({"id": run_id, "state": state, "started": STARTED,
                                                   "epochs_done": len(val_losses)}), encoding="utf-8")
    return folder


def add_epochs(folder: Path, val_losses: list[float]) -> None:
    log = folder / "history.jsonl"
    done = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    with log.open("a", encoding="utf-8") as fh:
        for i, v in enumerate(val_losses, start=done + 1):
            fh.write(json.dumps({"kind": "epoch_ended", "epoch": i, "epochs": 50, "loss": v * 1.1, "acc": 0.8,
                                 "val_loss": v, "val_acc": 0.8, "seconds": 0.01, "mae": None, "val_mae": None})
                     + "\n")


class Sweep:
    """A study in the default journal storage of a runs folder, driven the way a sweep worker drives one."""

    def __init__(self, root: Path, name: str, direction: str = "minimize", metric: str = "val_loss") -> None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        from tui_trainer.app.sweep_reader import default_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.root = root
        self.path = default_storage(str(root))
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.storage = JournalStorage(JournalFileBackend(self.path))
        self.study = optuna.create_study(storage=self.storage, study_name=name, direction=direction)
        for key, value in (("metric", metric), ("direction", direction), ("preset", "circle")):
            self.study.set_user_attr(key, value)

    def start(self, lr: float, activation: str, val_losses: list[float]):
        """A running trial with these params, its run folder holding ``val_losses`` so far."""
        self.study.enqueue_trial({"train.learning_rate": lr, "model.activation": activation})
        trial = self.study.ask()
        trial.suggest_float("train.learning_rate", 1e-3, 0.3, log=True)
        trial.suggest_categorical("model.activation", ["relu", "tanh", "[red]x[/]"])
        run_id = f"20260102-{100000 + len(list(self.root.iterdir())):06d}-circle"
        folder = run_folder(self.root, run_id, lr, val_losses, state="running")
        trial.set_user_attr("run_id", run_id)
        trial.set_user_attr("run_dir", str(folder))
        return trial, folder

    def finish(self, trial, value: float | None = None, state: str = "COMPLETE") -> None:
        from optuna.trial import TrialState

        self.study.tell(trial, value if state == "COMPLETE" else None, state=TrialState[state])


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("TUI_TRAINER_RUNS", str(root))
    return root


def sweep_app():
    return create_app(presets.load_preset("circle"), preset_name="circle", threads=1, clock=lambda: 0.0,
                      show_timings=False)


async def open_view(pilot) -> SweepScreen:
    await pilot.press("f12")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, (SweepScreen, StudyPicker)), what="the sweep view")
    return next(s for s in pilot.app.screen_stack if isinstance(s, SweepScreen))


def cells(screen: SweepScreen) -> list[list[str]]:
    """The trials table as text, top row first."""
    table = screen.query_one("#sweep-trials", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def label(screen: SweepScreen, wid: str) -> str:
    return str(screen.query_one(wid, Label).render())


def test_trials_fill_in_live_with_the_best_marked(runs_dir: Path) -> None:
    asyncio.run(_test_trials_fill_in_live(runs_dir))


async def _test_trials_fill_in_live(runs_dir: Path) -> None:
    sweep = Sweep(runs_dir, "circle-[b]sweep[/b]")
    t0, _ = sweep.start(0.01, "relu", [0.5, 0.4, 0.3])
    sweep.finish(t0, 0.3)
    t1, _ = sweep.start(0.1, "[red]x[/]", [0.4, 0.2, 0.1])
    sweep.finish(t1, 0.1)
    t2, running = sweep.start(0.03, "tanh", [0.45, 0.35])
    t2.report(0.35, step=2)  # as a sweep worker reports each epoch's metric
    app = sweep_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        await wait_for(pilot, lambda: len(cells(screen)) == 3, what="three trials")
        rows = cells(screen)
        # Newest first; the best (#1, val_loss 0.1) is starred; user text is shown as written.
        assert [r[:3] for r in rows] == [["2", "running", "~0.35"], ["★1", "complete", "0.1"], ["0", "complete", "0.3"]]
        assert rows[0][-1] == "epoch 2"  # how far the running trial has got
        assert rows[1][4:] == ["[red]x[/]", "0.1", ""]
        assert "circle-[b]sweep[/b] (minimize val_loss) · 3 trials: 1 running, 2 complete" in label(
            screen, "#sweep-title")
        assert "best so far ★ #1: val_loss 0.1 · learning_rate=0.1 activation=[red]x[/]" in label(
            screen, "#sweep-best")
        # The running trial's curve and the best one's, as read from their run folders.
        assert sorted(screen.curves) == [1, 2]
        assert screen.curves[2].values == (0.45, 0.35) and screen.curves[1].values == (0.4, 0.2, 0.1)

        # The running trial trains on (its log grows), then beats the best; a new trial starts and one is pruned.
        add_epochs(running, [0.2, 0.05])
        await wait_for(pilot, lambda: screen.curves[2].values[-1] == 0.05, what="the running curve to grow")
        sweep.finish(t2, 0.05)
        t3, _ = sweep.start(0.2, "relu", [0.6])
        t4, _ = sweep.start(0.002, "relu", [0.9])
        sweep.finish(t4, state="PRUNED")
        await wait_for(pilot, lambda: len(cells(screen)) == 5 and cells(screen)[2][0] == "★2", what="the new best")
        rows = cells(screen)
        assert [r[:3] for r in rows] == [["4", "pruned", "-"], ["3", "running", "-"], ["★2", "complete", "0.05"],
                                         ["1", "complete", "0.1"], ["0", "complete", "0.3"]]
        assert "5 trials: 1 running, 3 complete, 1 pruned" in label(screen, "#sweep-title")
        await wait_for(pilot, lambda: sorted(screen.curves) == [2, 3], what="the curves to follow the new best")
        t3.set_user_attr("error", "data file [bold]x.csv[/]: row 3")
        sweep.finish(t3, state="FAIL")
        await wait_for(pilot, lambda: cells(screen)[1][1] == "failed", what="the failed trial")
        assert cells(screen)[1][-1] == "data file [bold]x.csv[/]: row 3"
        await wait_for(pilot, lambda: sorted(screen.curves) == [2], what="only the best's curve")
        assert screen.polls >= 3


def test_a_trial_opens_as_a_run(runs_dir: Path) -> None:
    asyncio.run(_test_a_trial_opens_as_a_run(runs_dir))


async def _test_a_trial_opens_as_a_run(runs_dir: Path) -> None:
    sweep = Sweep(runs_dir, "open-me")
    t0, first = sweep.start(0.01, "relu", [0.5, 0.4, 0.3])
    sweep.finish(t0, 0.3)
    t1, _ = sweep.start(0.2, "tanh", [0.4, 0.2])
    sweep.finish(t1, 0.2)
    app = sweep_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        await wait_for(pilot, lambda: len(cells(screen)) == 2, what="two trials")
        await pilot.press("down", "enter")  # the older trial, #0
        await wait_for(pilot, lambda: app.run_folder == first, what="the trial's run opened")
        assert not isinstance(app.screen, SweepScreen)
        assert app.form.raw()["train"]["learning_rate"] == 0.01
        await wait_for(pilot, lambda: app.run_state is not None and len(app.run_state.epochs) == 3,
                       what="the run's epochs")
        # F12 again shows the same study straight away (no picker).
        screen = await open_view(pilot)
        assert screen.study == "open-me"
        await wait_for(pilot, lambda: len(cells(screen)) == 2, what="the trials again")


def test_two_studies_offer_a_picker(runs_dir: Path) -> None:
    asyncio.run(_test_two_studies_offer_a_picker(runs_dir))


async def _test_two_studies_offer_a_picker(runs_dir: Path) -> None:
    first = Sweep(runs_dir, "first")
    t, _ = first.start(0.01, "relu", [0.5])
    first.finish(t, 0.5)
    second = Sweep(runs_dir, "second [i]x[/i]\x1b[2J", direction="maximize", metric="val_acc")
    for lr, value in ((0.01, 0.7), (0.05, 0.9)):
        t, _ = second.start(lr, "tanh", [0.5])
        second.finish(t, value)
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, StudyPicker), what="the study picker")
        options = app.screen.query_one("#study-list", OptionList)
        shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        # Markup shown as written; the escape sequence (it would clear a real terminal) removed.
        assert shown[0].startswith("second [i]x[/i]") and "2 trials · maximize val_acc · best 0.9 (#1)" in shown[0]
        assert "\x1b" not in shown[0]
        assert shown[1].startswith("first") and "1 trials · minimize val_loss · best 0.5 (#0)" in shown[1]
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await wait_for(pilot, lambda: len(cells(screen)) == 2, what="the second study's trials")
        assert cells(screen)[0][0] == "★1"  # maximize: 0.9 is the best
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyPicker), what="the picker again")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.study == "first" and len(cells(screen)) == 1, what="the first study")
        assert cells(screen)[0][:3] == ["★0", "complete", "0.5"]
        # Away and back before the worker looks again: the emptied table fills again all the same.
        screen.follow("second [i]x[/i]\x1b[2J")
        screen.follow("first")
        assert cells(screen) == []
        await wait_for(pilot, lambda: len(cells(screen)) == 1, what="the first study again")


def test_another_storage_typed_in_the_list(runs_dir: Path, tmp_path: Path) -> None:
    asyncio.run(_test_another_storage(runs_dir, tmp_path))


async def _test_another_storage(runs_dir: Path, tmp_path: Path) -> None:
    here = Sweep(runs_dir, "here")
    t, _ = here.start(0.01, "relu", [0.5])
    here.finish(t, 0.5)
    # A database storage (SQLite: a real Optuna RDB storage) with a study of its own.
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    there = optuna.create_study(storage=url, study_name="there", direction="maximize")
    there.set_user_attr("metric", "val_acc")
    there.enqueue_trial({"train.learning_rate": 0.05})
    trial = there.ask()
    trial.suggest_float("train.learning_rate", 1e-3, 0.3, log=True)
    there.tell(trial, 0.93)
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_view(pilot)
        await wait_for(pilot, lambda: screen.study == "here" and len(cells(screen)) == 1, what="the one study here")

        async def type_storage(text: str) -> None:
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, StudyPicker), what="the list")
            box = app.screen.query_one("#storage-input", Input)
            assert box.value == screen.storage
            box.value = text
            box.focus()
            await pilot.press("enter")
            await pilot.pause(0.1)

        await type_storage(str(tmp_path))  # a folder is no journal file: said in the list, which stays
        assert "is a folder" in str(app.screen.query_one("#storage-error").render())
        await pilot.press("escape")
        await type_storage(url)
        await wait_for(pilot, lambda: screen.study == "there" and len(cells(screen)) == 1, what="the study there")
        assert cells(screen)[0][:3] == ["★0", "complete", "0.93"]
        assert "there (maximize val_acc) · 1 trials: 1 complete" in label(screen, "#sweep-title")
        await pilot.press("escape")
        # F12 again: the same storage and study.
        screen = await open_view(pilot)
        assert (screen.storage, screen.study) == (url, "there")


def test_a_database_password_never_reaches_the_screen(runs_dir: Path) -> None:
    asyncio.run(_test_password_masked(runs_dir))


async def _test_password_masked(runs_dir: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on: the database can't be reached
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://sweeper:s3cret-pw@127.0.0.1:{port}/sweeps"
    app = sweep_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyPicker), what="the list")
        box = app.screen.query_one("#storage-input", Input)
        box.value = url
        box.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "can't" in label(screen, "#sweep-title"), what="the storage's error")
        title = label(screen, "#sweep-title")
        assert f"postgresql://sweeper:***@127.0.0.1:{port}/sweeps" in title and "refused" in title, title
        assert "s3cret-pw" not in app.export_screenshot()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyPicker), what="the list again")
        # The box shows the URL without its password; Enter on it keeps the storage as it was.
        assert app.screen.query_one("#storage-input", Input).value == f"postgresql://sweeper@127.0.0.1:{port}/sweeps"
        assert "s3cret-pw" not in app.export_screenshot()
        await pilot.press("escape")
        assert screen.storage == url


def test_no_sweeps_yet_says_how_to_start_one(runs_dir: Path) -> None:
    asyncio.run(_test_no_sweeps_yet(runs_dir))


async def _test_no_sweeps_yet(runs_dir: Path) -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_view(pilot)
        await wait_for(pilot, lambda: "no sweeps in " in label(screen, "#sweep-title"), what="the empty note")
        assert "n starts one from the form" in label(screen, "#sweep-title")
        await pilot.press("escape")
        assert not isinstance(app.screen, SweepScreen)


def test_the_view_fits_80x24_and_survives_resizes(runs_dir: Path) -> None:
    asyncio.run(_test_resizes(runs_dir))


async def _test_resizes(runs_dir: Path) -> None:
    sweep = Sweep(runs_dir, "sizes")
    for i in range(12):
        t, _ = sweep.start(0.01 * (i + 1), "relu", [0.5, 0.4 - i / 100])
        sweep.finish(t, 0.4 - i / 100)
    sweep.start(0.2, "tanh", [0.5])
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_view(pilot)
        await wait_for(pilot, lambda: len(cells(screen)) == 13, what="13 trials")
        for size in ((80, 24), (200, 50), (60, 20), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            for wid in ("#sweep-title", "#sweep-trials", "#sweep-best", "#sweep-plot", "#sweep-status"):
                region = screen.query_one(wid).region
                assert region.height >= 1 and region.bottom <= size[1], (size, wid, region)
            assert screen.query_one("#sweep-trials").region.height >= 4
            assert screen.query_one("#sweep-plot").region.height >= 6
        assert "★11" in cells(screen)[1][0]


def test_the_sweep_dialog_checks_specs_as_the_sweep_does(runs_dir: Path) -> None:
    asyncio.run(_test_dialog_checks(runs_dir))


async def _test_dialog_checks(runs_dir: Path) -> None:
    app = sweep_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SweepDialog", what="the dialog")
        dialog = app.screen
        area = dialog.query_one("#sweep-params", TextArea)
        # A search around the form: circle's learning rate 0.03 a decade either way, its [3,3] halved and doubled.
        assert area.text.splitlines() == ["train.learning_rate=log:0.003..0.3", "model.hidden=choice:[2,2],[3,3],[6,6]"]
        assert dialog.query_one("#sweep-study", Input).value.startswith("sweep-")

        async def submit() -> str:
            dialog.query_one("#sweep-study", Input).focus()
            await pilot.press("enter")
            await pilot.pause(0.1)
            return str(dialog.query_one("#sweep-error").render())

        area.text = "train.learning_rate=log:0..0.3"
        assert await submit() == "parameters line 1 train.learning_rate: log:0..0.3: a log range needs LOW > 0"
        area.text = "model.activation=choice:relu,[b]x[/b]"
        assert "[b]x[/b]" in await submit()  # the sweep's own check, quoting the value literally
        area.text = "train.batch_size=int:8..64\n"
        dialog.query_one("#sweep-jobs", Input).value = "many"
        assert await submit() == "jobs: 'many' is not a whole number (1..64)"
        await pilot.press("escape")
        assert isinstance(app.screen, SweepScreen) and app.sweep_launch is None


def test_the_dialog_offers_the_metrics_of_the_forms_task(runs_dir: Path) -> None:
    asyncio.run(_test_dialog_metrics(runs_dir))


async def _test_dialog_metrics(runs_dir: Path) -> None:
    from textual.widgets import Select
    from textual.widgets._select import InvalidSelectValueError

    app = create_app(presets.load_preset("reg-plane"), preset_name="reg-plane", threads=1, clock=lambda: 0.0,
                     show_timings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SweepDialog", what="the dialog")
        metric = app.screen.query_one("#sweep-metric", Select)
        assert metric.value == "val_loss"
        metric.value = "val_mae"  # regression: MAE, as ``tui-trainer sweep --metric`` allows
        with pytest.raises(InvalidSelectValueError):
            metric.value = "val_acc"


@pytest.mark.framework
def test_a_sweep_started_from_the_form_runs_detached_and_fills_the_view(runs_dir: Path) -> None:
    asyncio.run(_test_start_from_form(runs_dir))


async def _test_start_from_form(runs_dir: Path) -> None:
    pytest.importorskip("torch")
    config = presets.load_preset("circle").with_updates({"train.backend": "torch", "train.epochs": 5})
    app = create_app(config, preset_name="circle", threads=1, clock=lambda: 0.0, show_timings=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_view(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SweepDialog", what="the dialog")
        dialog = app.screen
        dialog.query_one("#sweep-params", TextArea).text = "train.learning_rate=log:0.01..0.3"
        dialog.query_one("#sweep-trials-count", Input).value = "2"
        dialog.query_one("#sweep-jobs", Input).value = "1"
        study = dialog.query_one("#sweep-study", Input)
        study.value = "from [i]form[/i]"
        study.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, what="back to the view")
        launch = app.sweep_launch
        assert launch is not None and screen.study == "from [i]form[/i]"
        assert launch.preset.read_text(encoding="utf-8") == presets.dumps(app.check.config)
        # A process of its own session, its output in the log, never on this terminal.
        assert os.getsid(launch.process.pid) == launch.process.pid
        await wait_for(pilot, lambda: launch.process.poll() is not None, timeout=240, what="the sweep to end")
        assert launch.process.returncode == 0, launch.log.read_text(encoding="utf-8")
        await wait_for(pilot, lambda: [r[1] for r in cells(screen)] == ["complete", "complete"],
                       what="both trials complete")
        assert any(r[0].startswith("★") for r in cells(screen))
        assert "from [i]form[/i] (minimize val_loss) · 2 trials of 2: 2 complete" in label(screen, "#sweep-title")
        await wait_for(pilot, lambda: "done" in label(screen, "#sweep-status"), what="the status to say done")
        log = launch.log.read_text(encoding="utf-8")
        assert "trial   0  COMPLETE" in log and "trial   1  COMPLETE" in log
        runs = sorted(p.name for p in runs_dir.iterdir() if not p.name.startswith("."))
        assert len(runs) == 2 and [name.split("-", 2)[2] for name in runs] == ["circle-trial0", "circle-trial1"]


def test_first_frame_imports_no_optuna(tmp_path: Path) -> None:
    """In a fresh interpreter: the app's first frame never waits for Optuna; the sweep view imports it."""
    code = textwrap.dedent("""
        import asyncio, sys
        from tui_trainer.app import create_app
        from tui_trainer.core.presets import load_preset

        async def main():
            app = create_app(load_preset("circle"), preset_name="circle", threads=1)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                print("first frame:", "optuna" in sys.modules)
                await pilot.press("f12")
                for _ in range(200):
                    await pilot.pause(0.05)
                    if "optuna" in sys.modules:
                        break
                print("sweep view:", "optuna" in sys.modules)

        asyncio.run(main())
    """)
    journal = tmp_path / "runs" / ".sweeps" / "journal.log"
    journal.parent.mkdir(parents=True)
    journal.touch()  # an empty storage: the view opens it (importing Optuna) and finds no study
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=180,
                       env={**os.environ, "TUI_TRAINER_RUNS": str(tmp_path / "runs")})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "first frame: False" in r.stdout and "sweep view: True" in r.stdout


# -- screenshots -------------------------------------------------------------------------------------


@pytest.fixture
def finished_sweep(runs_dir: Path) -> Path:
    """A finished study (complete, pruned and failed trials) with fixed values and zero-second trials."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    sweep = Sweep(runs_dir, "circle-sweep")
    dists = {"train.learning_rate": FloatDistribution(1e-3, 0.3, log=True),
             "model.hidden": CategoricalDistribution(["[2,2]", "[3,3]", "[6,6]"])}
    plan = [(0.01, "[2,2]", TrialState.COMPLETE, 0.31), (0.12, "[6,6]", TrialState.COMPLETE, 0.042),
            (0.002, "[3,3]", TrialState.PRUNED, None), (0.05, "[3,3]", TrialState.FAIL, None),
            (0.08, "[6,6]", TrialState.COMPLETE, 0.09)]
    for i, (lr, hidden, state, value) in enumerate(plan):
        losses = [0.7 * (0.8 ** e) + (value or 0.5) for e in range(30 if state == TrialState.COMPLETE else 4)]
        folder = run_folder(runs_dir, f"20260102-10000{i}-circle", lr, losses)
        sweep.study.add_trial(create_trial(
            state=state, value=value, params={"train.learning_rate": lr, "model.hidden": hidden}, distributions=dists,
            user_attrs={"run_id": folder.name, "run_dir": str(folder),
                        **({"pruned_at": 4} if state == TrialState.PRUNED else {}),
                        **({"error": "diverged: loss became NaN"} if state == TrialState.FAIL else {})},
            intermediate_values={3: losses[3]} if state == TrialState.PRUNED else None))
    return runs_dir


async def settle_view(pilot) -> None:
    screen = await open_view(pilot)
    await wait_for(pilot, lambda: len(cells(screen)) == 5 and 1 in screen.curves, what="the finished sweep")
    await pilot.pause(0.3)


def test_sweep_view_at_120x40(snap_compare, finished_sweep: Path) -> None:
    assert snap_compare(sweep_app(), terminal_size=(120, 40), run_before=settle_view)


def test_sweep_view_at_80x24(snap_compare, finished_sweep: Path) -> None:
    assert snap_compare(sweep_app(), terminal_size=(80, 24), run_before=settle_view)
