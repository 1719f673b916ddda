"""The ``tui-trainer`` command: parses options, builds the config, picks a face.

Imports stay light at module level so ``--help`` answers at once; the engine,
the frameworks and Textual are imported only once they are needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui_trainer import __version__
from tui_trainer.core.textsafe import printable
from tui_trainer.faces import arguments
from tui_trainer.faces.arguments import STOP_SIGNALS, UsageParser
from tui_trainer.faces.exit_codes import (  # noqa: F401 - the codes stay importable from here
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_THRESHOLD,
    EXIT_USAGE,
    exit_status,
)

#: Seconds between boundary maps of a headless run (the event log thins them further).
HEADLESS_GRID_INTERVAL = 30.0

EPILOG = """\
examples:
  tui-trainer                                   open the app with the circle preset
  tui-trainer --preset spiral --no-ui           train headless, one line per epoch
  tui-trainer --preset circle --no-ui --backend torch --set model.hidden=[8,8]
  tui-trainer --preset my.toml --no-ui --json --output runs/a
  tui-trainer --preset spiral --detach          train in the background, print the run id
  tui-trainer runs                              list recorded runs (runs rm RUN, runs prune)
  tui-trainer attach [RUN]                      open the app on a run (default: the newest going)
  tui-trainer sweep --param train.learning_rate=log:0.001..0.3 --trials 20 --jobs 2
                                                search hyperparameters with Optuna (sweep show STUDY)

exit codes:
  0 success, 1 --min-val-acc/--max-val-loss missed, 2 bad input,
  3 diverged (loss became NaN/inf), 4 training failed,
  130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM), 129 hung up (SIGHUP):
  a signal stops the run after the current batch and keeps its history, weights and summary
"""


#: Options that set one config field each: ``--epochs 5`` is ``--set train.epochs=5``.
SHORTHANDS = {"backend": "train.backend", "epochs": "train.epochs", "seed": "data.seed", "device": "train.device"}


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="tui-trainer",
        description="Build, train and watch small neural networks in the terminal (TensorFlow or PyTorch).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", metavar="NAME|PATH", default=None, type=arguments.preset_name,
                   help="built-in or user preset name, or a path to a .toml file (default: circle)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a config field, e.g. --set train.epochs=50 --set model.hidden=[8,8] (repeatable)")
    from tui_trainer.core.config import FIELDS

    for flag, key in SHORTHANDS.items():  # choices, type and help from the field's description
        f = FIELDS[key]
        kind: dict[str, Any] = {"choices": f.choices} if f.choices else {"type": int, "metavar": "N"}
        p.add_argument(f"--{flag}", help=f"{f.help} (sets {key})", **kind)
    p.add_argument("--no-ui", action="store_true", help="train headless: print one line per epoch, then a summary")
    p.add_argument("--json", action="store_true", help="with --no-ui: print one JSON object per event instead")
    p.add_argument("--show-network", action="store_true",
                   help="with --no-ui: after training print every neuron's map (2-D data) or the first "
                        "layer's weights as images; with --json, emit a network_updated event with the grids")
    p.add_argument("--output", metavar="DIR", type=arguments.output_location,
                   help="record the run in DIR (config.toml, history.jsonl/.csv, state.json, summary.json, weights) "
                        "instead of a new folder in the runs folder")
    p.add_argument("--overwrite", action="store_true", help="allow --output into a folder that holds an earlier run")
    p.add_argument("--runs-dir", metavar="DIR", default=None,
                   help="where runs are stored (default: $TUI_TRAINER_RUNS or ~/.local/share/tui-trainer/runs)")
    p.add_argument("--detach", action="store_true",
                   help="train headless in the background: print the run id and folder and return at once")
    p.add_argument("--adopt", metavar="DIR", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--jobs", type=int, metavar="N", default=None,
                   help="with --no-ui and a preset with [[variants]]: train N variants at a time, in separate processes")
    p.add_argument("--study-id", default=None, help=argparse.SUPPRESS)  # the app names the study it starts
    p.add_argument("--min-val-acc", type=arguments.accuracy_target, metavar="X",
                   help="exit 1 if the final val_acc is below X (0..1)")
    p.add_argument("--max-val-loss", type=arguments.loss_target, metavar="X",
                   help="exit 1 if the final val_loss is above X (a finite number >= 0)")
    p.add_argument("--list-presets", action="store_true",
                   help="list presets (name, source, description) and exit; with --json, one JSON object per line")
    p.add_argument("--show-config", action="store_true", help="print the resolved config as TOML and exit")
    p.add_argument("--verbose", action="store_true",
                   help="let TensorFlow/PyTorch print their own log lines (hidden by default)")
    p.add_argument("--version", action="version", version=f"tui-trainer {__version__}")
    return p


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"tui-trainer: error: {printable(message)}\n")
    sys.stderr.flush()
    return code


def _note(message: str) -> None:
    """One line of ours on stderr, control characters stripped; a closed stderr is not an error."""
    line = f"tui-trainer: {printable(message)}\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except RuntimeError:  # a signal landed while another line was being written: no reentry
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.write(sys.stderr.fileno(), line.encode("utf-8", "replace"))
    except (OSError, ValueError):
        pass


def resolve_config(args: argparse.Namespace):
    """Preset, then ``--set`` overrides, then the dedicated flags (most specific wins)."""
    from tui_trainer.core.presets import load_preset

    return load_preset(args.preset or "circle", command_line_overrides(args))


def command_line_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from tui_trainer.core import config as cfgmod

    overrides: dict[str, Any] = {}
    for item in args.overrides:
        key, value = cfgmod.parse_set(item)
        overrides[key] = value
    for flag, key in SHORTHANDS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    return overrides


def list_presets(as_json: bool = False) -> int:
    """Every preset, a broken user file included (with the reason), so one bad file never hides the rest."""
    import json

    from tui_trainer.core.presets import list_presets as _list

    presets = _list()
    if as_json:
        for p in presets:
            sys.stdout.write(json.dumps({"name": p.name, "source": p.source, "description": p.description,
                                         "path": str(p.path), "error": p.error}) + "\n")
        sys.stdout.flush()
        return EXIT_OK
    names = [printable(p.name) for p in presets]
    width = max((len(n) for n in names), default=4)
    for name, p in zip(names, presets, strict=True):
        about = f"broken: {p.error}" if p.error else p.description
        sys.stdout.write(f"{name:<{width}}  {p.source:<8}  {printable(about)}\n")
    sys.stdout.flush()
    return EXIT_OK


def silence_stdout() -> None:
    """After a closed pipe (``| head -1``): send the rest of stdout to /dev/null.

    Without this Python's final flush of sys.stdout fails again at exit and
    prints "Exception ignored ... BrokenPipeError".
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _open_attached(config: Any, preset_name: str | None, folder: Path, runs_dir: str | None) -> None:
    """``tui-trainer attach``: the app, opened on a run folder that ``runs_cli`` found."""
    from tui_trainer.app import create_app

    create_app(config, preset_name=preset_name, attach=folder, runs_dir=runs_dir).run()


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
    except BrokenPipeError:  # stdout closed by the reader (| head): stop writing, quietly
        silence_stdout()
        return EXIT_OK
    if argv is None and _FINISHED_RUNS and _FRAMEWORKS.intersection(sys.modules):
        _leave_now(code)  # the program itself (not a caller in this process), after a training run
    return code


#: Headless runs finished in this process, everything written and closed (see ``_leave_now``).
_FINISHED_RUNS: list[int] = []
_FRAMEWORKS = frozenset({"tensorflow", "torch"})


def _leave_now(code: int) -> None:
    """End the process without Python's teardown of the framework.

    A headless run has printed, written and closed everything (its run folder, its
    socket, its TensorBoard file) when ``run_headless`` returns.  What is left is
    unloading TensorFlow's modules and thread pools (~0.7 s, as long after a bare
    ``import tensorflow``) and whatever the framework prints while it does: a user
    would wait for the one and must not see the other.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "compare":
        from tui_trainer.faces.compare import main as compare_main

        return compare_main(argv[1:])
    if argv and argv[0] == "sweep":
        from tui_trainer.faces import sweep_cli

        return sweep_cli.main(argv[1:])
    if argv and argv[0] in ("runs", "attach"):
        from tui_trainer.faces import runs_cli

        if argv[0] == "runs":
            return runs_cli.main(argv)
        return runs_cli.attach_main(argv, _open_attached)
    args = build_parser().parse_args(argv)
    if args.detach:
        args.no_ui = True
    from tui_trainer.core.errors import UserError

    if args.list_presets:
        return list_presets(as_json=args.json)
    if args.json and not args.no_ui:
        return _fail("--json needs --no-ui (the app draws to the terminal itself)")
    if args.show_network and not args.no_ui:
        return _fail("--show-network needs --no-ui (the app has a Network tab)")
    if args.jobs is not None and (args.jobs < 1 or not args.no_ui):
        return _fail("--jobs: give a number >= 1, with --no-ui and a preset that has [[variants]]")
    try:
        if args.adopt is not None:
            from tui_trainer.runs.launch import adopted_config

            config = adopted_config(args)
        else:
            config = resolve_config(args)
        if args.no_ui and not args.show_config and args.adopt is None:
            from tui_trainer.runs.study import load_study

            study = load_study(args.preset or "circle", command_line_overrides(args))
            if study is not None:
                if args.min_val_acc is not None or args.max_val_loss is not None or args.show_network:
                    raise UserError("--min-val-acc, --max-val-loss and --show-network apply to one run, "
                                    "not to a preset with [[variants]]")
                if args.detach:
                    raise UserError("--detach: a preset with [[variants]] runs in the foreground (try tmux)")
                from tui_trainer.faces.study_cli import run_study_headless

                return run_study_headless(study, args)
        if args.show_config:
            from tui_trainer.core.presets import dumps

            sys.stdout.write(dumps(config))
            return EXIT_OK
        if args.output is not None:
            from tui_trainer.runs.export import check_output_dir

            check_output_dir(args.output, overwrite=args.overwrite)
        if (args.min_val_acc is not None) and config.task == "regression":
            raise UserError(f"--min-val-acc: {config.data.dataset} is a regression dataset with no accuracy; use --max-val-loss")
        if args.detach:
            from tui_trainer.runs.launch import detach

            return detach(config, args)
    except UserError as exc:
        return _fail(str(exc))
    if not args.no_ui:
        if args.output is not None or args.min_val_acc is not None or args.max_val_loss is not None:
            return _fail("--output, --min-val-acc and --max-val-loss need --no-ui")
        from tui_trainer.faces import quiet

        quiet.prepare_environment(args.verbose)
        from tui_trainer.app import create_app

        preset_name = args.preset or "circle"
        with quiet.native_stderr_diverted(not args.verbose):
            _run_app(create_app(config, preset_name=preset_name))
        return EXIT_OK
    return run_headless(config, args)


def _guarded(consumer: Callable[[Any], None]) -> Callable[[Any], None]:
    """A stdout printer that survives its reader going away.

    A closed pipe (``| head -1``) or a hung-up terminal stops the printing, not
    the run: the remaining consumers (the ``--output`` record) still get every event.
    """
    closed = False

    def call(event: Any) -> None:
        nonlocal closed
        if closed:
            return
        try:
            consumer(event)
        except OSError:  # EPIPE, or EIO once the terminal is gone
            closed = True
            silence_stdout()

    return call


def _run_app(app) -> None:
    """Run the app, and leave at once when it is closed while background work is still going.

    Framework and data imports can't be interrupted; Python would wait for them
    (seconds for TensorFlow) before the process ends, and asyncio would first
    join its worker threads.  So the app runs on a loop whose thread pool we
    own: once the app has returned (the terminal is restored and a run, if any,
    has stopped), threads still busy are simply abandoned with ``os._exit``.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from tui_trainer.app.app import IMPORT_THREAD_PREFIX

    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(thread_name_prefix="tui-trainer-worker")
    loop.set_default_executor(pool)
    try:
        app.run(loop=loop)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        loop.close()
    deadline = time.monotonic() + 0.05  # idle pool threads leave within milliseconds
    while True:
        alive = [t for t in threading.enumerate() if t.is_alive() and t is not threading.main_thread()]
        importing = any(t.name.startswith(IMPORT_THREAD_PREFIX) for t in alive)
        if not importing and not any(not t.daemon for t in alive):
            return
        if importing or time.monotonic() > deadline:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(EXIT_OK)
        time.sleep(0.01)


def run_headless(config, args: argparse.Namespace) -> int:
    from tui_trainer.faces import quiet

    quiet.prepare_environment(args.verbose)
    with quiet.native_stderr_diverted(not args.verbose) as diverted:
        code = _run_headless(config, args)
    if code == EXIT_FAILED and diverted.lines:
        sys.stderr.write(f"tui-trainer: the framework logged {len(diverted.lines)} lines; "
                         "rerun with --verbose to see them\n")
    _FINISHED_RUNS.append(code)
    return code


def _run_headless(config, args: argparse.Namespace) -> int:
    from tui_trainer.core.control import RunControl
    from tui_trainer.core.errors import UserError
    from tui_trainer.engine.session import RunResult, Session
    from tui_trainer.faces.headless import MAP_COLS, MAP_ROWS, NEURON_GRID_COLOR, HeadlessPrinter, JsonLinesPrinter

    session = Session(config)
    session.keep_history = False  # the run folder has it; memory stays flat however long the run
    session.freeze_gc = True  # this process exists to train: see Session.freeze_gc
    control = RunControl()
    control.grid_shape = (MAP_ROWS, MAP_COLS)
    # A map now and then for the run folder (attach shows it); the printer draws only the last.
    control.grid_interval = HEADLESS_GRID_INTERVAL
    printer = JsonLinesPrinter() if args.json else HeadlessPrinter(dataset_getter=lambda: session.dataset,
                                                                    show_network=args.show_network)
    if args.show_network:
        control.network_shape = printer.network_shape if isinstance(printer, HeadlessPrinter) else NEURON_GRID_COLOR
    consumers = [_guarded(printer)]
    if not args.json:
        from tui_trainer.faces import progress_line

        if progress_line.wanted(sys.stderr):  # a long epoch's progress, erased before anything prints
            consumers.insert(0, progress_line.ProgressLine(sys.stderr))
    from tui_trainer.runs.launch import open_run_folder, serve_run

    try:  # the folder's lock is taken here, before the framework is imported
        exporter = open_run_folder(config, args, session_getter=lambda: session, on_fault=lambda exc: control.stop())
    except UserError as exc:
        return _fail(str(exc))
    consumers.append(exporter)
    server = serve_run(exporter, control, lambda: session)
    if server is not None:
        consumers.append(server)

    def emit(event) -> None:
        for consumer in consumers:
            consumer(event)

    holder: dict[str, RunResult] = {}
    worker = threading.Thread(target=lambda: holder.setdefault("result", session.run(emit, control)),
                              name="tui-trainer-run", daemon=True)
    stopped_by: list[int] = []

    def on_signal(signum, frame) -> None:
        # Ask the run to stop instead of raising KeyboardInterrupt: an exception inside
        # Thread.join can leave the thread looking finished while it still runs.
        # SIGTERM and SIGHUP mean the same as Ctrl-C here: stop, keep what ran.
        name = signal.Signals(signum).name
        if stopped_by:
            # Straight to stderr's file descriptor (fd 2 itself may be diverted from the framework): the
            # first signal's line may still be inside sys.stderr's buffer (a reentrant write would raise),
            # and os._exit flushes nothing.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.write(sys.stderr.fileno(), f"tui-trainer: {name} again; quitting now\n".encode())
            os._exit(128 + stopped_by[0])
        stopped_by.append(signum)
        again = "Ctrl-C" if signum == signal.SIGINT else name
        what = "interrupted" if signum == signal.SIGINT else f"got {name}"
        _note(f"{what}; stopping after the current batch "
              f"and saving what ran ({again} again to quit now)")
        control.stop()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(timeout=0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    result = holder.get("result")
    if server is not None:
        server.close(drain=0.5)
    exporter.close()
    if result is not None and exporter.error is not None:
        return _fail(exporter.fault_message(), EXIT_FAILED)
    outcome = exit_status(result, signal_number=stopped_by[0] if stopped_by else None,
                          min_val_acc=args.min_val_acc, max_val_loss=args.max_val_loss)
    if result is not None and result.failed is not None and not args.json:
        return outcome.code  # the printer has shown the error; the JSON stream only has the event
    if outcome.message:
        _note(outcome.message)
    return outcome.code


if __name__ == "__main__":
    raise SystemExit(main())
