"""MNIST-sized MLP epochs: each tui-trainer backend against Keras ``model.fit``.

    python benchmarks/bench_mnist.py [--epochs 3] [--repeats 1] [--threads N] [--progress-only]

The model is the MNIST quickstart MLP, 784 -> 128 relu -> 10 logits, Adam
0.001, sparse categorical cross-entropy, batch 32, on synthetic data of MNIST's
shape (60,000 × 784 training rows, 10,000 validation rows, 10 classes): the
speed of an epoch doesn't depend on what the pixels show, and MNIST itself may
not be on the machine.

* ``keras fit``: ``model.fit(x, y, batch_size=32, validation_data=...)``, the textbook;
* ``tensorflow`` / ``torch``: a tui-trainer ``Session`` on the same arrays, i.e.
  the engine's own loop (train epoch + validation pass).

An epoch's time includes the validation pass on both sides.  Each measurement
runs in its own process so that TensorFlow's and PyTorch's thread pools never
compete for the cores; the first epoch (tracing, allocation) is left out and
the median of the rest is reported.  Target: ratio = keras_fit / backend >= 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

N_TRAIN, N_VAL, N_IN, N_HIDDEN, N_CLASSES = 60_000, 10_000, 784, 128, 10
BATCH, LR = 32, 0.001


def make_data(seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((N_TRAIN + N_VAL, N_IN), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, N_TRAIN + N_VAL).astype(np.int64)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def warm_median(times: list[float]) -> float:
    return statistics.median(times[1:] if len(times) > 1 else times)


def worker_keras(epochs: int, threads: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    x, y, xv, yv = make_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((N_IN,)),
        keras.layers.Dense(N_HIDDEN, activation="relu"),
        keras.layers.Dense(N_CLASSES),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # after the validation pass
            times.append(time.perf_counter() - self.t0)

    hist = model.fit(x, y, batch_size=BATCH, epochs=epochs, validation_data=(xv, yv), verbose=0, callbacks=[Timer()])
    return {"times": times, "loss": hist.history["loss"][-1]}


def worker_backend(backend: str, epochs: int, threads: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tui_trainer.core.config import from_dict
    from tui_trainer.data.datasets import Dataset
    from tui_trainer.engine.session import train

    x, y, xv, yv = make_data()
    ds = Dataset(name="mnist-shaped", task="multiclass", x_train=x, y_train=y, x_val=xv, y_val=yv,
                 feature_names=("pixels",), class_names=tuple(str(i) for i in range(N_CLASSES)))
    cfg = from_dict({
        "data": {"dataset": "mnist"},
        "model": {"layers": [{"type": "dense", "units": N_HIDDEN, "activation": "relu"}], "output_activation": "linear"},
        "train": {"backend": backend, "optimizer": "adam", "learning_rate": LR, "loss": "categorical_crossentropy",
                  "batch_size": BATCH, "epochs": epochs},
    })
    times: list[float] = []
    losses: list[float] = []

    def emit(event) -> None:
        if event.kind == "epoch_ended":
            times.append(event.seconds)
            losses.append(event.loss)

    _, result = train(cfg, emit, dataset=ds, threads=threads)
    if result.failed:
        raise SystemExit(f"{backend}: {result.failed.message}")
    return {"times": times, "loss": losses[-1]}


def measure(which: str, epochs: int, threads: int, env: dict[str, str] | None = None) -> dict:
    """Run one worker in a fresh process and read its JSON answer."""
    cmd = [sys.executable, __file__, "--worker", which, "--epochs", str(epochs), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: Issue 14: reporting progress inside epochs may cost at most this share of an epoch.
PROGRESS_TARGET = 0.02


def progress_overhead(epochs: int, repeats: int, threads: int) -> bool:
    """Each backend's warm epoch with in-epoch progress reporting on (as shipped) and off.

    ``TUI_TRAINER_PROGRESS=off`` makes the engine pass no reporter to the batch
    loop.  With it on, an MNIST epoch (seconds long) sends an ``EpochProgress``
    every half second after its first second, and checks the clock every batch
    (PyTorch) or chunk (TensorFlow).  Interleaved on/off runs, best of ``repeats``.
    """
    print()
    print(f"progress inside epochs: warm epoch with reporting on vs off, best of {repeats} interleaved")
    print(f"{'backend':<12}{'on s/epoch':>11}{'off s/epoch':>12}{'on/off':>8}  target")
    ok = True
    for backend in ("tensorflow", "torch"):
        best = {"on": float("inf"), "off": float("inf")}
        for _ in range(repeats):
            for mode in ("off", "on"):
                env = {"TUI_TRAINER_PROGRESS": mode}
                best[mode] = min(best[mode], warm_median(measure(backend, epochs, threads, env)["times"]))
        ratio = best["on"] / best["off"]
        passed = ratio <= 1 + PROGRESS_TARGET
        ok &= passed
        print(f"{backend:<12}{best['on']:>11.3f}{best['off']:>12.3f}{ratio:>8.3f}  "
              f"{'ok' if passed else 'MISSED'} (on/off <= {1 + PROGRESS_TARGET:.2f})")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs per measurement; the first is warm-up (default 3)")
    p.add_argument("--repeats", type=int, default=1, help="measurements per contender, alternating (default 1)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="CPU threads for every contender")
    p.add_argument("--progress-only", action="store_true",
                   help="only the cost of progress reporting inside epochs (on vs off), not the Keras comparison")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        out = worker_keras(args.epochs, args.threads) if args.worker == "keras" else worker_backend(
            args.worker, args.epochs, args.threads)
        print(json.dumps(out))
        return 0
    if args.progress_only:
        return 0 if progress_overhead(args.epochs, max(args.repeats, 2), args.threads) else 1

    contenders = ("keras", "tensorflow", "torch")
    times: dict[str, list[float]] = {c: [] for c in contenders}
    losses: dict[str, float] = {}
    for _ in range(args.repeats):
        for c in contenders:
            out = measure(c, args.epochs, args.threads)
            times[c].append(warm_median(out["times"]))
            losses[c] = out["loss"]
    best = {c: min(t) for c, t in times.items()}
    keras_time = best["keras"]
    print(f"MNIST-shaped MLP epoch: {N_TRAIN:,} x {N_IN} -> {N_HIDDEN} relu -> {N_CLASSES}, batch {BATCH}, Adam {LR}, "
          f"+ validation on {N_VAL:,}; {args.threads} threads; warm epoch, best of {args.repeats}")
    print(f"{'contender':<22}{'s/epoch':>9}{'ratio':>8}{'last loss':>11}  target")
    print(f"{'keras model.fit':<22}{keras_time:>9.3f}{1.0:>8.2f}{losses['keras']:>11.4f}")
    ok = True
    for c in ("tensorflow", "torch"):
        ratio = keras_time / best[c]
        ok &= ratio >= 1.0
        print(f"{'tui-trainer ' + c:<22}{best[c]:>9.3f}{ratio:>8.2f}{losses[c]:>11.4f}  "
              f"{'ok' if ratio >= 1.0 else 'MISSED'} (ratio = keras_fit / backend >= 1.0)")
    ok &= progress_overhead(args.epochs, max(args.repeats, 2), args.threads)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
