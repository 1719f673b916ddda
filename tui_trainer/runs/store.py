"""Where runs live and what a run folder says about its run.

Every run, from the app or headless, is one folder: by default under
``$XDG_DATA_HOME/tui-trainer/runs/`` (``platformdirs``), moved with
``TUI_TRAINER_RUNS`` or ``--runs-dir``; ``--output DIR`` puts a run exactly in
DIR.  A folder holds small readable files that other tools open:

==================  ==================================================================
``config.toml``     the resolved config (a preset: ``--preset FOLDER/config.toml``)
``history.jsonl``   the event log: one JSON object per event, append-only, whole lines
``history.csv``     one row per epoch
``state.json``      state, pid, host, progress and best epoch (rewritten atomically)
``summary.json``    the end of the run (``run_finished``), with the weights' file names
``model.*``         the last weights (``.pt`` or ``.keras``); ``best.*`` the best epoch's
``lock``            held (``flock``) by the one process writing the folder
``run.log``         what a detached run printed
==================  ==================================================================

A run whose ``state.json`` says running or paused but whose lock nobody holds
died without closing (SIGKILL, power loss, OOM): it is reported ``interrupted``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError
from tui_trainer.runs.folder import host_name, lock_held

STATE_NAME = "state.json"
#: States a run folder can be in.  The first two mean a live writer (if its lock is held).
LIVE_STATES = ("starting", "running", "paused")
END_STATES = ("finished", "stopped", "early-stopped", "diverged", "failed", "interrupted", "pruned")
#: RunFinished.reason -> state
REASON_STATE = {"completed": "finished", "stopped": "stopped", "early-stopped": "early-stopped",
                "diverged": "diverged"}
#: Every file a run writes (also what ``--overwrite`` clears and ``runs rm`` removes).
RUN_FILES = ("config.toml", "history.csv", "history.jsonl", "summary.json", "state.json", "run.log",
             "model.keras", "model.pt", "best.keras", "best.pt", "control.sock", "study.json")
#: TensorBoard's event files (``tbevents``), which carry a time and host in their names.
EVENT_FILES = "events.out.tfevents.*"
#: Files that mean "a run was here" (``--output`` refuses such a folder without ``--overwrite``).
RUN_MARKERS = ("config.toml", "history.csv", "history.jsonl", "summary.json", "state.json",
               "model.keras", "model.pt")


def runs_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds one sub-folder per run: ``--runs-dir``, ``TUI_TRAINER_RUNS``, or the data dir."""
    if override is not None and str(override) != "":
        return Path(override).expanduser()
    env = os.environ.get("TUI_TRAINER_RUNS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("tui-trainer", appauthor=False) / "runs"


def _slug(text: str) -> str:
    stem = Path(text).stem if text.endswith(".toml") else text
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")
    return slug[:40] or "run"


def create_run_folder(root: Path, name: str) -> Path:
    """A new, empty folder ``YYYYmmdd-HHMMSS-NAME`` under ``root`` (``-2``, ``-3``... if taken).

    ``mkdir`` is the atomic claim, so two runs started in the same second never
    share a folder.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"runs folder {root}: can't create it ({exc.strerror or exc})") from None
    if not root.is_dir():
        raise UserError(f"runs folder {root}: not a folder")
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
    for n in range(1, 1000):
        folder = root / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"runs folder {root}: can't create a run folder there ({exc.strerror or exc})") from None
        return folder
    raise UserError(f"runs folder {root}: too many runs named {base}")


def check_output_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse to mix a new run into a folder that holds an old one, unless told to."""
    if str(path) == "":
        raise UserError("--output: an empty path is not a folder; name one, e.g. --output runs/a")
    if path.exists() and not path.is_dir():
        raise UserError(f"--output: {path} exists and is not a folder")
    if path.is_dir() and not overwrite:
        existing = [name for name in RUN_MARKERS if (path / name).exists()]
        if existing:
            raise UserError(
                f"--output: {path} already holds a run ({', '.join(existing)}); choose another folder or add --overwrite"
            )


def now_iso() -> str:
    # Milliseconds: runs started in the same second (a playground run takes well under one) still list newest first.
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunInfo:
    """One run folder as ``runs`` and ``attach`` see it."""

    folder: Path
    state: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def started(self) -> datetime | None:
        return _parse_time(self.data.get("started"))

    @property
    def ended(self) -> datetime | None:
        return _parse_time(self.data.get("ended"))

    def duration(self, now: datetime | None = None) -> float | None:
        start = self.started
        if start is None:
            return None
        now = now or datetime.now().astimezone()
        end = now if self.live else (self.ended or _parse_time(self.data.get("updated")) or now)
        return max(0.0, (end - start).total_seconds())

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "state": self.state, "folder": str(self.folder)}
        for key in ("preset", "dataset", "backend", "device", "epochs_done", "epochs_total", "best_epoch",
                    "best_val_loss", "best_val_acc", "best_val_mae", "started", "ended", "pid", "host", "message"):
            out[key] = self.data.get(key)
        out["seconds"] = self.duration()
        return out


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()


def read_state(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(folder) / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_run(folder: Path) -> RunInfo | None:
    """What a folder says about its run, with a dead writer's run shown ``interrupted``; None if no run."""
    folder = Path(folder)
    data = read_state(folder)
    if not data:
        summary = _read_json(folder / "summary.json")
        if not summary and not (folder / "history.jsonl").exists():
            return None
        # A run folder from before the state file (or one whose state could not be written).
        data = {"epochs_done": summary.get("epochs_run")}
        state = REASON_STATE.get(summary.get("reason"), "interrupted") if summary else "interrupted"
        return RunInfo(folder, state, data)
    state = str(data.get("state", "interrupted"))
    if state in LIVE_STATES and data.get("host") in (None, host_name()):
        held = lock_held(folder)
        if state == "starting":
            # A detached run between its launch and its lock: alive while its process is.
            if not held and not pid_alive(data.get("pid")):
                state = "interrupted"
        elif not held:
            state = "interrupted"
    return RunInfo(folder, state, data)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def list_runs(root: Path) -> list[RunInfo]:
    """Every run under ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if child.is_dir() and not child.name.startswith("."):
            info = load_run(child)
            if info is not None:
                runs.append(info)
    epoch = datetime.fromtimestamp(0).astimezone()
    runs.sort(key=lambda r: (r.started or epoch, r.id), reverse=True)
    return runs


def find_run(root: Path, ref: str) -> RunInfo:
    """A run by id, unique id prefix, or folder path; ``UserError`` naming what exists otherwise."""
    path = Path(ref).expanduser()
    if ("/" in ref or ref.startswith(".")) and path.is_dir():
        info = load_run(path)
        if info is None:
            raise UserError(f"run {ref}: {path} holds no run (no state.json or history.jsonl)")
        return info
    runs = list_runs(root)
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"run {ref!r} is ambiguous: {', '.join(r.id for r in matches[:5])}"
                        f"{' ...' if len(matches) > 5 else ''}")
    raise UserError(f"run {ref!r}: no such run in {root} (see tui-trainer runs)")


def remove_run(info: RunInfo, *, force: bool = False) -> None:
    """Delete a run folder; a live run only with ``force`` (and it is asked to stop... by its owner)."""
    if info.live and not force:
        raise UserError(f"run {info.id} is {info.state} (pid {info.get('pid')}); stop it first, or use --force")
    shutil.rmtree(info.folder)


def clear_run_files(folder: Path) -> None:
    """Remove an earlier run's files (``--overwrite``), so no ``model.keras`` is left beside a new ``model.pt``."""
    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (Path(folder) / name).unlink()
    for path in Path(folder).glob(EVENT_FILES):
        with contextlib.suppress(OSError):
            path.unlink()
