"""Where a headless run is recorded, and how ``--detach`` leaves it running in the background.

Every headless run writes a run folder (``runstore``): ``--output DIR`` names
it, otherwise a new folder under the runs folder.  ``--detach`` prepares that
folder (config and a ``starting`` state), starts ``tui-trainer --no-ui --adopt
FOLDER`` in a session of its own (``setsid``: no terminal, so no SIGHUP when
the terminal or SSH connection goes) with its output in ``FOLDER/run.log``,
prints the run id and folder, and returns at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError
from tui_trainer.runs.export import RunExporter
from tui_trainer.runs.folder import (
    atomic_write_json,
    atomic_write_text,
    describe_holder,
    host_name,
    lock_held,
    read_holder,
)
from tui_trainer.runs.store import (
    clear_run_files,
    create_run_folder,
    now_iso,
    read_state,
    runs_root,
)

LOG_NAME = "run.log"
#: Seconds between the maps a headless run sends to an attached viewer.
VIEWER_MAP_INTERVAL = 0.5


def preset_label(args: argparse.Namespace) -> str:
    preset = args.preset or "circle"
    return Path(preset).stem if preset.endswith(".toml") else preset


def open_run_folder(config: Any, args: argparse.Namespace, *, session_getter: Callable[[], Any],
                    on_fault: Callable[[OSError], None]) -> RunExporter:
    """The exporter for this run's folder, its lock taken (``UserError`` if another process writes it)."""
    if args.adopt is not None:
        exporter = RunExporter(args.adopt, session_getter, on_fault=on_fault, created=True)
        exporter.open(adopt=True)
        return exporter
    meta = {"preset": preset_label(args), "epochs_total": config.train.epochs, "dataset": config.data.dataset,
            "backend": config.train.backend}
    if args.output is not None:
        exporter = RunExporter(args.output, session_getter, meta=meta, on_fault=on_fault)
        exporter.open(overwrite=args.overwrite)
        return exporter
    folder = create_run_folder(runs_root(args.runs_dir), meta["preset"])
    exporter = RunExporter(folder, session_getter, meta=meta, on_fault=on_fault, created=True)
    exporter.open()
    if sys.stderr.isatty():
        sys.stderr.write(f"tui-trainer: recording run {folder.name} in {folder}\n")
    return exporter


def _absolute_data_path(config: Any) -> Any:
    """The background run starts elsewhere in time: pin a relative data file to where it is now."""
    path = config.data.path
    if path and not Path(path).expanduser().is_absolute():
        return config.with_updates({"data.path": str(Path(path).expanduser().resolve())})
    return config


def detach(config: Any, args: argparse.Namespace) -> int:
    """Start the run in the background and print its id and folder; the exit code is the launch's."""
    from tui_trainer.core.presets import dumps

    if args.min_val_acc is not None or args.max_val_loss is not None:
        raise UserError("--min-val-acc/--max-val-loss: a --detach run has no one to give its exit code to; "
                        "read the result with tui-trainer runs (or leave out --detach)")
    config = _absolute_data_path(config)
    created = False
    if args.output is not None:
        folder = Path(args.output)
        if lock_held(folder):
            raise UserError(f"run folder {folder} is in use by {describe_holder(read_holder(folder))}; "
                            "one run writes a folder at a time")
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--output: can't create {folder} ({exc.strerror or exc})") from None
        if args.overwrite:
            clear_run_files(folder)
    else:
        folder = create_run_folder(runs_root(args.runs_dir), preset_label(args))
        created = True
    folder = folder.resolve()
    state = {"id": folder.name, "state": "starting", "preset": preset_label(args), "dataset": config.data.dataset,
             "backend": config.train.backend, "epochs_total": config.train.epochs, "epochs_done": 0,
             "started": now_iso(), "detached": True}
    try:
        atomic_write_text(folder / "config.toml", dumps(config))
        log = open(folder / LOG_NAME, "ab")  # noqa: SIM115 - handed to the child
    except OSError as exc:
        raise UserError(f"run folder {folder}: can't write it ({exc.strerror or exc})") from None
    command = [sys.executable, "-m", "tui_trainer", "--no-ui", "--adopt", str(folder)]
    if args.json:
        command.append("--json")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    try:
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=log, env=env,
                                 cwd=os.getcwd(), start_new_session=True, close_fds=True)
    except OSError as exc:
        if created:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        raise UserError(f"--detach: can't start the background run ({exc.strerror or exc})") from None
    finally:
        log.close()
    try:
        atomic_write_json(folder / "state.json", {**state, "pid": child.pid, "host": host_name()})
    finally:
        # The child waits for this before it takes the folder, so its state is never overwritten by ours.
        child.stdin.close()
    if args.json:
        print(json.dumps({"run": folder.name, "folder": str(folder), "pid": child.pid}))
    else:
        print(f"run {folder.name}")
        print(f"folder {folder}")
        print(f"pid {child.pid}; log in {folder / LOG_NAME}; watch it with: tui-trainer attach {folder.name}")
    sys.stdout.flush()
    return 0


def adopted_config(args: argparse.Namespace) -> Any:
    """The config a ``--detach`` launcher prepared, once the launcher says go (closes our stdin)."""
    from tui_trainer.core.presets import load_preset

    folder = Path(args.adopt)
    if not sys.stdin.isatty():
        try:
            sys.stdin.read()
        except (OSError, ValueError):
            pass
    if not read_state(folder):
        raise UserError(f"--adopt: {folder} was not prepared by --detach (no state.json)")
    args.preset = str(folder / "config.toml")
    return load_preset(args.preset)


def store_exporter(preset: str | None, config: Any, session_getter: Callable[[], Any],
                   runs_dir: str | None = None) -> RunExporter:
    """A recorder for a run started in the app: a new folder in the runs folder, its lock taken."""
    label = Path(preset).stem if preset and preset.endswith(".toml") else (preset or config.data.dataset)
    folder = create_run_folder(runs_root(runs_dir), label)
    meta = {"preset": label, "epochs_total": config.train.epochs, "dataset": config.data.dataset,
            "backend": config.train.backend}
    exporter = RunExporter(folder, session_getter, meta=meta, created=True)
    exporter.open()
    return exporter


def serve_run(exporter: RunExporter, control: Any, session_getter: Callable[[], Any]) -> Any:
    """The run's control socket (attach watches and steers it); None if it can't be opened."""
    from tui_trainer.runs.server import RunServer

    try:
        return RunServer(exporter.dir, control, session_getter, on_pause=exporter.set_paused,
                         map_interval=VIEWER_MAP_INTERVAL).start()
    except OSError:
        return None  # the run goes on; it just can't be steered from elsewhere
