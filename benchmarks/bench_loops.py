"""Epoch speed of the backends against the textbook loops, measured in one run.

    python benchmarks/bench_loops.py [--epochs 100] [--backend tensorflow|torch|both]

References, on the same model (x1, x2 -> 3 tanh -> 3 tanh -> 1 tanh, MSE, SGD
0.03, batch 15) and the same circle data:

* Keras ``model.fit(batch_size=15, validation_data=...)``: the TensorFlow textbook;
* a PyTorch ``DataLoader`` loop with a validation pass: the PyTorch textbook;
* a hand-written NumPy MLP doing the same work (train + validation per epoch).

Every time is the median seconds per epoch (train + validation), with the first
epoch of each left out as warm-up (tracing, allocation).  Targets: TensorFlow
backend >= 30x faster than ``fit``, PyTorch backend >= 2.5x faster than the
DataLoader loop, both within 10x of NumPy, with the same final accuracy.  The
machine is noisy; only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from tui_trainer.core.control import RunControl
from tui_trainer.core.presets import load_preset
from tui_trainer.data.datasets import load_dataset
from tui_trainer.engine.session import Session

LR, BATCH = 0.03, 15


def median_epoch(times: list[float]) -> float:
    return statistics.median(times[1:] if len(times) > 2 else times)


def run_engine(backend: str, epochs: int) -> tuple[float, float]:
    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": epochs})
    session = Session(cfg, threads=1)
    times: list[float] = []
    accs: list[float] = []

    def emit(event) -> None:
        if event.kind == "epoch_ended":
            times.append(event.seconds)
            accs.append(event.val_acc)
        elif event.kind == "run_failed":
            raise SystemExit(f"{backend} run failed: {event.message}")

    session.run(emit, RunControl())
    return median_epoch(times), accs[-1]


def textbook_keras_model():
    """The textbook's 2-3-3-1 tanh net, compiled as the textbook does (MSE, SGD, sign accuracy)."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(3, activation="tanh"),
        keras.layers.Dense(3, activation="tanh"),
        keras.layers.Dense(1, activation="tanh"),
    ])

    def sign_acc(y_true, y_pred):
        return tf.reduce_mean(tf.cast(tf.equal(tf.sign(y_pred), y_true), tf.float32))

    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse", metrics=[sign_acc])
    return model


def run_keras_fit(ds, epochs: int) -> tuple[float, float]:
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    keras.utils.set_random_seed(0)
    model = textbook_keras_model()

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    times: list[float] = []
    hist = model.fit(ds.x_train, ds.y_train, batch_size=BATCH, epochs=epochs, verbose=0,
                     validation_data=(ds.x_val, ds.y_val), callbacks=[Timer()])
    return median_epoch(times), float(hist.history["val_sign_acc"][-1])


def run_torch_dataloader(ds, epochs: int) -> tuple[float, float]:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1), nn.Tanh())
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.MSELoss()
    train = DataLoader(TensorDataset(torch.tensor(ds.x_train), torch.tensor(ds.y_train)), batch_size=BATCH, shuffle=True)
    xv, yv = torch.tensor(ds.x_val), torch.tensor(ds.y_val)
    times: list[float] = []
    acc = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        total, correct, n = 0.0, 0, 0
        for xb, yb in train:
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            correct += int((torch.sign(out) == yb).sum())
            n += len(xb)
        model.eval()
        with torch.no_grad():
            out = model(xv)
            float(loss_fn(out, yv))
            acc = float((torch.sign(out) == yv).float().mean())
        times.append(time.perf_counter() - t0)
    return median_epoch(times), acc


def run_numpy(ds, epochs: int) -> tuple[float, float]:
    """A plain NumPy MLP with hand-written backprop: the floor for this much work."""
    rng = np.random.default_rng(0)
    sizes = [2, 3, 3, 1]
    W = [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    B = [np.zeros(b) for b in sizes[1:]]
    x, y = ds.x_train.astype(np.float64), ds.y_train.astype(np.float64)
    xv, yv = ds.x_val.astype(np.float64), ds.y_val.astype(np.float64)

    def forward(inp):
        acts = [inp]
        for w, b in zip(W, B, strict=True):
            acts.append(np.tanh(acts[-1] @ w + b))
        return acts

    times: list[float] = []
    acc = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = rng.permutation(len(x))
        loss_sum = 0.0
        for lo in range(0, len(x), BATCH):
            idx = order[lo:lo + BATCH]
            acts = forward(x[idx])
            diff = acts[-1] - y[idx]
            loss_sum += float(np.sum(diff * diff))
            grad = 2 * diff / len(idx)
            for layer in range(len(W) - 1, -1, -1):
                grad = grad * (1 - acts[layer + 1] ** 2)
                gw = acts[layer].T @ grad
                gb = grad.sum(axis=0)
                grad = grad @ W[layer].T
                W[layer] -= LR * gw
                B[layer] -= LR * gb
        out = forward(xv)[-1]
        float(np.mean((out - yv) ** 2))
        acc = float(np.mean(np.where(out >= 0, 1.0, -1.0) == yv))
        times.append(time.perf_counter() - t0)
    return median_epoch(times), acc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--backend", choices=("tensorflow", "torch", "both"), default="both")
    args = parser.parse_args()
    ds = load_dataset(load_preset("circle"))
    rows: list[tuple[str, float, float]] = []
    numpy_t, numpy_acc = run_numpy(ds, args.epochs)
    rows.append(("numpy hand-written MLP", numpy_t, numpy_acc))
    ok = True
    checks: list[str] = []
    # (backend, textbook loop name, textbook loop, speed-up target over it)
    plans = {
        "tensorflow": ("keras fit(batch_size=15)", "fit", run_keras_fit, 30.0),
        "torch": ("torch DataLoader loop", "DataLoader", run_torch_dataloader, 2.5),
    }
    for backend, (ref_name, ref_short, run_ref, target) in plans.items():
        if args.backend not in (backend, "both"):
            continue
        ref_t, ref_acc = run_ref(ds, args.epochs)
        our_t, our_acc = run_engine(backend, args.epochs)
        rows += [(ref_name, ref_t, ref_acc), (f"tui-trainer {backend}", our_t, our_acc)]
        faster, slower = ref_t / our_t, our_t / numpy_t
        same = abs(our_acc - ref_acc) <= 0.03
        label = f"{backend} vs {ref_short}:"
        checks.append(f"{label:<26}{faster:7.1f}x faster   (target >= {target:g}x){' ' * (5 - len(f'{target:g}'))}"
                      f"{'PASS' if faster >= target else 'MISS'}")
        checks.append(f"{backend + ' vs numpy:':<26}{slower:7.1f}x slower   (target <= 10x)   {'PASS' if slower <= 10 else 'MISS'}")
        checks.append(f"{backend} final val_acc {our_acc:.3f} vs {ref_short} {ref_acc:.3f}: {'same' if same else 'DIFFERENT'}")
        ok &= faster >= target and slower <= 10 and same
    print(f"circle preset, {len(ds.x_train)} train / {len(ds.x_val)} val, batch {BATCH}, {args.epochs} epochs, 1 thread each")
    print(f"{'loop':<28}{'ms/epoch':>10}{'final val_acc':>15}")
    for name, t, acc in rows:
        print(f"{name:<28}{t * 1000:>10.2f}{acc:>15.3f}")
    print()
    print("\n".join(checks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
