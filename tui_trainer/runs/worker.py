"""The app's training process: ``python -m tui_trainer.runs.worker BACKEND``.

The app starts one of these *warm* while the user edits the form: it imports
the engine and the framework (the slow part: seconds for TensorFlow), says
``ready`` on stdout and waits for one job line on stdin.  Given a job (a run
folder and a config) it takes the folder's lock, opens the run's control socket
(``runserver``), tells the app where (one JSON line), and from then on writes
nothing to the app's terminal: its stdout and stderr go to ``run.log``.  It is
started in a session of its own, so closing the terminal, the SSH connection
or the app does not stop it; it ends when the run ends.  If the app goes away
before giving it a job, its stdin closes and it exits.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

#: Longest a finished run's process answers questions while its viewer stays connected (seconds).
LINGER = 12 * 3600.0


def _reply(stream: Any, data: dict[str, Any]) -> None:
    stream.write(json.dumps(data) + "\n")
    stream.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app's Ctrl-C is the app's business
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    backend = argv[0] if argv else "torch"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tui_trainer.backends import BACKEND_MODULES
    from tui_trainer.engine.session import Session, collector_off_then_frozen

    error = None
    # As ``Session.freeze_gc`` does for a run: no collections while the framework is imported
    # (TensorFlow's import walked its own objects again and again: ~0.4 s), then what is alive
    # is frozen for the life of the process.  The job's run then leaves the collector as it is.
    with collector_off_then_frozen():
        try:
            importlib.import_module(BACKEND_MODULES[backend][0])
        except Exception as exc:  # noqa: BLE001 - the app shows it; a run would report it again
            error = f"{type(exc).__name__}: {exc}"
        else:
            warm_up(backend, Session)
    out = sys.stdout
    _reply(out, {"ready": backend, "error": error, "pid": os.getpid()})
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    return run_job(job, out, Session)


def warm_up(backend: str, session_class: Any) -> None:
    """One throwaway epoch of a tiny network: the data loaders, the backend and the framework's
    first-model costs (seconds on a busy machine) are paid here, while the user edits the form."""
    from tui_trainer.core.config import default_config

    try:
        cfg = default_config().with_updates({"train.backend": backend, "train.epochs": 1})
        session_class(cfg, threads=1).run(lambda event: None)
    except Exception:  # noqa: BLE001 - only a head start; the real run reports its own errors
        pass


#: Seconds between the maps a worker draws for its viewer (the app's ``GRID_INTERVAL``).
MAP_INTERVAL = 0.25


def job_line(folder: Path, config: Any, label: str, *, threads: int | None, grid: tuple[int, int] | None,
             stepping: bool = False) -> dict[str, Any]:
    """The job line the app gives a warm worker (``job_parts`` reads it)."""
    return {"folder": str(folder), "config": config.to_dict(), "preset": label, "threads": threads,
            "grid": list(grid) if grid else None, "step": stepping}


def job_parts(job: dict[str, Any], session_class: Any) -> tuple[Any, Any, Any]:
    """The session, control and run-folder recorder a job asks for (``bench_app.py`` builds its
    headless reference from these too, so both sides record and draw maps alike)."""
    from tui_trainer.core.config import from_dict
    from tui_trainer.core.control import RunControl
    from tui_trainer.runs.export import RunExporter

    folder = Path(job["folder"])
    config = from_dict(job["config"])
    session = session_class(config, threads=job.get("threads"))
    session.keep_history = False  # the run folder has it; memory stays flat however long the run
    control = RunControl()
    grid = job.get("grid")
    control.grid_shape = tuple(grid) if grid else None
    control.grid_interval = float(job.get("grid_interval", MAP_INTERVAL))
    if job.get("network"):
        control.network_shape = tuple(job["network"])
    if job.get("step"):
        control.step()
    meta = {"preset": job.get("preset") or config.data.dataset, "epochs_total": config.train.epochs,
            "dataset": config.data.dataset, "backend": config.train.backend, "started_by": "app"}
    exporter = RunExporter(folder, lambda: session, meta=meta, created=True)
    return session, control, exporter


def run_job(job: dict[str, Any], out: Any, session_class: Any) -> int:
    from tui_trainer.core.errors import UserError
    from tui_trainer.runs.server import RunServer

    folder = Path(job["folder"])
    session, control, exporter = job_parts(job, session_class)
    try:
        exporter.open()
        server = RunServer(folder, control, lambda: session, on_pause=exporter.set_paused).start()
    except (UserError, OSError) as exc:
        _reply(out, {"error": str(exc)})
        return 2
    signal.signal(signal.SIGTERM, lambda signum, frame: control.stop())
    _reply(out, {"socket": str(server.path), "folder": str(folder), "pid": os.getpid()})
    # From here on nothing reaches the app's terminal: whatever the run prints goes to its log.
    log = os.open(folder / "run.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for fd in (1, 2):
        os.dup2(log, fd)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # The viewer that asked for the run connects at once and says go after its first commands
    # (a step, the map size): wait for it, so it sees the run from its very start.
    server.go.wait(float(job.get("wait_viewer", 10.0)))

    def emit(event: Any) -> None:
        exporter(event)
        server(event)

    result = session.run(emit, control)
    exporter.close()
    # The model stays up for questions (the predict box, the gallery) while a viewer is connected.
    deadline = time.monotonic() + LINGER
    while server.viewer_count and time.monotonic() < deadline:
        time.sleep(0.2)
    server.close()
    if exporter.error is not None:
        sys.stderr.write(f"tui-trainer: error: {exporter.fault_message()}\n")
        return 4
    if result.failed is not None:
        sys.stderr.write(f"tui-trainer: error: {result.failed.message}\n")
        return 2 if isinstance(result.error, UserError) else 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
