"""Headless studies: train every variant of a preset, then print the comparison.

Each variant's events are printed as the usual lines, prefixed with its name
(or, with ``--json``, as JSON objects carrying ``study`` and ``variant``); at
the end come the charts and the table of ``tui-trainer compare`` (with
``--json``: one ``comparison`` object holding the table).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from argparse import Namespace
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError
from tui_trainer.core.events import EpochEnded, Event, RunFailed, RunFinished, RunStarted, to_json_dict
from tui_trainer.core.hooks import Face
from tui_trainer.core.textsafe import printable
from tui_trainer.faces.arguments import STOP_SIGNALS
from tui_trainer.runs.comparison import compare_rows, read_run
from tui_trainer.runs.study import Study, StudyFolders, Variant, run_parallel, run_sequential, study_id


class StudyPrinter:
    """Whole lines per event, each starting with the variant's name."""

    def __init__(self, study: Study, json_mode: bool, sid: str) -> None:
        self.width = max(len(v.name) for v in study.variants)
        self.json_mode = json_mode
        self.sid = sid
        self.lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(printable(text) + "\n")
            sys.stdout.flush()

    def event(self, variant: Variant, data: dict[str, Any]) -> None:
        """An event as JSON-ready data (from this process or a child's JSON line)."""
        if self.json_mode:
            self._write(json.dumps({**data, "study": self.sid, "variant": variant.name}, allow_nan=False))
            return
        head = f"{variant.name:<{self.width}}"
        kind = data.get("kind")
        if kind == "run_started":
            summary = data.get("summary") or {}
            self._write(f"{head} {data['config']['data']['dataset']} ({data['task']}), {data['n_train']} train / "
                        f"{data['n_val']} validation, {summary.get('params', 0):,} params, "
                        f"{summary.get('backend')} on {summary.get('device')}")
        elif kind == "epoch_ended":
            fields = {k: data.get(k) for k in ("epoch", "epochs", "loss", "acc", "val_loss", "val_acc", "seconds",
                                               "mae", "val_mae")}
            self._write(f"{head} {EpochEnded(**fields).line()}")
        elif kind == "run_finished":
            best = data.get("best_val_loss")
            best_text = f"; best val_loss {best:.5f} (epoch {data.get('best_epoch')})" if best is not None else ""
            self._write(f"{head} finished: {data.get('reason')} after {data.get('epochs_run')} epochs in "
                        f"{data.get('seconds', 0):.2f} s{best_text}")
        elif kind == "run_failed":
            self._write(f"{head} failed: {data.get('message')}")

    def consumer(self, variant: Variant) -> Any:
        return _VariantLines(self, variant)


class _VariantLines(Face):
    """A variant's start, epochs and end, as the study's lines (maps and progress are left to its run folder)."""

    def __init__(self, printer: StudyPrinter, variant: Variant) -> None:
        self.printer = printer
        self.variant = variant

    def _print(self, event: Event) -> None:
        self.printer.event(self.variant, to_json_dict(event))

    def on_run_started(self, event: RunStarted) -> None:
        self._print(event)

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self._print(event)

    def on_run_end(self, event: RunFinished | RunFailed) -> None:
        self._print(event)


def run_study_headless(study: Study, args: Namespace) -> int:
    from tui_trainer.faces.compare import print_comparison
    from tui_trainer.runs.export import RunExporter, check_output_dir
    from tui_trainer.runs.store import runs_root

    jobs = args.jobs or 1
    sid = getattr(args, "study_id", None) or study_id(study.preset)
    exact = args.output is not None
    root = Path(args.output) if exact else runs_root(getattr(args, "runs_dir", None))
    if exact:
        for variant in study.variants:
            check_output_dir(root / variant.name, overwrite=args.overwrite)
    folders = StudyFolders(root, sid, study, exact=exact, overwrite=args.overwrite)
    printer = StudyPrinter(study, args.json, sid)
    if not args.json:
        names = ", ".join(v.name for v in study.variants)
        sys.stdout.write(printable(f"study {sid}: {len(study.variants)} variants ({names}), "
                                   f"{'one at a time' if jobs == 1 else f'{jobs} at a time'}, runs in {root}") + "\n")
        sys.stdout.flush()
    stop = threading.Event()

    stopped_by: list[int] = []

    def on_sigint(signum: int, frame: Any) -> None:
        # SIGTERM and SIGHUP stop a study as Ctrl-C does (exit 128 + the signal, as for one run).
        what = "interrupted" if signum == signal.SIGINT else f"got {signal.Signals(signum).name}"
        sys.stderr.write(f"tui-trainer: {what}; stopping the study after the current batch\n")
        sys.stderr.flush()
        stopped_by.append(signum)
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_sigint)
    try:
        if jobs == 1:
            def consumers(index: int, folder: Path, session_getter: Any, control: Any) -> list[Any]:
                exporter = RunExporter(folder, session_getter, meta=folders.meta(index), created=not exact,
                                       on_fault=lambda exc: control.stop())
                exporter.open()
                return [printer.consumer(study.variants[index]), exporter]

            result = run_sequential(study, folders, sid, consumers, stop)
        else:
            result = run_parallel(study, folders, sid, jobs, printer.event, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    runs = []
    for item in result.results:
        try:
            runs.append(read_run(item.folder))
        except UserError:
            pass  # a variant that never started has no history to compare
    for item in result.results:
        if item.code and item.message:
            sys.stderr.write(printable(f"tui-trainer: error: variant {item.name}: {item.message}") + "\n")
    if runs:
        if args.json:
            sys.stdout.write(json.dumps({"kind": "comparison", "study": sid, "rows": compare_rows(runs)},
                                        allow_nan=False) + "\n")
        else:
            sys.stdout.write(f"\ncomparison of study {sid} (tui-trainer compare {sid}):\n")
            print_comparison(runs)
    sys.stdout.flush()
    return 128 + stopped_by[0] if stopped_by else result.code
