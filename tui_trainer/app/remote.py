"""``TrainerApp``'s runs in other processes: start one in a warm worker, open (attach to) any run, quit without it.

Kept apart from ``app.py`` (layout, bindings, panels): this is the run
lifecycle, on top of ``controller.RunController``.  The panels only ever see
``RunState`` and the usual messages, whether the run is new or attached.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import work

from tui_trainer.app.controller import QuitScreen, RemoteFollower, RunController, wait_for_end
from tui_trainer.app.messages import BackendLoaded
from tui_trainer.app.state import RunState
from tui_trainer.core.events import RunFailed
from tui_trainer.runs.client import RemoteControl, RemoteSession
from tui_trainer.runs.store import load_run


class RemoteRuns:
    """Mixed into ``TrainerApp``; needs its ``run_state``, ``clock``, ``threads``, ``preset_name``, ``notify``."""

    def _init_remote(self, process: bool, attach: Path | None, runs_dir: str | None) -> None:
        #: Train in a worker process (the app's way); False keeps the old in-process thread (benchmarks compare).
        self.process = process
        self.attach_folder = Path(attach) if attach is not None else None
        self.controller = RunController(runs_dir)
        self.run_folder: Path | None = None
        self._follower: RemoteFollower | None = None
        self._left_running = False

    # -- warm workers -----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="import", description="start a training process")
    def _warm_backend(self, name: str) -> None:
        worker = self.controller.warm(name)
        worker.ready.wait()
        self.post_message(BackendLoaded(name, error=worker.error))

    # -- a new run ------------------------------------------------------------------------------------
    def _remote_parts(self, cfg: Any, dataset: Any) -> tuple[RemoteControl, RemoteSession]:
        return RemoteControl(), RemoteSession(cfg, dataset)

    @work(thread=True, exit_on_error=False, group="train", description="train in a worker process")
    def _train_remote(self, run: RunState) -> None:
        from tui_trainer.app.app import DATA_LOCK

        self._drop_follower()
        follower = RemoteFollower(run, self.post_message)
        self._follower = follower
        try:
            with DATA_LOCK:
                try:  # the run's process loads its own; this copy draws the points
                    run.session.load_data()
                except Exception:  # noqa: BLE001 - the run reports a bad data file itself
                    pass
            folder, client = self.controller.launch(
                run.config, self.preset_name, threads=self.threads, grid=run.control.grid_shape,
                stepping=False, on_event=follower.receive, control=run.control, on_close=follower.on_close)
            follower.client = client
            run.session.connect(client)
            self.run_folder = folder
            wait_for_end(follower, run)
        except Exception as exc:  # noqa: BLE001 - shown as the run's failure
            follower._deliver(RunFailed(message=str(exc)))
        finally:
            run.thread_done.set()
            if not self._left_running:
                self.controller.warm(run.config.train.backend)  # the next F5 finds a warm process

    def _drop_follower(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None and follower.client is not None:
            follower.client.close()

    # -- an existing run --------------------------------------------------------------------------------
    def open_run(self, folder: Path) -> RunState | None:
        """Show a run from its folder: all of it so far, then live while it goes."""
        info = load_run(folder)
        if info is None:
            self.notify(f"{folder} holds no run", severity="error", markup=False)
            return None
        cfg = self.initial_config if folder == self.attach_folder else None
        if cfg is None:
            from tui_trainer.core.presets import load_preset

            cfg = load_preset(str(folder / "config.toml"))
        self._run_id += 1
        control, session = self._remote_parts(cfg, None)
        elapsed = info.duration() or 0.0
        run = RunState(self._run_id, cfg, control, session, self.clock() - elapsed)
        self.run_state = run
        self.run_folder = Path(folder)
        self._note = None
        self._gallery_pred = None
        control.grid_shape = self._last_grid
        self.plot.set_history(run.epochs, cfg.task == "regression", placeholder=f"reading run {info.id}…")
        self.plot.mark_dirty()
        self._follow_run(run, Path(folder), info.live)
        self._sync_controls()
        self._update_status()
        return run

    @work(thread=True, exit_on_error=False, group="train", description="follow a run folder")
    def _follow_run(self, run: RunState, folder: Path, live: bool) -> None:
        self._drop_follower()
        follower = RemoteFollower(run, self.post_message)
        self._follower = follower
        try:
            # The form holds the run's config, so the preview is the run's data (the map's points).
            follower.follow(folder, live)
            wait_for_end(follower, run)
        except Exception as exc:  # noqa: BLE001 - shown as the run's failure
            follower._deliver(RunFailed(message=f"can't follow the run: {type(exc).__name__}: {exc}"))
        finally:
            run.thread_done.set()

    # -- the runs view -----------------------------------------------------------------------------------
    def action_runs(self) -> None:
        from tui_trainer.app.runs_view import RunsScreen

        async def chosen(folder: Path | None) -> None:
            if folder is not None:
                await self._open_chosen(folder)

        self.push_screen(RunsScreen(self.controller.runs_dir), chosen)

    async def _open_chosen(self, folder: Path) -> None:
        from tui_trainer.core.errors import UserError
        from tui_trainer.core.presets import load_preset

        if self._run_active() and not self.process:
            self.notify("A run is going in this app: F7 stops it first.", severity="warning")
            return
        try:
            cfg = load_preset(str(folder / "config.toml"))
        except UserError as exc:
            self.notify(str(exc), title="Can't open the run", severity="error", markup=False)
            return
        if self._run_active():
            self.notify(f"{self.run_folder.name if self.run_folder else 'The run'} goes on in the background "
                        "(F10 opens it again).", markup=False)
        await self.form.load(cfg)
        self.open_run(folder)

    # -- quitting ------------------------------------------------------------------------------------------
    def _ask_quit(self) -> None:
        run = self.run_state
        name = self.run_folder.name if self.run_folder is not None else "this run"

        async def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "leave":
                self._left_running = True
                self._drop_follower()
                self.exit()
                return
            run.control.stop()
            self._note = ("stopping the run before quitting…", False)
            self._update_status()
            for _ in range(3000):
                if run.thread_done.is_set():
                    break
                await asyncio.sleep(0.02)
            self.exit()

        self.push_screen(QuitScreen(name), chosen)

    def _close_remote(self) -> None:
        if not self._left_running and self._follower is not None:
            self._drop_follower()
        self.controller.shutdown()
