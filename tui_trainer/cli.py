"""The ``tui-trainer`` command: parses options, builds the config, picks a face.

Imports stay light at module level so ``--help`` answers at once; the engine,
the frameworks and Textual are imported only once they are needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from tui_trainer import __version__

EXIT_OK = 0
EXIT_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 130
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

exit codes:
  0 success, 1 --min-val-acc/--max-val-loss missed, 2 bad input,
  3 diverged (loss became NaN/inf), 4 training failed, 130 interrupted (Ctrl-C)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"tui-trainer: error: {message} (see tui-trainer --help)\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tui-trainer",
        description="Build, train and watch small neural networks in the terminal (TensorFlow or PyTorch).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", metavar="NAME|PATH", default=None,
                   help="built-in or user preset name, or a path to a .toml file (default: circle)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="override a config field, e.g. --set train.epochs=50 --set model.hidden=[8,8] (repeatable)")
    p.add_argument("--backend", choices=("tensorflow", "torch"), help="framework to train with")
    p.add_argument("--epochs", type=int, metavar="N", help="number of epochs")
    p.add_argument("--seed", type=int, metavar="N", help="random seed for data, init and shuffling")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where to train")
    p.add_argument("--no-ui", action="store_true", help="train headless: print one line per epoch, then a summary")
    p.add_argument("--json", action="store_true", help="with --no-ui: print one JSON object per event instead")
    p.add_argument("--show-network", action="store_true",
                   help="with --no-ui: after training print every neuron's map (2-D data) or the first "
                        "layer's weights as images; with --json, emit a network_updated event with the grids")
    p.add_argument("--output", metavar="DIR", type=Path,
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
    p.add_argument("--min-val-acc", type=float, metavar="X", help="exit 1 if the final val_acc is below X")
    p.add_argument("--max-val-loss", type=float, metavar="X", help="exit 1 if the final val_loss is above X")
    p.add_argument("--list-presets", action="store_true", help="list presets (name, source, description) and exit")
    p.add_argument("--show-config", action="store_true", help="print the resolved config as TOML and exit")
    p.add_argument("--version", action="version", version=f"tui-trainer {__version__}")
    return p


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"tui-trainer: error: {message}\n")
    sys.stderr.flush()
    return code


def resolve_config(args: argparse.Namespace):
    """Preset, then ``--set`` overrides, then the dedicated flags (most specific wins)."""
    from tui_trainer.presets import load_preset

    return load_preset(args.preset or "circle", command_line_overrides(args))


def command_line_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from tui_trainer import config as cfgmod

    overrides: dict[str, Any] = {}
    for item in args.overrides:
        key, value = cfgmod.parse_set(item)
        overrides[key] = value
    for flag, key in (("backend", "train.backend"), ("epochs", "train.epochs"), ("seed", "data.seed"),
                      ("device", "train.device")):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    return overrides


def list_presets() -> int:
    from tui_trainer.presets import list_presets as _list

    presets = _list()
    width = max((len(p.name) for p in presets), default=4)
    for p in presets:
        print(f"{p.name:<{width}}  {p.source:<8}  {p.description}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "compare":
        from tui_trainer.compare import main as compare_main

        return compare_main(argv[1:])
    if argv and argv[0] in ("runs",):
        from tui_trainer.runs_cli import main as runs_main

        return runs_main(argv)
    args = build_parser().parse_args(argv)
    if args.detach:
        args.no_ui = True
    from tui_trainer.errors import UserError

    if args.list_presets:
        return list_presets()
    if args.json and not args.no_ui:
        return _fail("--json needs --no-ui (the app draws to the terminal itself)")
    if args.show_network and not args.no_ui:
        return _fail("--show-network needs --no-ui (the app has a Network tab)")
    if args.jobs is not None and (args.jobs < 1 or not args.no_ui):
        return _fail("--jobs: give a number >= 1, with --no-ui and a preset that has [[variants]]")
    try:
        if args.adopt is not None:
            from tui_trainer.launch import adopted_config

            config = adopted_config(args)
        else:
            config = resolve_config(args)
        if args.no_ui and not args.show_config and args.adopt is None:
            from tui_trainer.study import load_study

            study = load_study(args.preset or "circle", command_line_overrides(args))
            if study is not None:
                if args.min_val_acc is not None or args.max_val_loss is not None or args.show_network:
                    raise UserError("--min-val-acc, --max-val-loss and --show-network apply to one run, "
                                    "not to a preset with [[variants]]")
                if args.detach:
                    raise UserError("--detach: a preset with [[variants]] runs in the foreground (try tmux)")
                from tui_trainer.study_cli import run_study_headless

                return run_study_headless(study, args)
        if args.show_config:
            from tui_trainer.presets import dumps

            sys.stdout.write(dumps(config))
            return EXIT_OK
        if args.output is not None:
            from tui_trainer.export import check_output_dir

            check_output_dir(args.output, overwrite=args.overwrite)
        if (args.min_val_acc is not None) and config.task == "regression":
            raise UserError(f"--min-val-acc: {config.data.dataset} is a regression dataset with no accuracy; use --max-val-loss")
        if args.detach:
            from tui_trainer.launch import detach

            return detach(config, args)
    except UserError as exc:
        return _fail(str(exc))
    if not args.no_ui:
        if args.output is not None or args.min_val_acc is not None or args.max_val_loss is not None:
            return _fail("--output, --min-val-acc and --max-val-loss need --no-ui")
        from tui_trainer.app import create_app

        preset_name = args.preset or "circle"
        create_app(config, preset_name=preset_name).run()
        return EXIT_OK
    return run_headless(config, args)


def run_headless(config, args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tui_trainer.control import RunControl
    from tui_trainer.engine import RunResult, Session
    from tui_trainer.errors import UserError
    from tui_trainer.headless import MAP_COLS, MAP_ROWS, NEURON_GRID_COLOR, HeadlessPrinter, JsonLinesPrinter

    session = Session(config)
    control = RunControl()
    control.grid_shape = (MAP_ROWS, MAP_COLS)
    # A map now and then for the run folder (attach shows it); the printer draws only the last.
    control.grid_interval = HEADLESS_GRID_INTERVAL
    printer = JsonLinesPrinter() if args.json else HeadlessPrinter(dataset_getter=lambda: session.dataset,
                                                                    show_network=args.show_network)
    if args.show_network:
        control.network_shape = printer.network_shape if isinstance(printer, HeadlessPrinter) else NEURON_GRID_COLOR
    consumers = [printer]
    from tui_trainer.launch import open_run_folder

    try:  # the folder's lock is taken here, before the framework is imported
        exporter = open_run_folder(config, args, session_getter=lambda: session, on_fault=lambda exc: control.stop())
    except UserError as exc:
        return _fail(str(exc))
    consumers.append(exporter)

    def emit(event) -> None:
        for consumer in consumers:
            consumer(event)

    holder: dict[str, RunResult] = {}
    worker = threading.Thread(target=lambda: holder.setdefault("result", session.run(emit, control)),
                              name="tui-trainer-run", daemon=True)
    interrupted = False

    def on_sigint(signum, frame) -> None:
        # Ask the run to stop instead of raising KeyboardInterrupt: an exception inside
        # Thread.join can leave the thread looking finished while it still runs.
        nonlocal interrupted
        if interrupted:
            sys.stderr.write("tui-trainer: interrupted twice; quitting now\n")
            os._exit(EXIT_INTERRUPTED)
        interrupted = True
        sys.stderr.write("tui-trainer: interrupted; stopping after the current batch and saving what ran "
                         "(Ctrl-C again to quit now)\n")
        sys.stderr.flush()
        control.stop()

    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None
    try:
        worker.start()
        while worker.is_alive():
            worker.join(timeout=0.2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    result = holder.get("result")
    exporter.close()
    if result is None:
        return _fail("training thread ended without a result", EXIT_FAILED)
    if exporter.error is not None:
        return _fail(exporter.fault_message(), EXIT_FAILED)
    if result.failed is not None:
        if args.json:  # the JSON stream has the event; people and CI logs still get the line
            sys.stderr.write(f"tui-trainer: error: {result.failed.message}\n")
        return EXIT_USAGE if isinstance(result.error, UserError) else EXIT_FAILED
    finished = result.finished
    if interrupted or finished.reason == "stopped":
        return EXIT_INTERRUPTED
    if finished.reason == "diverged":
        sys.stderr.write("tui-trainer: training diverged (loss is NaN or infinite); try a lower learning rate\n")
        return EXIT_DIVERGED
    final = finished.final
    if args.min_val_acc is not None and final is not None and final.val_acc is None:
        return _fail("--min-val-acc: this data is a regression task with no accuracy; use --max-val-loss")
    missed = []
    if args.min_val_acc is not None and (final is None or final.val_acc is None or final.val_acc < args.min_val_acc):
        missed.append(f"val_acc {getattr(final, 'val_acc', None)} < --min-val-acc {args.min_val_acc}")
    if args.max_val_loss is not None and (final is None or not final.val_loss <= args.max_val_loss):
        missed.append(f"val_loss {getattr(final, 'val_loss', None)} > --max-val-loss {args.max_val_loss}")
    if missed:
        sys.stderr.write("tui-trainer: target missed: " + "; ".join(missed) + "\n")
        return EXIT_THRESHOLD
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
