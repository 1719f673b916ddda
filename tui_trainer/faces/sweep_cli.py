"""``tui-trainer sweep``: search hyperparameters with Optuna, and ``sweep show`` to read a sweep.

    tui-trainer sweep --preset circle --param train.learning_rate=log:0.001..0.3 --trials 20 --jobs 2
    tui-trainer sweep show [STUDY] [--storage URL] [--json]

The command checks everything (specs, preset, storage) and creates or joins
the study, then starts ``--jobs`` worker processes (``tui-trainer sweep
--worker``, the plan and the storage URL on their stdin, never on a command
line) and prints one line per finished trial as the storage records it, from
any worker on any machine, then the best trial.  A worker that dies has its
running trial failed and retried (Optuna's heartbeat on a database; on this
host its process is asked directly) and is replaced while trials remain.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tui_trainer.core.errors import UserError
from tui_trainer.core.textsafe import printable

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 4
#: Seconds between looks at the storage for finished trials.
POLL = 0.5
WORKER_FLAG = "--worker"


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    from tui_trainer.faces.arguments import UsageParser

    return UsageParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


EPILOG = """\
specs (--param FIELD=SPEC, any config field):
  log:0.001..0.3          a float, sampled on a log scale
  float:0..0.5            a float
  int:8..64               a whole number
  choice:relu,tanh        one of these values; lists too: choice:[3,3],[8,8],[16,16]
or a [sweep] table in the preset:  [sweep] metric = "val_acc"  trials = 30
                                   [sweep.params] "train.learning_rate" = "log:0.001..0.3"

storage (--storage): a journal file (default: RUNS/.sweeps/journal.log), sqlite:///FILE,
  postgresql://USER@HOST/DB, mysql://USER@HOST/DB.  The password comes from the URL, or better
  --storage-password-file FILE or $TUI_TRAINER_STORAGE_PASSWORD (or PGPASSWORD), where ps can't see it.
  Several machines join one sweep by running the same command with the same --storage and --study.

examples:
  tui-trainer sweep --preset circle --param train.learning_rate=log:0.001..0.3 \\
      --param model.hidden=choice:[3,3],[8,8] --trials 20 --jobs 2
  tui-trainer sweep show                        the sweeps in the default storage
  tui-trainer sweep show STUDY                  its trials and the best one (also while it runs)
"""


def build_parser() -> argparse.ArgumentParser:
    from tui_trainer.core.config import FIELDS
    from tui_trainer.faces import arguments

    p = _parser("tui-trainer sweep", "Search hyperparameters with Optuna: every trial is a run in the run store.")
    p.epilog = EPILOG
    p.add_argument("--preset", metavar="NAME|PATH", default="circle", type=arguments.preset_name,
                   help="the preset to start from (default circle); its [sweep] table, if any, is used")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                   help="fix a config field for every trial (repeatable)")
    backend = FIELDS["train.backend"]
    p.add_argument("--backend", choices=backend.choices, help=f"{backend.help} (sets {backend.key})")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per trial")
    p.add_argument("--param", dest="params", metavar="FIELD=SPEC", action="append", default=[],
                   help="a field to search, e.g. train.learning_rate=log:0.001..0.3 (repeatable)")
    p.add_argument("--trials", type=int, metavar="N", default=None,
                   help="trials in total, over every worker on every machine (default 20)")
    p.add_argument("--jobs", type=int, metavar="N", default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--metric", default=None, help="val_loss (default, lower is better), val_acc or val_mae")
    p.add_argument("--study", metavar="NAME", default=None,
                   help="the study's name; the same name and storage joins a sweep (default: a new name)")
    p.add_argument("--storage", metavar="URL", default=None, help="where the study lives (see below)")
    p.add_argument("--storage-password-file", metavar="FILE", default=None,
                   help="the database password: the file's first line")
    p.add_argument("--pruner", metavar="NAME[:K=V,...]", default=None,
                   help="median (default), percentile, hyperband, successive-halving, threshold or none; "
                        "Optuna's arguments after a colon, e.g. median:n_startup_trials=2; median and percentile "
                        "wait a tenth of the epochs (n_warmup_steps) unless told")
    p.add_argument("--sampler", metavar="NAME", default=None, help="tpe (default), random, cmaes or qmc")
    p.add_argument("--sampler-seed", type=int, metavar="N", default=None, help="seed the sampler (repeatable sweeps)")
    p.add_argument("--retries", type=int, metavar="N", default=1,
                   help="times a dead worker's trial is tried again (default 1)")
    p.add_argument("--heartbeat", type=int, metavar="SECONDS", default=None,
                   help="a database trial's heartbeat; twice this without one and it is failed (default 10)")
    p.add_argument("--save-best", metavar="NAME", default=None, help="save the best trial's config as a preset")
    p.add_argument("--runs-dir", metavar="DIR", default=None, help="the runs folder (default: $TUI_TRAINER_RUNS "
                   "or ~/.local/share/tui-trainer/runs)")
    p.add_argument("--json", action="store_true", help="one JSON object per finished trial, then the best")
    p.add_argument("--verbose", action="store_true", help="let the frameworks print their own log lines")
    p.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    return p


def build_show_parser() -> argparse.ArgumentParser:
    p = _parser("tui-trainer sweep show",
                "A sweep's trials and its best trial, as stored now (also while it runs elsewhere).")
    p.add_argument("study", nargs="?", metavar="STUDY", help="the study's name (default: list the studies)")
    p.add_argument("--storage", metavar="URL", default=None, help="where the study lives (default: the run store's journal)")
    p.add_argument("--storage-password-file", metavar="FILE", default=None, help="the database password: first line")
    p.add_argument("--runs-dir", metavar="DIR", default=None, help="the runs folder (for the default storage)")
    p.add_argument("--json", action="store_true", help="one JSON object per trial, then the best")
    return p


def _fail(message: object, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"tui-trainer: error: {printable(message)}\n")
    sys.stderr.flush()
    return code


def _note(message: object) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"tui-trainer: {printable(message)}\n")
        sys.stderr.flush()


def _out(line: str) -> None:
    sys.stdout.write(printable(line) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """``argv`` starts after ``sweep``."""
    if argv and argv[0] == "show":
        return show_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker_main(args.verbose)
    try:
        return run_sweep(args)
    except BrokenPipeError:  # stdout closed by its reader (| head): the workers go on, quietly
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return EXIT_OK


# -- the sweep ------------------------------------------------------------------------------------

def _plan(args: argparse.Namespace) -> Any:
    from tui_trainer.core import config as cfgmod
    from tui_trainer.runs.sweep import HEARTBEAT, load_plan

    overrides: dict[str, Any] = {}
    for item in args.overrides:
        key, value = cfgmod.parse_set(item)
        overrides[key] = value
    if args.backend is not None:
        overrides["train.backend"] = args.backend
    if args.epochs is not None:
        overrides["train.epochs"] = args.epochs
    return load_plan(args.preset, overrides, args.params, metric=args.metric, trials=args.trials, study=args.study,
                     pruner=args.pruner, sampler=args.sampler, sampler_seed=args.sampler_seed,
                     runs_dir=args.runs_dir, retries=args.retries,
                     heartbeat=args.heartbeat if args.heartbeat is not None else HEARTBEAT)


def run_sweep(args: argparse.Namespace) -> int:
    from tui_trainer.runs.sweep import StorageRef

    if args.jobs < 1:
        return _fail("--jobs: give a number of worker processes >= 1")
    if args.save_best is not None:
        from tui_trainer.core.presets import PRESET_SUFFIX, user_dir, valid_name

        try:
            name = valid_name(args.save_best)
        except UserError as exc:
            return _fail(f"--save-best: {exc}")
        if (user_dir() / f"{name}{PRESET_SUFFIX}").exists():  # said now, not after the sweep
            return _fail(f"--save-best: preset {name} exists ({user_dir()}); choose another name or remove it")
    try:
        plan = _plan(args)
        ref = StorageRef.resolve(args.storage, args.runs_dir, args.storage_password_file)
    except UserError as exc:
        return _fail(exc)
    if args.storage and ref.password and ref.password in args.storage:
        _note("the database password is on the command line, where ps shows it; "
              "use --storage-password-file or $TUI_TRAINER_STORAGE_PASSWORD instead")
    from tui_trainer.runs.sweep import create_or_join, open_storage

    try:
        storage = open_storage(ref)
        study = create_or_join(plan, storage, ref)
    except UserError as exc:
        return _fail(ref.scrub(exc))
    return Supervisor(plan, ref, storage, study, args).run()


class Supervisor:
    """Starts the workers, prints finished trials from the storage, replaces workers that die."""

    def __init__(self, plan: Any, ref: Any, storage: Any, study: Any, args: argparse.Namespace) -> None:
        self.plan, self.ref, self.storage, self.study, self.args = plan, ref, storage, study, args
        self.procs: list[subprocess.Popen[bytes]] = []
        self.printed: set[int] = set()
        self.stop = threading.Event()
        self.stopped_by: list[int] = []
        self.errors: list[str] = []
        self.started = time.monotonic()
        self.replacements = 0
        self.lock = threading.Lock()

    # -- workers ------------------------------------------------------------------------------
    def spawn(self, index: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, "TUI_TRAINER_THREADS": os.environ.get("TUI_TRAINER_THREADS", "1")}
        gpus = _gpus()
        if len(gpus) > 1:  # a multi-GPU box: one GPU per worker
            env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
        cmd = [sys.executable, "-m", "tui_trainer", "sweep", WORKER_FLAG] + (["--verbose"] if self.args.verbose else [])
        # Its own session: Ctrl-C reaches it once, forwarded by us, not twice (which would quit at once).
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        job = {"plan": self.plan.to_json(),
               "storage": {"url": self.ref.url, "password": self.ref.password, "given": self.ref.given,
                           "journal": str(self.ref.journal) if self.ref.journal is not None else None}}
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        threading.Thread(target=self._relay, args=(proc,), daemon=True).start()
        return proc

    def _relay(self, proc: subprocess.Popen[bytes]) -> None:
        """A worker's own lines (one-line errors) to our stderr, the password masked."""
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = self.ref.scrub(raw.decode("utf-8", "replace").rstrip("\n"))
            if not line.strip():
                continue
            with self.lock:
                # Bad input (a missing data file) stops every worker with the same error: say it once.
                repeated = "error:" in line and any("error:" in seen for seen in self.errors)
                self.errors.append(line)
            if not repeated:
                _note(line.removeprefix("tui-trainer: "))

    # -- output -------------------------------------------------------------------------------
    def header(self) -> None:
        from tui_trainer.runs.store import runs_root

        if self.args.json:
            _out(json.dumps({"kind": "sweep_started", "study": self.plan.study, "storage": self.ref.masked,
                             "metric": self.plan.metric, "direction": self.plan.direction,
                             "trials": self.plan.trials, "jobs": self.args.jobs,
                             "params": [p.text() for p in self.plan.params]}))
            return
        _out(f"sweep {self.plan.study}: {self.plan.trials} trials of {self.plan.label}, {self.args.jobs} "
             f"worker{'s' if self.args.jobs > 1 else ''} here, {self.plan.metric} ({self.plan.direction}), "
             f"pruner {self.plan.pruner}")
        _out(f"searching {', '.join(p.text() for p in self.plan.params)}")
        _out(f"storage {self.ref.masked}; runs in {runs_root(self.plan.runs_dir)}")

    def report(self, final: bool = False) -> Any:
        from tui_trainer.runs.sweep import read_sweep

        try:
            view = read_sweep(self.storage, self.plan.study)
        except Exception as exc:  # noqa: BLE001 - a database hiccup: try again at the next look
            if final:
                _note(f"can't read the sweep: {self.ref.scrub(exc)}")
            return None
        fresh = sorted((t for t in view.trials if t.done and t.number not in self.printed
                        and "surplus" not in t.note), key=lambda t: (t.finished or 0, t.number))
        for row in fresh:
            self.printed.add(row.number)
            _out(trial_line(row, self.plan.metric, as_json=self.args.json))
        return view

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        from tui_trainer.faces.arguments import STOP_SIGNALS

        self.header()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            return self._loop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for proc in self.procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stopped_by:
            for proc in self.procs:
                with contextlib.suppress(OSError):
                    proc.kill()
            os.write(2, f"tui-trainer: {name} again; quitting now\n".encode())
            os._exit(128 + self.stopped_by[0])
        self.stopped_by.append(signum)
        _note(f"{'interrupted' if signum == signal.SIGINT else 'got ' + name}; stopping the workers' "
              "trials after the current batch (again to quit now)")
        self.stop.set()
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGINT)

    def _loop(self) -> int:
        from tui_trainer.runs.sweep import reap_dead

        self.procs = [self.spawn(i) for i in range(self.args.jobs)]
        alive = set(range(len(self.procs)))
        bad_input = False
        while alive:
            time.sleep(POLL)
            self.report()
            for index in sorted(alive):
                proc = self.procs[index]
                code = proc.poll()
                if code is None:
                    continue
                alive.discard(index)
                if code == EXIT_USAGE:
                    bad_input = True
                    self._stop_all()
                elif code < 0 and not self.stop.is_set():
                    name = _signal_name(-code)
                    try:
                        reaped = reap_dead(self.study, self.plan.retries)
                    except Exception:  # noqa: BLE001 - the next worker's look reaps it instead
                        reaped = []
                    what = f"; its trial {', '.join(map(str, reaped))} failed" if reaped else ""
                    _note(f"worker {index + 1} (pid {proc.pid}) was killed ({name}){what}")
                    if self.replacements < self.plan.trials and self._to_do():
                        self.replacements += 1
                        self.procs[index] = self.spawn(index)
                        alive.add(index)
                        _note(f"started worker {index + 1} again (pid {self.procs[index].pid})")
            if not alive and not bad_input and not self.stop.is_set() and self._retry_waiting():
                # A retry of a dead trial was queued after every worker had counted it as done.
                self.replacements += 1
                self.procs[0] = self.spawn(0)
                alive.add(0)
        view = self.report(final=True)
        for proc in self.procs:
            proc.wait()
        if self.stopped_by:
            self.finish(view)
            _note(f"to go on with this sweep, run the same command with --study {self.plan.study}")
            return 128 + self.stopped_by[0]
        if bad_input:
            return EXIT_USAGE
        code = self.finish(view)
        return code

    def _retry_waiting(self) -> bool:
        from tui_trainer.runs.sweep import read_sweep

        if self.replacements >= self.plan.trials:
            return False
        try:
            view = read_sweep(self.storage, self.plan.study)
        except Exception:  # noqa: BLE001 - the storage is unreachable: say what finished, below
            return False
        return view.count("WAITING") > 0 and view.count("COMPLETE") + view.count("PRUNED") < self.plan.trials

    def _to_do(self) -> bool:
        """Trials still to train: fewer than asked have finished (a retry may be waiting)."""
        from tui_trainer.runs.sweep import read_sweep

        try:
            view = read_sweep(self.storage, self.plan.study)
        except Exception:  # noqa: BLE001 - the storage is unreachable: no new worker, say what finished
            return False
        return view.count("COMPLETE") + view.count("PRUNED") < self.plan.trials

    def _stop_all(self) -> None:
        self.stop.set()
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGINT)

    def finish(self, view: Any) -> int:
        if view is None:
            return EXIT_FAILED
        finished = view.count("COMPLETE") + view.count("PRUNED")
        print_best(view, as_json=self.args.json, preset=self.plan.label)
        if self.args.save_best and view.best is not None:
            from tui_trainer.core.presets import save_preset
            from tui_trainer.runs.sweep import best_config

            try:
                config = best_config(view, self.plan.base)
                path = save_preset(config, self.args.save_best)
            except FileExistsError as exc:
                return _fail(f"--save-best: preset {self.args.save_best} was created meanwhile ({exc})", EXIT_FAILED)
            except (UserError, OSError) as exc:
                return _fail(f"--save-best: {exc}", EXIT_FAILED)
            if not self.args.json:
                _out(f"saved as preset {self.args.save_best} ({path}): tui-trainer --preset {self.args.save_best}")
        if finished < self.plan.trials and not self.stopped_by:
            _note(f"{finished} of {self.plan.trials} trials finished; to go on, run the same command with "
                  f"--study {self.plan.study}")
            return EXIT_FAILED
        return EXIT_OK


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _gpus() -> list[str]:
    """The GPUs workers may share out: ``CUDA_VISIBLE_DEVICES``, else those the NVIDIA driver lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip()]
    try:
        return [str(i) for i in range(len(os.listdir("/proc/driver/nvidia/gpus")))]
    except OSError:
        return []


def _value_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.5f}"


def _seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def trial_line(row: Any, metric: str, *, as_json: bool = False) -> str:
    """One finished trial: number, state, value, seconds, params (and why, for pruned or failed ones)."""
    from tui_trainer.runs.sweep import params_text

    if as_json:
        return json.dumps({"kind": "trial", **row.to_json()}, allow_nan=False, default=str)
    note = f"  ({row.note})" if row.note else ""
    return (f"trial {row.number:>3}  {row.state:<8}  {metric} {_value_text(row.value):>8}  "
            f"{_seconds_text(row.seconds):>7}  {params_text(row.params)}{note}")


def print_best(view: Any, *, as_json: bool = False, preset: str = "") -> None:
    from tui_trainer.runs.sweep import set_line

    counts = {s: view.count(s) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")}
    if as_json:
        best = view.best.to_json() if view.best is not None else None
        _out(json.dumps({"kind": "best", "study": view.name, "metric": view.metric, "direction": view.direction,
                         "counts": counts, "trial": best, "set": set_line(view.best.params) if view.best else None},
                        allow_nan=False, default=str))
        return
    tally = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)
    if view.best is None:
        _out(f"no trial has completed yet ({tally or 'no trials'})")
        return
    best = view.best
    _out(f"best: trial {best.number}, {view.metric} {_value_text(best.value)} ({tally})")
    _out(f"  {set_line(best.params)}")
    if preset:
        _out(f"  train it again: tui-trainer --preset {preset} --no-ui {set_line(best.params)}")


# -- the worker -----------------------------------------------------------------------------------

def worker_main(verbose: bool) -> int:
    """One worker process: the job (plan and storage) on stdin, trials until the sweep has its count."""
    from tui_trainer.faces import quiet
    from tui_trainer.faces.arguments import STOP_SIGNALS
    from tui_trainer.runs.sweep import StorageRef, SweepPlan, run_worker

    job = json.loads(sys.stdin.read())
    plan = SweepPlan.from_json(job["plan"])
    storage = job["storage"]
    ref = StorageRef(url=storage["url"], password=storage["password"], given=storage.get("given", ""),
                     journal=Path(storage["journal"]) if storage["journal"] else None)
    stop = threading.Event()
    stopped_by: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        if stopped_by:
            os._exit(128 + stopped_by[0])
        stopped_by.append(signum)
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    quiet.prepare_environment(verbose)
    with quiet.native_stderr_diverted(not verbose):
        try:
            result = run_worker(plan, ref, stop)
        except UserError as exc:
            return _fail(ref.scrub(exc))
    if result.error is not None:
        return _fail(ref.scrub(result.error))
    if result.interrupted or stopped_by:
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)
    return EXIT_OK


# -- sweep show -----------------------------------------------------------------------------------

def show_main(argv: list[str]) -> int:
    args = build_show_parser().parse_args(argv)
    from tui_trainer.runs.sweep import StorageRef

    try:
        ref = StorageRef.resolve(args.storage, args.runs_dir, args.storage_password_file)
        if ref.journal is not None and not ref.journal.is_file():
            raise UserError(f"no sweeps in {ref.journal} (start one with tui-trainer sweep)")
        from tui_trainer.runs.sweep import open_storage, read_sweep

        storage = open_storage(ref)
        if args.study is None:
            return list_sweeps(storage, ref, args.json)
        view = read_sweep(storage, args.study)
    except UserError as exc:
        return _fail(ref.scrub(exc) if "ref" in locals() else exc)
    print_view(view, ref, as_json=args.json)
    return EXIT_OK


def list_sweeps(storage: Any, ref: Any, as_json: bool) -> int:
    from tui_trainer.runs.sweep import read_sweep, study_names

    names = study_names(storage)
    if not names and not as_json:
        _out(f"no sweeps in {ref.masked}")
    for name in names:
        view = read_sweep(storage, name)
        best = view.best
        if as_json:
            _out(json.dumps({"study": name, "metric": view.metric, "direction": view.direction,
                             "trials": len(view.trials), "asked": view.trials_asked,
                             "best": best.value if best else None}, allow_nan=False))
        else:
            done = view.count("COMPLETE") + view.count("PRUNED")
            _out(f"{name}  {view.preset or '-'}  {done}/{view.trials_asked or '?'} trials, "
                 f"{view.count('RUNNING')} running  best {view.metric} {_value_text(best.value if best else None)}")
    return EXIT_OK


def print_view(view: Any, ref: Any, *, as_json: bool = False) -> None:
    from tui_trainer.runs.sweep import params_text

    if as_json:
        for row in view.trials:
            _out(json.dumps({"kind": "trial", **row.to_json()}, allow_nan=False, default=str))
        print_best(view, as_json=True)
        return
    asked = f" of {view.trials_asked}" if view.trials_asked else ""
    done = view.count("COMPLETE") + view.count("PRUNED")
    _out(f"sweep {view.name}: {view.preset or '-'}, {view.metric} ({view.direction}), {done}{asked} trials "
         f"finished, {view.count('RUNNING')} running; storage {ref.masked}")
    header = ["#", "STATE", view.metric.upper(), "EPOCH", "SECONDS", "PARAMS", "RUN"]
    rows = [header]
    for row in view.trials:
        params = params_text(row.params) + (f"  ({row.note})" if row.note else "")
        # A running trial shows how far it has got: its last epoch's value, marked with "~".
        value = _value_text(row.value) if row.value is not None or row.last_value is None else \
            f"~{_value_text(row.last_value)}"
        rows.append([str(row.number), row.state, value, str(row.last_step or "-"),
                     _seconds_text(row.seconds), params, row.run_id or "-"])
    widths = [max(len(printable(r[i])) for r in rows) for i in range(len(header))]
    for r in rows:  # the run id before the params: the params (and notes) are the ragged end
        cells = r[:-2] + [r[-1]]
        head = "  ".join(printable(c).ljust(w) for c, w in zip(cells, widths[:-2] + widths[-1:], strict=True))
        _out(f"{head}  {r[-2]}".rstrip())
    print_best(view, preset=view.preset)
