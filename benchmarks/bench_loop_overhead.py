"""What the training loop itself costs per epoch: ``Session.run`` against the backend's bare epochs.

    python benchmarks/bench_loop_overhead.py [--epochs 400] [--repeat 5] [--backend torch|tensorflow]

Both sides train the circle preset's model (x1, x2 -> 3 tanh -> 3 tanh -> 1
tanh, MSE, SGD 0.03, batch 15, one thread) on the same data, in one process,
interleaved ``--repeat`` times:

* bare: a plain ``for`` loop over the built backend's ``train_epoch`` and
  ``evaluate`` with the epoch's validation metric, the work no loop can skip;
* engine: ``Session.run`` with the faces a recorded headless run feeds (the
  reducer and the event's JSON line), so the loop's rules (callbacks), its
  events, its history and the hooks are all paid for.

Each side's time is wall time per epoch (the run's whole loop divided by its
epochs), the median over the repeats.  Epochs of a few milliseconds make the
loop's own cost as visible as it gets; the target is engine <= 1.10x bare.
``PYTHONPATH=OTHER_CHECKOUT`` runs the same measurement on other code (the
ratio of two such runs compares them).  The machine is noisy: only ratios
measured in one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

TARGET = 1.10


def session_class():
    try:
        from tui_trainer.engine.session import Session
    except ImportError:  # the layout before packages by layer (to measure older code)
        from tui_trainer.engine import Session  # type: ignore[attr-defined,no-redef]
    return Session


def circle(backend: str, epochs: int):
    try:
        from tui_trainer.core.presets import load_preset
        from tui_trainer.data.datasets import load_dataset
    except ImportError:  # the layout before packages by layer
        from tui_trainer.presets import load_preset  # type: ignore[no-redef]

        from tui_trainer.data import load_dataset  # type: ignore[attr-defined,no-redef]

    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": epochs})
    return cfg, load_dataset(cfg)


def bare(cfg, ds) -> float:
    """Seconds per epoch of the backend's own epochs, in a plain loop."""
    session = session_class()(cfg, ds, threads=1)
    session.prepare()
    backend, epochs, batch = session.backend, cfg.train.epochs, cfg.train.batch_size
    rng = np.random.default_rng(cfg.data.seed)
    never = lambda: False  # noqa: E731
    t0 = time.perf_counter()
    for _ in range(epochs):
        backend.train_epoch(rng.permutation(len(ds.x_train)), batch, never)
        _, val_out = backend.evaluate()
        session._epoch_metrics(val_out)
    return (time.perf_counter() - t0) / epochs


def engine(cfg, ds) -> float:
    """Seconds per epoch of ``Session.run``, from its first epoch to its last, with a recorded run's faces."""
    try:
        from tui_trainer.core.progress import RunProgress
        from tui_trainer.runs.export import event_line
    except ImportError:  # the layout before packages by layer
        from tui_trainer.export import event_line  # type: ignore[no-redef]
        from tui_trainer.progress import RunProgress  # type: ignore[no-redef]

    reducer = RunProgress()
    marks: list[float] = []

    def emit(event) -> None:
        if event.kind == "epoch_ended":
            marks.append(time.perf_counter())
        elif event.kind == "run_failed":
            raise SystemExit(f"the run failed: {event.message}")
        reducer.apply(event)
        event_line(event)

    session = session_class()(cfg, ds, threads=1)
    session.keep_history = False
    session.run(emit)
    # From the end of epoch 1 to the end of the last: every epoch but the first is one whole trip round the loop.
    return (marks[-1] - marks[0]) / (len(marks) - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=("torch", "tensorflow"), default="torch")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args()
    if args.backend == "torch":
        import torch

        torch.set_num_threads(1)
    cfg, ds = circle(args.backend, args.epochs)
    bare(cfg, ds), engine(cfg, ds)  # warm-up: first calls, tracing, allocations
    times: dict[str, list[float]] = {"bare": [], "engine": []}
    for _ in range(args.repeat):
        times["bare"].append(bare(cfg, ds))
        times["engine"].append(engine(cfg, ds))
    b, e = statistics.median(times["bare"]), statistics.median(times["engine"])
    ratio = e / b
    if args.json:
        print(json.dumps({"bare": b, "engine": e, "ratio": ratio}))
        return 0
    print(f"circle preset, {args.backend}, {args.epochs} epochs, batch {cfg.train.batch_size}, 1 thread; "
          f"median of {args.repeat} interleaved runs; load {os.getloadavg()[0]:.2f}")
    print(f"{'bare backend epochs':<24}{b * 1000:8.3f} ms/epoch")
    print(f"{'Session.run':<24}{e * 1000:8.3f} ms/epoch   ({(e - b) * 1e6:+.0f} us: the loop, its rules, its events)")
    print(f"{'engine / bare:':<24}{ratio:8.3f}x     (target <= {TARGET:.2f}x)   {'PASS' if ratio <= TARGET else 'MISS'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
