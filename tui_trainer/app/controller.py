"""The app's run lifecycle: warm training processes, starting a run, attaching to one.

The app never trains in its own process: F5 hands the run to a *warm worker*
(``python -m tui_trainer.runs.worker``, started while the user edits the form, with
the framework already imported), which records the run folder and serves the
run's control socket.  The app is a viewer of that socket like ``tui-trainer
attach`` is, so quitting the app can leave the run going, and a run started
anywhere can be opened here.  Events from the socket reach the UI thread as
the same messages the engine's events always did (``Courier``), so the panels
don't know where a run lives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_trainer.app.messages import BoundaryReady, ClassReportReady, Courier, EpochDone, RunBegan, RunEnded
from tui_trainer.core.events import EpochEnded, Event, RunFailed, RunFinished, RunStarted
from tui_trainer.core.hooks import Face
from tui_trainer.core.progress import RunProgress
from tui_trainer.runs.client import RemoteControl, RemoteSession, RunClient, replay
from tui_trainer.runs.server import socket_path
from tui_trainer.runs.store import create_run_folder, load_run, runs_root
from tui_trainer.runs.worker import job_line

#: Seconds to wait for a warm worker's framework import (TensorFlow on a busy box can take long).
READY_TIMEOUT = 180.0


class WarmWorker:
    """A training process waiting for a job, its framework imported."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.ready = threading.Event()
        self.error: str | None = None
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui_trainer.runs.worker", backend], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True, close_fds=True,
        )
        self._thread = threading.Thread(target=self._wait_ready, name="tui-trainer-warm", daemon=True)
        self._thread.start()

    def _wait_ready(self) -> None:
        line = self.proc.stdout.readline()
        try:
            data = json.loads(line) if line else {"error": "the training process exited while starting"}
        except ValueError:
            data = {"error": f"the training process said {line[:200]!r}"}
        self.error = data.get("error")
        self.ready.set()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def dismiss(self) -> None:
        """No job after all: it holds no run, so it simply ends (and its reader thread with it)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._thread.join(timeout=5)


class RunController:
    """Starts runs in worker processes and connects the app to runs, new or existing."""

    def __init__(self, runs_dir: str | None = None) -> None:
        self.runs_dir = runs_dir
        self._warm: dict[str, WarmWorker] = {}
        self._lock = threading.Lock()

    def warm(self, backend: str) -> WarmWorker:
        with self._lock:
            worker = self._warm.get(backend)
            if worker is None or not worker.alive:
                worker = self._warm[backend] = WarmWorker(backend)
            return worker

    def _take(self, backend: str) -> WarmWorker:
        worker = self.warm(backend)
        with self._lock:
            self._warm.pop(backend, None)
        return worker

    def launch(self, config: Any, preset: str | None, *, threads: int | None, grid: tuple[int, int] | None,
               stepping: bool, on_event: Callable[[Event], None], control: RemoteControl,
               on_close: Callable[[], None]) -> tuple[Path, RunClient]:
        """Give a run to a warm worker and connect to it (blocking: call from a thread)."""
        label = Path(preset).stem if preset and preset.endswith(".toml") else (preset or config.data.dataset)
        worker = self._take(config.train.backend)
        if not worker.ready.wait(READY_TIMEOUT):
            worker.proc.kill()
            raise RuntimeError("the training process did not start in time")
        folder = create_run_folder(runs_root(self.runs_dir), label)
        job = job_line(folder, config, label, threads=threads, grid=grid, stepping=stepping)
        try:
            worker.proc.stdin.write((json.dumps(job) + "\n").encode())
            worker.proc.stdin.close()
            line = worker.proc.stdout.readline()
            reply = json.loads(line) if line else {"error": "the training process ended before the run began"}
        except (OSError, ValueError) as exc:
            reply = {"error": f"the training process could not take the run ({exc})"}
        finally:
            worker.proc.stdout.close()
        if "socket" not in reply:
            _remove_empty(folder)
            raise RuntimeError(reply.get("error") or "the training process refused the run")
        client = RunClient(Path(reply["socket"]), on_event, on_control=control.update, on_close=on_close)
        control.connect(client)
        return folder, client

    def shutdown(self) -> None:
        with self._lock:
            workers, self._warm = list(self._warm.values()), {}
        for worker in workers:
            worker.dismiss()


def _remove_empty(folder: Path) -> None:
    for child in folder.iterdir() if folder.exists() else ():
        if child.name in ("lock", "run.log", "state.json"):
            child.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass


class RemoteFollower(Face):
    """Feeds one run's events to the app: the log so far (attach), then the live socket.

    Replaying a log of 10,000 epochs sends one ``EpochDone`` with all of them;
    live events go through a ``Courier`` as an in-process run's did.  Events
    that arrive on the socket while the log is read are held and deduplicated
    by epoch, so nothing is shown twice or lost in between.  Its hooks say
    whether an event goes on to the app (False: already known from the log).
    """

    def __init__(self, run: Any, post: Callable[[Message], object]) -> None:
        self.run = run
        self.post = post
        self.courier = Courier(run.run_id, post, lambda: run.control.paused)
        self.over = threading.Event()
        self.ended = False
        self._held: list[Event] | None = None
        self._last_epoch = 0
        self._lock = threading.Lock()
        self.client: RunClient | None = None

    def receive(self, event: Event) -> None:
        """An event from the socket (the client's thread)."""
        with self._lock:
            if self._held is not None:
                self._held.append(event)
                return
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        if self(event):
            self.courier(event)
        if self.ended:
            self.over.set()

    def on_event(self, event: Event) -> bool:
        return True

    def on_epoch_ended(self, event: EpochEnded) -> bool:
        if event.epoch <= self._last_epoch:
            return False
        self._last_epoch = event.epoch
        self.run.session.note_epoch(event)
        return True

    def on_run_started(self, event: RunStarted) -> bool:
        session = self.run.session
        if session.has_model():
            return False  # already known from the log
        session.started(event.summary, event.task)
        return True

    def on_run_end(self, event: RunFinished | RunFailed) -> bool:
        self.ended = True
        return True

    def on_close(self) -> None:
        self.over.set()

    def follow(self, folder: Path, live: bool) -> None:
        """Attach: connect (if live), replay the log, then go live (blocking, from a thread)."""
        if live:
            self._held = []
            try:
                client = RunClient(socket_path(folder), self.receive, on_control=self.run.control.update,
                                   on_close=self.on_close)
                self.client = client
                self.run.control.connect(client)
                self.run.session.connect(client)
            except OSError:
                self._held = None
                live = False
        self._replay(folder)
        with self._lock:
            held, self._held = self._held or [], None
        for event in held:
            self._deliver(event)
        if not live and not self.ended:
            info = load_run(folder)
            state = info.state if info is not None else "interrupted"
            self._deliver(RunFailed(message=f"this run is {state}: its process ended before the run did "
                                            f"(after {self._last_epoch} epochs)"))

    def _replay(self, folder: Path) -> None:
        log = ReplayedRun()
        for event, _ in replay(folder):
            log(event)
        run_id = self.run.run_id
        session = self.run.session
        started, epochs = log.started, log.epochs
        if started is not None:
            session.started(started.summary, started.task)
            self.post(RunBegan(run_id, started))
        if epochs:
            self._last_epoch = epochs[-1].epoch
            session.note_epoch(epochs[-1])
            self.post(EpochDone(run_id, tuple(epochs)))
        if log.boundary is not None:
            self.post(BoundaryReady(run_id, log.boundary))
        if log.class_report is not None:
            self.post(ClassReportReady(run_id, log.class_report))
        if log.over:
            self.ended = True
            self.post(RunEnded(run_id, finished=log.finished, failed=log.failed if log.finished is None else None))
            self.over.set()


@dataclass
class ReplayedRun(RunProgress):
    """A run's log read back: the reducer's view of it plus every epoch (sent to the app in one message)."""

    epochs: list[EpochEnded] = field(default_factory=list)

    def on_epoch_ended(self, event: EpochEnded) -> bool:
        self.epochs.append(event)
        return super().on_epoch_ended(event)


def new_remote_parts(config: Any, dataset: Any) -> tuple[RemoteControl, RemoteSession]:
    return RemoteControl(), RemoteSession(config, dataset)


def wait_for_end(follower: RemoteFollower, run: Any) -> None:
    """Block until the run ends or its process goes away; say so if it went away mid-run."""
    follower.over.wait()
    time.sleep(0)  # let the reader thread finish delivering
    if not follower.ended:
        follower._deliver(RunFailed(message="the run's process ended before the run did; "
                                            "its folder has what it recorded (tui-trainer runs)"))


class QuitScreen(ModalScreen[str | None]):
    """Quitting while a run goes: stop it, leave it running in the background, or stay."""

    BINDINGS = [Binding("escape", "stay", "Stay"), Binding("s", "choose('stop')", show=False),
                Binding("l", "choose('leave')", show=False)]

    def __init__(self, run_name: str) -> None:
        super().__init__()
        self._run_name = run_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"A run is going ({self._run_name}).\nStop it, or leave it running in the background?\n"
                         "(tui-trainer runs lists it; tui-trainer attach opens it again.)",
                         classes="dialog-question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Stop it", id="stop", variant="warning", compact=True)
                yield Button("Leave it running", id="leave", variant="primary", compact=True)
                yield Button("Stay", id="stay", compact=True)

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "stay" else event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def action_stay(self) -> None:
        self.dismiss(None)
