"""Studies: one preset, several named variants, each trained as a run of its own.

A preset may list ``[[variants]]`` tables, each a ``name`` and dotted
overrides of the preset's config (``model.hidden = [512, 512]``), checked with
the same rules and messages as ``--set``.  Running the preset trains every
variant, one after another in this process or ``jobs`` at a time in separate
processes, each into its own run folder; the folders share a study id
(written to ``study.json`` in each), which ``compare`` and TensorBoard use to
put them side by side.  ``--set`` options apply to every variant, on top of the
variant's own overrides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_trainer.core import config as cfgmod
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError, UserError
from tui_trainer.core.events import Event, RunFailed, RunFinished
from tui_trainer.core.presets import load_preset_data, valid_name
from tui_trainer.runs.comparison import STUDY_FILE, flatten


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict[str, Any]
    config: Config


@dataclass(frozen=True)
class Study:
    preset: str
    source: Path
    variants: tuple[Variant, ...]


def parse_variants(raw: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    """``[[variants]]`` tables → (name, {dotted key: value}), keys checked as ``--set`` checks them."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("variants", "must be a list of tables: [[variants]] with name = \"...\" and overrides",
                          source=source)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, table in enumerate(raw):
        where = f"variants[{i}]"
        if not isinstance(table, Mapping):
            raise ConfigError(where, f"{table!r} is not a table; write [[variants]] with name = \"...\"", source=source)
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name", "is required: a short name such as \"bigger\"", source=source)
        try:
            name = valid_name(name)
        except ConfigError as exc:
            raise ConfigError(f"{where}.name", exc.reason, source=source) from None
        if name in (n for n, _ in out):
            raise ConfigError(f"{where}.name", f"{name!r} names two variants; give each its own name", source=source)
        overrides = flatten({k: v for k, v in table.items() if k != "name"})
        for key in overrides:
            try:
                cfgmod.check_set_key(key, where=key)
            except ConfigError as exc:
                raise ConfigError(f"{where} ({name}): {exc.field}", exc.reason, source=source) from None
        out.append((name, overrides))
    return out


def load_study(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> Study | None:
    """The preset's study with every variant's config validated up front; None if it has no variants."""
    raw, path = load_preset_data(name_or_path)
    if "variants" not in raw:
        return None
    specs = parse_variants(raw.pop("variants"), str(path))
    try:
        cfgmod.from_dict(raw)
    except ConfigError as exc:
        raise exc.with_source(str(path)) from None
    variants = []
    for name, variant_overrides in specs:
        merged = cfgmod.merge(raw, cfgmod.dotted_to_nested(variant_overrides))
        if overrides:
            merged = cfgmod.merge(merged, cfgmod.dotted_to_nested(dict(overrides)))
        try:
            config = cfgmod.from_dict(merged)
        except ConfigError as exc:
            raise exc.with_source(f"{path}, variant {name!r}" + (" with the command-line options" if overrides else "")) from None
        variants.append(Variant(name, variant_overrides, config))
    return Study(preset=name_or_path, source=path, variants=tuple(variants))


def preset_variants(name_or_path: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``[[variants]]`` of a preset (name, dotted overrides); [] when it has none."""
    raw, path = load_preset_data(name_or_path)
    return parse_variants(raw["variants"], str(path)) if "variants" in raw else []


def study_preset_text(base: Config, variants: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A preset (TOML) of ``base`` with these variants: how the app hands its form's config to a study."""
    import tomli_w

    data: dict[str, Any] = base.to_dict()
    data["variants"] = [{"name": name, **cfgmod.dotted_to_nested(dict(overrides))} for name, overrides in variants]
    return tomli_w.dumps(data)


def study_id(preset: str) -> str:
    stem = Path(preset).stem if preset.endswith(".toml") else preset
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")[:40] or "study"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


class StudyFolders:
    """Creates each variant's run folder when it starts, and removes it again if the run never started.

    ``ROOT/NAME`` for ``--output ROOT``, else a new folder in the run store
    (``YYYYmmdd-HHMMSS-PRESET-NAME``); each holds a ``study.json`` naming the
    study and the variant.  A variant refused before training (bad data, a
    missing framework) leaves nothing behind, so a bad study writes nothing.
    """

    def __init__(self, root: Path, sid: str, study: Study, *, exact: bool, overwrite: bool = False) -> None:
        self.root, self.sid, self.study, self.exact, self.overwrite = Path(root), sid, study, exact, overwrite
        self._made_root = not self.root.exists()

    @property
    def label(self) -> str:
        return Path(self.study.preset).stem if self.study.preset.endswith(".toml") else self.study.preset

    def create(self, index: int) -> Path:
        from tui_trainer.runs.store import clear_run_files, create_run_folder

        variant = self.study.variants[index]
        if self.exact:
            folder = self.root / variant.name
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"--output: can't create {folder} ({exc.strerror or exc})") from None
            if self.overwrite:
                clear_run_files(folder)
        else:
            folder = create_run_folder(self.root, f"{self.label}-{variant.name}")
        info = {"study": self.sid, "variant": variant.name, "index": index, "preset": self.study.preset,
                "overrides": variant.overrides, "variants": [v.name for v in self.study.variants]}
        try:
            (folder / STUDY_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"run folder {folder}: can't write it ({exc.strerror or exc})") from None
        return folder

    def meta(self, index: int) -> dict[str, Any]:
        """What the variant's ``state.json`` says besides the run itself."""
        variant = self.study.variants[index]
        return {"preset": self.label, "study": self.sid, "variant": variant.name,
                "epochs_total": variant.config.train.epochs, "dataset": variant.config.data.dataset,
                "backend": variant.config.train.backend}

    def discard(self, folder: Path) -> None:
        """Remove a folder whose run never started (it holds at most study.json and the lock)."""
        if folder.is_dir() and {p.name for p in folder.iterdir()} <= {STUDY_FILE, "lock"}:
            for name in (STUDY_FILE, "lock"):
                (folder / name).unlink(missing_ok=True)
            folder.rmdir()
        if self._made_root and self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()


@dataclass
class VariantResult:
    name: str
    folder: Path
    code: int  # the exit code its own run would have had (0, 3 diverged, 4 failed, 2 bad input, 130)
    message: str = ""


@dataclass
class StudyResult:
    study: str
    results: list[VariantResult] = field(default_factory=list)

    @property
    def code(self) -> int:
        codes = [r.code for r in self.results]
        for code in (130, 2, 4, 3):
            if code in codes:
                return code
        return 0


def _code(finished: RunFinished | None, failed: RunFailed | None, error: BaseException | None) -> int:
    if failed is not None:
        return 2 if isinstance(error, UserError) else 4
    if finished is None:
        return 4
    return {"completed": 0, "early-stopped": 0, "diverged": 3, "stopped": 130}.get(finished.reason, 0)


#: A consumer factory: (index, folder, session getter, control) -> the variant's event consumers;
#: those with a ``close`` method are closed when the variant's run has ended.
ConsumerFactory = Callable[[int, Path, Callable[[], Any], Any], list[Callable[[Event], None]]]


def run_sequential(study: Study, folders: StudyFolders, sid: str, consumers: ConsumerFactory,
                   stop: threading.Event) -> StudyResult:
    """Every variant in this process, one after another (a framework is imported once).

    Bad input (a ``UserError``: the data, a missing framework) stops the study there.
    """
    from tui_trainer.core.control import RunControl
    from tui_trainer.engine.session import Session

    result = StudyResult(sid)
    for index, variant in enumerate(study.variants):
        if stop.is_set():
            break
        folder = folders.create(index)
        session = Session(variant.config)
        control = RunControl()
        watcher = threading.Thread(target=lambda c=control: (stop.wait(), c.stop()), daemon=True)
        watcher.start()
        try:
            parts = consumers(index, folder, lambda s=session: s, control)
        except UserError as exc:
            folders.discard(folder)
            result.results.append(VariantResult(variant.name, folder, 2, str(exc)))
            break

        def emit(event: Event, parts: list[Callable[[Event], None]] = parts) -> None:
            for part in parts:
                part(event)

        run = session.run(emit, control)
        for part in parts:
            close = getattr(part, "close", None)
            if close is not None:
                close()
        message = run.failed.message if run.failed is not None else ""
        code = _code(run.finished, run.failed, run.error)
        result.results.append(VariantResult(variant.name, folder, code, message))
        if not session.history and run.failed is not None:
            folders.discard(folder)
        if code in (2, 130):
            stop.set()
    return result


def run_parallel(study: Study, folders: StudyFolders, sid: str, jobs: int,
                 on_line: Callable[[Variant, dict[str, Any]], None], stop: threading.Event) -> StudyResult:
    """Variants in ``jobs`` separate ``tui-trainer --no-ui --json`` processes, their events passed to ``on_line``."""
    from tui_trainer.core.presets import dumps

    result = StudyResult(sid)
    slots = threading.Semaphore(max(1, jobs))
    results: dict[str, VariantResult] = {}
    procs: list[subprocess.Popen[str]] = []
    lock = threading.Lock()
    env = {**os.environ, "TUI_TRAINER_THREADS": os.environ.get("TUI_TRAINER_THREADS", "1")}

    with tempfile.TemporaryDirectory(prefix="tui-trainer-study-") as tmp:
        def one(index: int, variant: Variant) -> None:
            with slots:
                if stop.is_set():
                    return
                with lock:
                    folder = folders.create(index)
                preset = Path(tmp) / f"{variant.name}.toml"
                preset.write_text(dumps(variant.config), encoding="utf-8")
                cmd = [sys.executable, "-m", "tui_trainer", "--preset", str(preset), "--no-ui", "--json",
                       "--output", str(folder)]
                # Its own session: a Ctrl-C reaches it once, forwarded below, not twice (which quits at once).
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                        start_new_session=True)
                with lock:
                    procs.append(proc)
                message, started = "", False
                assert proc.stdout is not None and proc.stderr is not None
                for line in proc.stdout:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        started = started or event.get("kind") == "run_started"
                        if event.get("kind") == "run_failed":
                            message = str(event.get("message", ""))
                        with lock:
                            on_line(variant, event)
                err = proc.stderr.read()
                code = proc.wait()
                if code and not message:
                    message = (err.strip().splitlines() or [f"exit code {code}"])[-1]
                results[variant.name] = VariantResult(variant.name, folder, code, message)
                if code in (2, 130):
                    stop.set()
                if not started and code:
                    with lock:
                        folders.discard(folder)

        threads = [threading.Thread(target=one, args=(i, v), daemon=True) for i, v in enumerate(study.variants)]
        for t in threads:
            t.start()
        signalled = False
        while any(t.is_alive() for t in threads):
            if stop.wait(0.2) and not signalled:
                signalled = True
                with lock:
                    for proc in procs:
                        if proc.poll() is None:
                            proc.send_signal(2)  # SIGINT: the child stops after its batch and keeps what ran
        for t in threads:
            t.join()
    result.results = [results[v.name] for v in study.variants if v.name in results]
    return result
