"""The whole 100-epoch textbook run, tracing and first epoch included, against the textbook loops.

    python benchmarks/bench_whole_run.py [--epochs 100] [--repeat 3] [--backend tensorflow|torch|both]

``bench_loops.py`` compares warm epochs; a user waits for the whole run, where
tracing, the first call into the framework and model building count too.  Here
each side is timed from model creation to the end of the last epoch (with its
validation pass), on the circle preset's data and model (x1, x2 -> 3 tanh -> 3
tanh -> 1 tanh, MSE, SGD 0.03, batch 15), one thread:

* Keras: ``keras.Sequential`` + ``compile`` + ``fit(batch_size=15, validation_data=...)``;
* PyTorch: ``nn.Sequential`` + ``SGD`` + a ``DataLoader`` loop with a validation pass;
* tui-trainer: ``Session(config, dataset).run(...)`` (build, data to the device, 100 epochs).

Every measurement is a fresh interpreter that has already imported the
framework and made the data (so nothing is warm from an earlier run), and the
best of ``--repeat`` interleaved runs counts.  Every side starts with the
objects alive then frozen out of the cyclic GC (``gc.freeze``), as the
training processes do (``Session.freeze_gc``): otherwise the one full
collection the framework's import has made due (~40 ms here) lands inside the
timed run or before it by chance, on either side.  Targets (issue 14): TensorFlow
backend >= 30x the Keras ``fit`` run, PyTorch backend >= 8x the DataLoader run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LR, BATCH = 0.03, 15
TARGETS = {"tensorflow": 30.0, "torch": 8.0}
REFERENCE = {"tensorflow": "keras", "torch": "dataloader"}


def circle_data():
    from tui_trainer.core.presets import load_preset
    from tui_trainer.data.datasets import load_dataset

    return load_dataset(load_preset("circle"))


def run_keras(ds, epochs: int) -> tuple[float, float]:
    import keras
    import tensorflow as tf
    from bench_loops import textbook_keras_model  # the same textbook model as the warm-epoch benchmark

    tf.config.threading.set_intra_op_parallelism_threads(1)
    keras.utils.set_random_seed(0)
    gc.freeze()
    t0 = time.perf_counter()
    model = textbook_keras_model()
    hist = model.fit(ds.x_train, ds.y_train, batch_size=BATCH, epochs=epochs, verbose=0,
                     validation_data=(ds.x_val, ds.y_val))
    return time.perf_counter() - t0, float(hist.history["val_sign_acc"][-1])


def run_dataloader(ds, epochs: int) -> tuple[float, float]:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    gc.freeze()
    t0 = time.perf_counter()
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1), nn.Tanh())
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    train = DataLoader(TensorDataset(torch.tensor(ds.x_train), torch.tensor(ds.y_train)), batch_size=BATCH,
                       shuffle=True)
    xv, yv = torch.tensor(ds.x_val), torch.tensor(ds.y_val)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        for xb, yb in train:
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            float(loss_fn(out, yv))
            acc = float((torch.sign(out) == yv).float().mean())
    return time.perf_counter() - t0, acc


def run_engine(backend: str, ds, epochs: int) -> tuple[float, float]:
    from tui_trainer.core.presets import load_preset
    from tui_trainer.engine.session import Session

    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": epochs})
    done: dict[str, float] = {}

    def emit(event) -> None:
        if event.kind == "epoch_ended":
            done["t"], done["acc"] = time.perf_counter(), event.val_acc
        elif event.kind == "run_failed":
            raise SystemExit(f"{backend} run failed: {event.message}")

    session = Session(cfg, ds, threads=1)
    session.freeze_gc = True  # as the CLI's and the app's training processes run it
    t0 = time.perf_counter()
    session.run(emit)
    return done["t"] - t0, done["acc"]


def one(name: str, epochs: int) -> None:
    """Child process: import the framework, make the data, then time one whole run."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if name in ("keras", "tensorflow"):
        import tensorflow  # noqa: F401
    else:
        import torch  # noqa: F401
    ds = circle_data()
    if name == "keras":
        seconds, acc = run_keras(ds, epochs)
    elif name == "dataloader":
        seconds, acc = run_dataloader(ds, epochs)
    else:
        seconds, acc = run_engine(name, ds, epochs)
    print(json.dumps({"seconds": seconds, "acc": acc}))


def measure(name: str, epochs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--one", name, "--epochs", str(epochs)], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("tensorflow", "torch", "both"), default="both")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.epochs)
        return 0
    backends = ["tensorflow", "torch"] if args.backend == "both" else [args.backend]
    names = [n for b in backends for n in (REFERENCE[b], b)]
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name in names:
            got = measure(name, args.epochs)
            if name not in best or got["seconds"] < best[name]["seconds"]:
                best[name] = got
    print(f"circle preset, {args.epochs} epochs, batch {BATCH}, 1 thread; seconds from model creation to the last "
          f"epoch, best of {args.repeat}, fresh process each")
    labels = {"keras": "keras fit", "dataloader": "torch DataLoader loop", "tensorflow": "tui-trainer tensorflow",
              "torch": "tui-trainer torch"}
    for name in names:
        print(f"{labels[name]:<24}{best[name]['seconds']:8.3f} s   final val_acc {best[name]['acc']:.3f}")
    ok = True
    for b in backends:
        ratio = best[REFERENCE[b]]["seconds"] / best[b]["seconds"]
        passed = ratio >= TARGETS[b]
        ok &= passed
        print(f"{b + ' vs ' + labels[REFERENCE[b]] + ':':<42}{ratio:6.1f}x faster   (target >= {TARGETS[b]:g}x)   "
              f"{'PASS' if passed else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
