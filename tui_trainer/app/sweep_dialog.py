"""Start a sweep from the app's form: a small dialog, then ``tui-trainer sweep`` as a process of its own.

The dialog asks for the parameters to search (one ``FIELD=SPEC`` a line, as
``--param`` takes them), the number of trials, the worker processes and the
metric; it proposes a search around what the form holds.  The form's config
is saved as a preset in a folder under the runs folder (``.sweeps/app/STUDY/``)
and ``tui-trainer sweep --preset`` runs on it, detached: its own session, no
terminal, everything it prints in ``sweep.log`` beside that preset, so it
goes on if the app is closed and nothing reaches the screen.  The sweep
itself checks the specs (a bad one ends it with its one-line error, which the
view then shows).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from tui_trainer.app.safe import Literal, literal
from tui_trainer.core import presets
from tui_trainer.core.config import Config
from tui_trainer.core.errors import UserError
from tui_trainer.runs.sweep import PASSWORD_ENV, default_study_name

#: The most worker processes the dialog lets one box start.
MAX_JOBS = 64


def proposed_params(cfg: Config) -> list[str]:
    """A search around the form: the learning rate a decade either way, and the hidden widths halved and doubled."""
    lr = cfg.train.learning_rate
    specs = [f"train.learning_rate=log:{lr / 10:.3g}..{min(lr * 10, 1.0):.3g}"]
    if not cfg.model.layers and cfg.model.hidden:
        options = []
        for scale in (0.5, 1.0, 2.0):
            widths = [max(1, round(w * scale)) for w in cfg.model.hidden]
            text = "[" + ",".join(str(w) for w in widths) + "]"
            if text not in options:
                options.append(text)
        if len(options) > 1:
            specs.append("model.hidden=choice:" + ",".join(options))
    return specs


@dataclass(frozen=True)
class SweepRequest:
    """What the dialog asked for, checked as far as the dialog can (the sweep checks the specs)."""

    params: tuple[str, ...]
    trials: int
    jobs: int
    metric: str
    study: str


def check_request(cfg: Config, params_text: str, trials: str, jobs: str, metric: str,
                  study: str) -> SweepRequest | str:
    """The request, or a one-line reason naming the field that is wrong.

    The specs are checked as ``tui-trainer sweep`` checks them (``runs.sweep``), against
    the form's config, so a bad one is said here rather than by a sweep that stops at once.
    """
    from tui_trainer.runs.sweep import check_against, parse_param

    params = tuple(line.strip() for line in params_text.splitlines() if line.strip())
    if not params:
        return "parameters: give at least one FIELD=SPEC line, e.g. train.learning_rate=log:0.001..0.3"
    try:
        specs = [parse_param(line, where=f"parameters line {i}") for i, line in enumerate(params, start=1)]
        check_against(cfg.to_dict(), specs, source="parameters")
    except UserError as exc:
        return str(exc)
    counts: dict[str, int] = {}
    for name, text, most in (("trials", trials, 100_000), ("jobs", jobs, MAX_JOBS)):
        try:
            counts[name] = int(text.strip())
        except ValueError:
            return f"{name}: {text.strip()!r} is not a whole number (1..{most})"
        if not 1 <= counts[name] <= most:
            return f"{name}: {counts[name]} is out of range (1..{most})"
    study = study.strip()
    if not study or any(not c.isprintable() for c in study):
        return "study: give a name (printable characters)"
    return SweepRequest(params, counts["trials"], counts["jobs"], metric, study)


@dataclass
class SweepLaunch:
    """A sweep the app started: its process, where it logs, and which study it fills."""

    study: str
    storage: str
    log: Path
    preset: Path
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        """One line for the status bar: still going, done, or why it stopped."""
        code = self.process.poll()
        if code is None:
            return f"sweep {self.study} running (pid {self.process.pid}; log {self.log})"
        if code == 0:
            return f"sweep {self.study} done (log {self.log})"
        return f"sweep {self.study} stopped, exit {code}: {self.last_line() or 'no output'} (log {self.log})"

    def last_line(self) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""


def sweep_command(request: SweepRequest, preset: Path, runs_dir: Path, storage: str | None) -> list[str]:
    """The ``tui-trainer sweep`` command line for a request (the storage only when it is not the default)."""
    command = [sys.executable, "-m", "tui_trainer", "sweep", "--preset", str(preset), "--trials", str(request.trials),
               "--jobs", str(request.jobs), "--metric", request.metric, "--study", request.study,
               "--runs-dir", str(runs_dir)]
    for spec in request.params:
        command += ["--param", spec]
    if storage is not None:
        command += ["--storage", storage]
    return command


def launch_sweep(request: SweepRequest, cfg: Config, preset_name: str | None, runs_dir: Path,
                 storage: str, default_storage: str) -> SweepLaunch:
    """Save the form as a preset and start the sweep on it, detached, its output in a log file."""
    folder = runs_dir / ".sweeps" / "app" / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.study)
    folder.mkdir(parents=True, exist_ok=True)
    label = Path(preset_name).stem if preset_name and preset_name.endswith(".toml") else (preset_name or "form")
    preset = folder / f"{re.sub(r'[^A-Za-z0-9_-]+', '-', label).strip('-') or 'form'}.toml"  # names the runs
    preset.write_text(presets.dumps(cfg), encoding="utf-8")
    log = folder / "sweep.log"
    from tui_trainer.runs.sweep import without_password

    url, password = without_password(storage)
    command = sweep_command(request, preset, runs_dir, None if storage == default_storage else url)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), "NO_COLOR": "1"}
    if password:  # from the environment, never the command line (``ps`` shows that)
        env[PASSWORD_ENV] = password
    with open(log, "ab") as out:
        # Its own session and no terminal: nothing it prints reaches the screen, and it
        # finishes the sweep even if the app is closed.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True, close_fds=True)
    return SweepLaunch(request.study, storage, log, preset, process)


class SweepDialog(ModalScreen[SweepRequest | None]):
    """Asks what to search: parameters, trials, jobs, metric, the study's name."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SweepDialog #sweep-params { height: 5; margin-bottom: 1; }
    SweepDialog .sweep-row { height: 1; }
    SweepDialog #sweep-error { margin-top: 1; }
    SweepDialog .sweep-row Label { width: 8; }
    SweepDialog .sweep-row Input { width: 10; margin: 0 2 0 0; }
    SweepDialog #sweep-metric { width: 16; }
    """

    def __init__(self, cfg: Config, preset_name: str | None, storage: str) -> None:
        super().__init__()
        self.cfg = cfg
        self.preset_name = preset_name
        self.storage = storage

    def compose(self) -> ComposeResult:
        from tui_trainer.app.sweep_reader import masked

        # The metrics ``tui-trainer sweep`` takes for this task: accuracy for classes, MAE for regression.
        other = "val_mae" if self.cfg.task == "regression" else "val_acc"
        metrics = [("val_loss", "val_loss"), (other, other)]
        with Vertical(classes="dialog dialog-wide"):
            yield Label("Sweep: search hyperparameters around the form's config", classes="dialog-title")
            yield Static("one FIELD=SPEC a line: log:a..b float:a..b int:a..b choice:x,y", classes="dialog-note")
            yield TextArea("\n".join(proposed_params(self.cfg)), id="sweep-params", soft_wrap=False,
                           show_line_numbers=False)
            with Horizontal(classes="sweep-row"):
                yield Label("trials")
                yield Input("20", compact=True, id="sweep-trials-count")
                yield Label("jobs")
                yield Input(str(min(2, os.cpu_count() or 1)), compact=True, id="sweep-jobs")
                yield Label("metric")
                yield Select(metrics, value="val_loss", allow_blank=False, compact=True, id="sweep-metric")
            with Horizontal(classes="sweep-row"):
                yield Label("study")
                yield Input(default_study_name(self.preset_name or "form"), compact=True, id="sweep-study")
            yield Literal("", id="sweep-error", classes="field-error")
            yield Literal(f"storage: {masked(self.storage)}", classes="dialog-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", id="sweep-start", variant="primary", compact=True)
                yield Button("Cancel", id="sweep-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#sweep-params", TextArea).focus()
        self.query_one("#sweep-study", Input).styles.width = "1fr"

    def _submit(self) -> None:
        got = check_request(self.cfg, self.query_one("#sweep-params", TextArea).text,
                            self.query_one("#sweep-trials-count", Input).value,
                            self.query_one("#sweep-jobs", Input).value,
                            str(self.query_one("#sweep-metric", Select).value),
                            self.query_one("#sweep-study", Input).value)
        if isinstance(got, str):
            error = self.query_one("#sweep-error", Static)
            error.update(literal(got))
            error.display = True
            return
        self.dismiss(got)

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    @on(Button.Pressed, "#sweep-start")
    def _start(self) -> None:
        self._submit()

    @on(Button.Pressed, "#sweep-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
