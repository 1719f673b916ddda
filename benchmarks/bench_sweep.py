"""What a sweep trial costs over the same run outside a sweep: Optuna's storage, once per epoch.

A trial reports each epoch's validation metric to the study and asks the pruner
whether to stop: two storage round trips an epoch.  On the playground's
millisecond epochs that is the dominant cost, so this measures the worst case:
the circle preset (100 epochs, PyTorch), as

* reference: the run alone, recorded in a run folder as every run is;
* sweep trials with the journal file storage (the default), no pruner and the median pruner;
* optionally (``--storage URL``) the same against a database, e.g. PostgreSQL.

Each is a fresh trial in one process (the framework imported once), median of
``--repeat`` trials.  Prints seconds per run and the ratio to the reference.

    python benchmarks/bench_sweep.py [--repeat 5] [--storage postgresql://user@host/db]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TUI_TRAINER_THREADS", "1")

#: A sweep's trial on 1-ms epochs, with the default journal storage, may cost this much more than the run alone.
#: A database is a network round trip (and a transaction) per epoch: printed, with no target.
TARGET = 2.0


def reference(config, root: Path) -> float:
    from tui_trainer.engine.session import Session
    from tui_trainer.runs.export import RunExporter
    from tui_trainer.runs.store import create_run_folder

    start = time.perf_counter()
    session = Session(config)
    session.keep_history = False
    exporter = RunExporter(create_run_folder(root, "ref"), lambda s=session: s, created=True)
    exporter.open()
    session.run(exporter)
    exporter.close()
    return time.perf_counter() - start


def one_trial(plan, ref) -> float:
    """One more trial of ``plan``'s study (its ``trials`` is one more than it has): its seconds as stored."""
    from tui_trainer.runs.sweep import open_storage, read_sweep, run_worker

    result = run_worker(plan, ref, threading.Event())
    assert result.error is None, result.error
    view = read_sweep(open_storage(ref), plan.study)
    done = [t for t in view.trials if t.state == "COMPLETE" and t.seconds is not None]
    assert len(done) == plan.trials, view
    return max(done, key=lambda t: t.number).seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--storage", default=None, help="also a database storage (password from the environment)")
    args = parser.parse_args()
    from tui_trainer.core.presets import load_preset
    from tui_trainer.runs.sweep import StorageRef, load_plan

    config = load_preset("circle", {"train.backend": "torch"})
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp) / "runs"
        reference(config, root)  # the framework's first-model costs, paid once for all
        kinds = [("journal file", None)] + ([("database", args.storage)] if args.storage else [])
        cases = [(f"sweep trial, {label}, pruner {pruner}", url, pruner, f"bench-{pruner}-{i}-{time.time_ns()}")
                 for i, (label, url) in enumerate(kinds) for pruner in ("none", "median")]
        times: dict[str, list[float]] = {"run alone (reference)": []}
        for n in range(1, args.repeat + 1):  # interleaved: the machine's mood changes alike for every case
            times["run alone (reference)"].append(reference(config, root))
            for label, url, pruner, study in cases:
                plan = load_plan("circle", {"train.backend": "torch"}, ["train.learning_rate=choice:0.03"],
                                 trials=n, study=study, pruner=pruner, runs_dir=str(root))
                times.setdefault(label, []).append(one_trial(plan, StorageRef.resolve(url, str(root))))
        rows = [(label, statistics.median(values)) for label, values in times.items()]
    base = rows[0][1]
    print(f"circle preset, 100 epochs, PyTorch, median of {args.repeat}, interleaved; "
          f"load average {os.getloadavg()[0]:.1f}")
    for label, seconds in rows:
        print(f"  {label:<44} {seconds:7.3f} s   {seconds / base:5.2f}x")
    worst = max(seconds for label, seconds in rows if "database" not in label) / base
    print(f"worst journal-file ratio {worst:.2f}x (target <= {TARGET:.1f}x): {'met' if worst <= TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
