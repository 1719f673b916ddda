"""The run store with real processes and real faults: locks, SIGKILL, full disks, detach, ``runs``.

Every test runs the real ``tui-trainer`` command in subprocesses against its own
runs folder (``conftest`` points ``XDG_DATA_HOME`` at a temporary folder).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.framework

LONG = ("--no-ui", "--backend", "torch", "--epochs", "100000", "--set", "train.batch_size=1")


def popen_cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **kw.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "tui_trainer", *args], stdout=kw.pop("stdout", subprocess.PIPE),
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env, **kw)


def state_of(folder: Path) -> dict:
    try:
        return json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def runs_json(*extra: str, env: dict | None = None) -> list[dict]:
    r = run_cli("runs", "--json", *extra, env=env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def assert_whole_lines(folder: Path) -> list[dict]:
    """Every line of the event log parses; the CSV has no cut row."""
    text = (folder / "history.jsonl").read_text()
    assert text == "" or text.endswith("\n"), "event log ends in a partial line"
    events = [json.loads(line) for line in text.splitlines()]
    csv_text = (folder / "history.csv").read_text()
    assert csv_text.endswith("\n")
    rows = list(csv.DictReader(csv_text.splitlines()))
    assert all(len(row) == 8 and None not in row.values() for row in rows)
    epochs = [e["epoch"] for e in events if e["kind"] == "epoch_ended"]
    assert [int(r["epoch"]) for r in rows] == epochs
    return events


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


# -- the store -------------------------------------------------------------------------------------
def test_headless_run_is_recorded_and_listed(isolated_config):
    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "3", "--preset", "xor")
    assert r.returncode == 0, r.stderr
    runs = runs_json()
    assert len(runs) == 1
    run = runs[0]
    assert run["state"] == "finished" and run["preset"] == "xor" and run["epochs_done"] == 3
    assert run["backend"] == "torch" and run["device"] and run["best_epoch"] >= 1
    folder = Path(run["folder"])
    assert folder.parent == isolated_config.parent.parent / "data" / "tui-trainer" / "runs"
    for name in ("config.toml", "history.jsonl", "history.csv", "summary.json", "state.json", "model.pt", "best.pt"):
        assert (folder / name).stat().st_size > 0, name
    events = assert_whole_lines(folder)
    assert events[0]["kind"] == "run_started" and events[-1]["kind"] == "run_finished"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["weights"] == "model.pt" and summary["best_weights"] == "best.pt"
    # The stored config is a preset: it trains again as it is.
    again = run_cli("--no-ui", "--preset", str(folder / "config.toml"), "--epochs", "1")
    assert again.returncode == 0, again.stderr
    table = run_cli("runs")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["ID", "STATE", "PRESET/DATA"]
    assert run["id"] in table.stdout and "finished" in table.stdout and "3/3" in table.stdout


def test_runs_dir_option_and_env(tmp_path):
    here = tmp_path / "elsewhere"
    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--runs-dir", str(here))
    assert r.returncode == 0, r.stderr
    assert len(list(here.iterdir())) == 1
    assert runs_json("--runs-dir", str(here))[0]["state"] == "finished"
    assert runs_json(env={"TUI_TRAINER_RUNS": str(here)})[0]["epochs_done"] == 1
    assert runs_json() == []


def test_runs_rm_and_prune(tmp_path):
    env = {"TUI_TRAINER_RUNS": str(tmp_path / "runs")}
    for preset in ("circle", "xor", "gauss"):
        assert run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--preset", preset, env=env).returncode == 0
    ids = [r["id"] for r in runs_json(env=env)]
    assert len(ids) == 3 and ids[0].endswith("gauss")  # newest first
    missing = run_cli("runs", "rm", ids[0], "nope", env=env)
    assert missing.returncode == 2 and "nope" in missing.stderr and missing.stderr.count("\n") == 1
    assert len(runs_json(env=env)) == 3  # nothing removed when one name is wrong
    gone = run_cli("runs", "rm", ids[0], env=env)
    assert gone.returncode == 0 and ids[0] in gone.stdout
    assert [r["id"] for r in runs_json(env=env)] == ids[1:]
    young = run_cli("runs", "prune", env=env)  # default: older than 30 days
    assert young.returncode == 0 and "nothing to prune" in young.stdout
    dry = run_cli("runs", "prune", "--older-than", "0", "--dry-run", env=env)
    assert dry.stdout.count("would remove") == 2 and len(runs_json(env=env)) == 2
    bad = run_cli("runs", "prune", "--older-than", "soon", env=env)
    assert bad.returncode == 2 and "--older-than" in bad.stderr
    bad_state = run_cli("runs", "prune", "--state", "sleeping", env=env)
    assert bad_state.returncode == 2 and "sleeping" in bad_state.stderr
    pruned = run_cli("runs", "prune", "--state", "finished", env=env)
    assert pruned.returncode == 0 and runs_json(env=env) == []


# -- one writer per folder (issue 8, class 2) --------------------------------------------------------
def test_two_processes_cannot_write_one_run(tmp_path):
    out = tmp_path / "shared"
    first = popen_cli(*LONG, "--output", str(out))
    try:
        wait_for(lambda: state_of(out).get("epochs_done", 0) >= 1 or None, what="first run's epochs")
        before = (out / "history.csv").read_text()
        second = run_cli(*LONG, "--output", str(out), "--overwrite")
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "in use" in second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert (out / "history.csv").read_text().startswith(before)  # untouched by the second run
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 130, err
    finally:
        stop(first)
    assert state_of(out)["state"] == "stopped"
    # The lock went with the first process: the folder takes a new run (with --overwrite).
    third = run_cli("--no-ui", "--backend", "torch", "--epochs", "2", "--output", str(out), "--overwrite")
    assert third.returncode == 0, third.stderr
    assert len((out / "history.csv").read_text().splitlines()) == 3


def test_overwrite_leaves_no_earlier_files(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.keras").write_bytes(b"an earlier tensorflow run's weights")
    (out / "best.keras").write_bytes(b"and its best")
    (out / "summary.json").write_text("{}")
    refused = run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--output", str(out))
    assert refused.returncode == 2 and (out / "model.keras").exists()
    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "1", "--output", str(out), "--overwrite")
    assert r.returncode == 0, r.stderr
    assert not (out / "model.keras").exists() and not (out / "best.keras").exists()
    assert (out / "model.pt").exists() and json.loads((out / "summary.json").read_text())["weights"] == "model.pt"


# -- dead writers ----------------------------------------------------------------------------------
def test_sigkilled_run_is_interrupted_with_whole_lines(tmp_path):
    env = {"TUI_TRAINER_RUNS": str(tmp_path / "runs")}
    proc = popen_cli(*LONG, env=env)
    try:
        folder = wait_for(lambda: next((tmp_path / "runs").glob("*/state.json"), None), what="run folder").parent
        wait_for(lambda: state_of(folder).get("epochs_done", 0) >= 3 or None, what="three epochs")
        assert runs_json(env=env)[0]["state"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop(proc)
    run = runs_json(env=env)[0]
    assert run["state"] == "interrupted" and run["epochs_done"] >= 3
    events = assert_whole_lines(folder)
    assert events[0]["kind"] == "run_started" and len([e for e in events if e["kind"] == "epoch_ended"]) >= 3
    assert "interrupted" in run_cli("runs", env=env).stdout


def test_ctrl_c_before_the_first_epoch_leaves_nothing(tmp_path):
    """Issue 8 (11): a run stopped before epoch 1 must not block a rerun into the same folder."""
    out = tmp_path / "early"
    proc = popen_cli("--no-ui", "--backend", "torch", "--epochs", "5", "--output", str(out))
    try:
        # state.json appears when the lock is taken, before the framework import and any epoch.
        wait_for(lambda: state_of(out).get("state") == "starting", what="the run folder")
        time.sleep(0.3)  # into the framework import: the SIGINT handler is installed by now
        assert not (out / "history.csv").exists()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 130, err
    assert not out.exists(), list(out.iterdir())
    again = run_cli("--no-ui", "--backend", "torch", "--epochs", "2", "--output", str(out))
    assert again.returncode == 0, again.stderr


# -- disk faults (issue 8, class 7) ----------------------------------------------------------------
def _run_with_file_limit(out: Path, limit: int) -> subprocess.CompletedProcess:
    """The CLI with RLIMIT_FSIZE set in the child: a real EFBIG once a file would pass ``limit`` bytes."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from tui_trainer.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code, *LONG, "--output", str(out)], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=240)


def _assert_fault_reported_once(r: subprocess.CompletedProcess, out: Path) -> None:
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "can't write the run folder" in errors[0], r.stderr


def test_file_too_large_is_reported_once_and_logs_stay_whole(tmp_path):
    out = tmp_path / "big"
    r = _run_with_file_limit(out, 60_000)
    _assert_fault_reported_once(r, out)
    assert "File too large" in r.stderr
    events = assert_whole_lines(out)
    assert events[0]["kind"] == "run_started"
    assert (out / "history.jsonl").stat().st_size <= 60_000
    for name in ("summary.json", "state.json"):  # written whole or not at all
        if (out / name).exists():
            json.loads((out / name).read_text())
    if (out / "model.pt").exists():
        import torch

        torch.load(out / "model.pt")  # a complete file, not a cut one


@pytest.fixture
def tiny_disk(tmp_path):
    """A 96 KiB tmpfs (needs root and mount; skipped where that is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"can't mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_is_reported_once_and_logs_stay_whole(tiny_disk):
    out = tiny_disk / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "tui_trainer", *LONG, "--output", str(out)], capture_output=True,
                       text=True, cwd=REPO, env=env, timeout=240)
    _assert_fault_reported_once(r, out)
    assert "No space left" in r.stderr
    assert_whole_lines(out)
    for name in ("summary.json", "state.json"):
        if (out / name).exists():
            json.loads((out / name).read_text())


def test_vanished_folder_is_reported_once(tmp_path):
    out = tmp_path / "gone"
    proc = popen_cli(*LONG, "--output", str(out))
    try:
        wait_for(lambda: state_of(out).get("epochs_done", 0) >= 1 or None, what="epochs")
        import shutil

        shutil.rmtree(out)
        _, err = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode == 4, err
    assert "Traceback" not in err and err.count("error") == 1 and "can't write the run folder" in err


# -- detach ----------------------------------------------------------------------------------------
def test_detached_run_survives_its_parent_and_sighup(tmp_path):
    env = {"TUI_TRAINER_RUNS": str(tmp_path / "runs")}
    t0 = time.time()
    launcher = popen_cli("--backend", "torch", "--epochs", "1500", "--detach", env=env, start_new_session=True)
    out, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, err
    lines = out.splitlines()
    run_id = lines[0].removeprefix("run ")
    folder = Path(lines[1].removeprefix("folder "))
    assert folder.parent == tmp_path / "runs" and folder.name == run_id
    assert time.time() - t0 < 30
    pid = state_of(folder)["pid"]
    assert os.getsid(pid) == pid != launcher.pid  # a session of its own: no terminal, no SIGHUP from it
    wait_for(lambda: state_of(folder).get("state") == "running", what="the detached run to start")
    # The launcher is gone; a hang-up to its whole session's group reaches no one else.
    with pytest.raises(ProcessLookupError):
        os.killpg(launcher.pid, signal.SIGHUP)
    os.kill(pid, 0)  # still alive
    done = wait_for(lambda: state_of(folder).get("state") in ("finished", "failed", "interrupted")
                    and state_of(folder), timeout=180, what="the detached run to finish")
    assert done["state"] == "finished" and done["epochs_done"] == 1500
    events = assert_whole_lines(folder)
    assert events[0]["kind"] == "run_started" and events[-1]["kind"] == "run_finished"
    assert len([e for e in events if e["kind"] == "epoch_ended"]) == 1500
    log = (folder / "run.log").read_text()
    assert "[Epoch 1500/1500]" in log and "finished: completed" in log and "\x1b" not in log
    assert runs_json(env=env)[0]["state"] == "finished"


def test_detach_checks_before_it_leaves(tmp_path):
    env = {"TUI_TRAINER_RUNS": str(tmp_path / "runs")}
    bad = run_cli("--detach", "--set", "train.epochs=-1", env=env)
    assert bad.returncode == 2 and "train.epochs" in bad.stderr and not (tmp_path / "runs").exists()
    target = run_cli("--detach", "--min-val-acc", "0.9", env=env)
    assert target.returncode == 2 and "--detach" in target.stderr


def test_detach_json_and_output(tmp_path):
    out = tmp_path / "there"
    r = run_cli("--backend", "torch", "--epochs", "3", "--detach", "--json", "--output", str(out))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert Path(info["folder"]) == out.resolve() and info["run"] == "there"
    wait_for(lambda: state_of(out).get("state") == "finished", timeout=120, what="the run to finish")
    log_events = [json.loads(line) for line in (out / "run.log").read_text().splitlines()]
    assert log_events[0]["kind"] == "run_started" and log_events[-1]["kind"] == "run_finished"


def test_app_run_is_recorded():
    """A run started with F5 in the app is a run folder like a headless one."""
    import asyncio

    from tests.test_app import app_for, circle, ready
    from tests.test_app import wait_for as app_wait

    async def scenario():
        app = app_for(circle(**{"train.epochs": 4}))
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            await app_wait(pilot, lambda: app.run_state is not None and app.run_state.over, what="the run")

    asyncio.run(scenario())
    run = runs_json()[0]
    assert run["state"] == "finished" and run["epochs_done"] == 4 and run["preset"] == "circle"
    assert_whole_lines(Path(run["folder"]))


# -- attach and the app's own process (issue 12, parts 2 to 4) ------------------------------------------
def _app(cfg, **options):
    from tui_trainer.app import create_app

    return create_app(cfg, preset_name="circle", threads=1, **options)


def test_attach_replays_then_follows_live_and_controls_the_run(tmp_path):
    """A detached headless run: attach shows its epochs so far, then new ones; F6/F7 reach the run."""
    import asyncio

    from tests.test_app import wait_for as app_wait
    from tui_trainer.core.events import EpochEnded
    from tui_trainer.core.presets import load_preset
    from tui_trainer.runs.client import RunClient
    from tui_trainer.runs.server import socket_path

    env = {"TUI_TRAINER_RUNS": str(tmp_path / "runs")}
    launched = run_cli(*LONG, "--detach", env=env)
    assert launched.returncode == 0, launched.stderr
    folder = Path(launched.stdout.splitlines()[1].removeprefix("folder "))
    try:
        wait_for(lambda: state_of(folder).get("epochs_done", 0) >= 20 or None, what="20 epochs")
        cfg = load_preset(str(folder / "config.toml"))
        # A second viewer, watching the same run the whole time.
        seen: list[int] = []
        other = RunClient(socket_path(folder), lambda e: seen.append(e.epoch) if isinstance(e, EpochEnded) else None)

        async def scenario():
            app = _app(cfg, attach=folder)
            async with app.run_test(size=(120, 36)) as pilot:
                await app_wait(pilot, lambda: app.run_state is not None and len(app.run_state.epochs) >= 20,
                               what="the replayed epochs")
                first = app.run_state.epochs[0].epoch
                replayed = len(app.run_state.epochs)
                await app_wait(pilot, lambda: len(app.run_state.epochs) >= replayed + 10, what="live epochs")
                epochs = [e.epoch for e in app.run_state.epochs]
                assert first == 1 and epochs == list(range(1, len(epochs) + 1))  # nothing lost or doubled
                await pilot.press("f6")
                await app_wait(pilot, lambda: state_of(folder).get("state") == "paused", what="paused in the run")
                assert "paused" in app.status_text()
                await pilot.pause(0.5)
                frozen = state_of(folder)["epochs_done"]
                await pilot.pause(1.2)
                assert state_of(folder)["epochs_done"] == frozen
                await pilot.press("f6")
                await app_wait(pilot, lambda: state_of(folder).get("epochs_done", 0) > frozen, what="resumed")
                # The map comes from the run while a viewer watches (headless makes maps rarely).
                await app_wait(pilot, lambda: app.run_state.boundary is not None
                               and app.run_state.boundary.epoch > 0, what="a live map")
                await pilot.press("f7")
                await app_wait(pilot, lambda: app.run_state.over, what="the run to end")
                assert app.run_state.finished.reason == "stopped"

        asyncio.run(scenario())
        wait_for(lambda: state_of(folder).get("state") == "stopped", what="the run's state")
        assert len(seen) >= 10 and seen == sorted(seen)
        other.close()
    finally:
        pid = state_of(folder).get("pid")
        if isinstance(pid, int):
            with_suppress_kill(pid)
    assert_whole_lines(folder)


def with_suppress_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_attach_shows_all_of_a_ten_thousand_epoch_run(tmp_path):
    """Every epoch of a long finished run reaches the viewer (how fast: benchmarks/bench_attach.py)."""
    import asyncio

    from tests.test_app import wait_for as app_wait
    from tui_trainer.core.presets import load_preset

    out = tmp_path / "long"
    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "10000", "--set", "train.batch_size=250",
                "--set", "data.train_ratio=0.1", "--output", str(out))
    assert r.returncode == 0, r.stderr
    cfg = load_preset(str(out / "config.toml"))

    async def scenario():
        app = _app(cfg, attach=out)
        async with app.run_test(size=(120, 36)) as pilot:
            await app_wait(pilot, lambda: app.run_state is not None, what="the run to open")
            t0 = time.perf_counter()
            await app_wait(pilot, lambda: app.run_state.over and app.run_state.last is not None
                           and app.run_state.last.epoch == 10000, what="all epochs")
            await pilot.pause(0.15)  # one redraw tick: the table and plot show it
            assert app.run_state.finished.reason == "completed"
            assert "10000" in app.status_text()
            assert [e.epoch for e in app.run_state.epochs] == list(range(1, 10001))
            assert app.run_state.best is not None and app.run_state.best.epoch > 1
            return time.perf_counter() - t0

    asyncio.run(scenario())


def test_quitting_the_app_can_leave_its_run_going(tmp_path):
    import asyncio

    from tests.test_app import circle, ready
    from tests.test_app import wait_for as app_wait
    from tui_trainer.runs.client import RunClient
    from tui_trainer.runs.server import socket_path

    env_root = tmp_path / "runs"
    os.environ["TUI_TRAINER_RUNS"] = str(env_root)
    try:
        async def scenario():
            app = _app(circle(**{"train.epochs": 100_000}))
            async with app.run_test(size=(120, 36)) as pilot:
                await ready(pilot)
                await pilot.press("f5")
                await app_wait(pilot, lambda: len(app.run_state.epochs) >= 3, what="a few epochs")
                await pilot.press("ctrl+q")
                await app_wait(pilot, lambda: type(app.screen).__name__ == "QuitScreen", what="the question")
                await pilot.press("l")
                await app_wait(pilot, lambda: not app.is_running, what="the app to close")
            return app.run_folder

        folder = asyncio.run(scenario())
        run = runs_json()[0]
        assert run["state"] == "running" and Path(run["folder"]) == folder
        pid = run["pid"]
        assert pid != os.getpid() and os.getsid(pid) == pid  # its own session: the terminal's end is not its end
        done_before = state_of(folder)["epochs_done"]
        wait_for(lambda: state_of(folder).get("epochs_done", 0) > done_before, what="the run to go on")
        stopper = RunClient(socket_path(folder), lambda event: None)
        stopper.send({"cmd": "stop"})
        wait_for(lambda: state_of(folder).get("state") == "stopped", what="the run to stop")
        stopper.close()
        assert_whole_lines(folder)
        assert (folder / "model.pt").exists()
    finally:
        os.environ.pop("TUI_TRAINER_RUNS", None)


def test_viewer_history_is_bounded_and_keeps_the_latest_and_the_best():
    """A week-long run must not grow the app: RunState keeps at most MAX_EPOCHS epochs."""
    from tui_trainer.app.state import KEEP_RECENT, MAX_EPOCHS, RunState
    from tui_trainer.core.config import default_config
    from tui_trainer.core.control import RunControl
    from tui_trainer.core.events import EpochEnded

    run = RunState(1, default_config(), RunControl(), None, 0.0)
    total = 5 * MAX_EPOCHS
    for epoch in range(1, total + 1):
        val_loss = 0.5 if epoch != 1234 else 0.01
        run.add_epoch(EpochEnded(epoch=epoch, epochs=total, loss=1.0, acc=0.5, val_loss=val_loss, val_acc=0.5,
                                 seconds=0.001))
        assert len(run.epochs) <= MAX_EPOCHS
    numbers = [e.epoch for e in run.epochs]
    assert numbers == sorted(numbers) and numbers[0] == 1
    assert numbers[-KEEP_RECENT:] == list(range(total - KEEP_RECENT + 1, total + 1))
    assert run.best.epoch == 1234


def test_runs_view_opens_a_recorded_run(tmp_path):
    """F10 lists the runs; Enter opens one read-only with its whole history and its config in the form."""
    import asyncio

    from tests.test_app import circle, ready
    from tests.test_app import wait_for as app_wait

    r = run_cli("--no-ui", "--backend", "torch", "--epochs", "6", "--preset", "xor")
    assert r.returncode == 0, r.stderr
    folder = Path(runs_json()[0]["folder"])

    async def scenario():
        app = _app(circle())
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            await pilot.press("f10")
            await app_wait(pilot, lambda: type(app.screen).__name__ == "RunsScreen", what="the runs view")
            table = app.screen.query_one("#runs-table")
            assert table.row_count == 1
            await pilot.press("enter")
            await app_wait(pilot, lambda: app.run_state is not None and app.run_state.over, what="the run")
            assert [e.epoch for e in app.run_state.epochs] == [1, 2, 3, 4, 5, 6]
            assert app.run_folder == folder and app.form.choice("data.dataset") == "xor"
            assert app.run_state.finished.reason == "completed"

    asyncio.run(scenario())
