"""TensorFlow / Keras 3 backend.

``model.fit`` runs one Python step per batch; here a whole chunk of batches
(an entire epoch for playground data) runs inside one ``tf.function``, which is
what makes tiny networks train at framework speed rather than Python speed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tui_trainer.backends.base import (
    CHUNK_SAMPLES,
    CHUNK_SECONDS,
    BuildOptions,
    EpochStats,
    Head,
    binary_targets,
    layer_names,
    summary_from_specs,
)
from tui_trainer.core.errors import BackendUnavailable
from tui_trainer.core.events import ModelSummary
from tui_trainer.core.layers import LayerSpec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

_OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr),
    "momentum": lambda lr: keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7),
    "adamw": lambda lr: keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01, epsilon=1e-7),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=1e-7),
    "adagrad": lambda lr: keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=0.1, epsilon=1e-7),
}
_EPS = 1e-7


class TensorFlowBackend:
    name = "tensorflow"

    def __init__(self) -> None:
        self.model: keras.Model | None = None
        self._chunks: dict[int, int] = {}  # batch size -> batches per compiled call, once shrunk
        self._concrete: dict[str, object] = {}
        self._device = "/CPU:0"

    # -- build -------------------------------------------------------------------------------
    def _pick_device(self, want: str) -> str:
        gpus = tf.config.list_physical_devices("GPU")
        if want == "cuda" and not gpus:
            raise BackendUnavailable(
                "train.device: 'cuda' was asked for but TensorFlow sees no GPU here; "
                "use device = \"auto\" or \"cpu\", or install tensorflow[and-cuda] on a GPU machine"
            )
        if want in ("auto", "cuda") and gpus:
            return "/GPU:0"
        return "/CPU:0"

    def build(self, specs: list[LayerSpec], head: Head, input_shape: tuple[int, ...], opts: BuildOptions) -> ModelSummary:
        self.head = head
        self.opts = opts
        self._device = self._pick_device(opts.device)
        if opts.threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(opts.threads)
            except RuntimeError:
                pass  # already initialised in this process; the first setting stays
        # Grappler's graph rewrites cost ~40 ms on a function's first call and win nothing on a
        # few-hundred-parameter net; big nets (conv fusions) keep them.  Process-wide, set per build.
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": sum(s.params for s in specs) < 100_000})
        names = layer_names(specs)
        with tf.device(self._device):
            inputs = keras.Input(shape=input_shape)
            x = inputs
            self._penalized = []
            self._layers: list[keras.layers.Layer] = []
            for i, (spec, name) in enumerate(zip(specs, names, strict=True)):
                layer = self._layer(spec, name, opts.seed * 1000 + i)
                x = layer(x)
                self._layers.append(layer)
                if spec.regularize:
                    self._penalized.append(layer)
            self.model = keras.Model(inputs, x)
            self.optimizer = _OPTIMIZERS[opts.optimizer](opts.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
        self._build_functions()
        params = int(sum(int(np.prod(v.shape)) for v in self.model.weights))
        device = "GPU:0" if "GPU" in self._device else "CPU"
        return summary_from_specs(specs, self.name, device, params, input_shape)

    @staticmethod
    def _layer(spec: LayerSpec, name: str, seed: int) -> keras.layers.Layer:
        act = None if spec.activation == "linear" else spec.activation
        init = keras.initializers.GlorotUniform(seed=seed)
        if spec.kind == "dense":
            return keras.layers.Dense(spec.units, activation=act, kernel_initializer=init, name=name)
        if spec.kind == "dropout":
            return keras.layers.Dropout(spec.rate, seed=seed, name=name)
        if spec.kind == "flatten":
            return keras.layers.Flatten(name=name)
        if spec.kind == "conv2d":
            return keras.layers.Conv2D(
                spec.filters, spec.kernel, strides=spec.stride, padding=spec.padding,
                activation=act, kernel_initializer=init, name=name,
            )
        if spec.kind == "maxpool2d":
            return keras.layers.MaxPooling2D(pool_size=spec.size, name=name)
        raise ValueError(f"unknown layer kind {spec.kind}")

    # -- compiled pieces ---------------------------------------------------------------------
    def _per_sample_loss(self, y, out):
        head = self.head
        if head.loss == "mse":
            return tf.reduce_mean(tf.square(out - y), axis=-1)
        if head.loss == "binary_crossentropy":
            if head.from_logits:
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=out), axis=-1)
            p = tf.clip_by_value(out, _EPS, 1.0 - _EPS)
            return -tf.reduce_mean(y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p), axis=-1)
        labels = tf.cast(y, tf.int32)
        if head.from_logits:
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=out)
        p = tf.clip_by_value(out, _EPS, 1.0 - _EPS)
        return -tf.math.log(tf.gather(p, labels, axis=1, batch_dims=1))

    def _per_sample_metric(self, y, out):
        head = self.head
        if head.metric == "mae":
            return tf.reduce_mean(tf.abs(out - y), axis=-1)
        if head.metric == "argmax":
            return tf.cast(tf.equal(tf.argmax(out, axis=1, output_type=tf.int32), tf.cast(y, tf.int32)), tf.float32)
        label_cut = 0.5 if head.loss == "binary_crossentropy" else 0.0
        pred = out[:, 0] >= head.threshold
        true = y[:, 0] > label_cut
        return tf.cast(tf.equal(pred, true), tf.float32)

    def _penalty(self):
        if not self._penalized or self.opts.reg_rate <= 0:
            return tf.constant(0.0)
        rate = self.opts.reg_rate
        total = tf.constant(0.0)
        for layer in self._penalized:
            k = layer.kernel
            total += tf.reduce_sum(tf.abs(k)) if self.opts.regularization == "l1" else tf.reduce_sum(tf.square(k))
        return rate * total

    def _build_functions(self) -> None:
        model = self.model
        optimizer = self.optimizer
        variables = model.trainable_variables

        # autograph=False: the loop is an explicit tf.while_loop, so tracing skips autograph's
        # source rewriting (~0.6 s of a playground run's first epoch).
        @tf.function(reduce_retracing=True, autograph=False)
        def train_chunk(x, y, order, start, stop, batch_size):
            n = tf.shape(order)[0]

            def body(b, loss_sum, metric_sum):
                lo = b * batch_size
                hi = tf.minimum(lo + batch_size, n)
                idx = order[lo:hi]
                xb = tf.gather(x, idx)
                yb = tf.gather(y, idx)
                with tf.GradientTape() as tape:
                    out = model(xb, training=True)
                    per_sample = self._per_sample_loss(yb, out)
                    total = tf.reduce_mean(per_sample) + self._penalty()
                grads = tape.gradient(total, variables)
                optimizer.apply_gradients(zip(grads, variables, strict=True))
                return (b + 1, loss_sum + tf.reduce_sum(per_sample),
                        metric_sum + tf.reduce_sum(self._per_sample_metric(yb, out)))

            _, loss_sum, metric_sum = tf.while_loop(
                lambda b, *_: b < stop, body, (start, tf.constant(0.0), tf.constant(0.0)))
            return loss_sum, metric_sum

        # One trace for every batch size (validation, map grid, predict box), not one per shape.
        @tf.function(input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)], autograph=False)
        def forward(x):
            return model(x, training=False)

        # Every layer's output from one graph, for the network view (see ``activations``).
        probe = keras.Model(model.inputs, [layer.output for layer in self._layers])

        @tf.function(reduce_retracing=True, autograph=False)
        def layer_outputs(x):
            return probe(x, training=False)

        @tf.function(reduce_retracing=True, autograph=False)
        def loss_sum(y, out):
            return tf.reduce_sum(self._per_sample_loss(y, out))

        @tf.function(reduce_retracing=True, autograph=False)
        def evaluate_all(x, y):  # validation outputs and loss in one call per epoch
            out = model(x, training=False)
            return tf.reduce_sum(self._per_sample_loss(y, out)), out

        self._evaluate_all = evaluate_all
        self._train_chunk = train_chunk
        self._forward = forward
        self._loss_sum = loss_sum
        self._layer_outputs = layer_outputs

    def _call(self, name: str, fn, *args):
        """``fn(*args)``, through its concrete function after the first call.

        A ``tf.function`` call matches its arguments against every trace it holds
        (~0.1 ms here), twice an epoch; the arrays keep their shapes for a whole
        run, so the first call's concrete function serves every later one.
        """
        concrete = self._concrete.get(name)
        if concrete is None:
            out = fn(*args)
            self._concrete[name] = fn.get_concrete_function(*args)
            return out
        return concrete(*args)

    # -- data and loops ------------------------------------------------------------------------
    def set_data(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        self._concrete = {}  # new shapes: traced again on first use
        with tf.device(self._device):
            self._x = tf.constant(np.asarray(x_train, np.float32))
            self._y = tf.constant(self._targets(y_train))
            self._xv = tf.constant(np.asarray(x_val, np.float32))
            self._yv = tf.constant(self._targets(y_val))

    def _targets(self, y: np.ndarray) -> np.ndarray:
        if self.head.task == "multiclass":
            return np.asarray(y, np.float32).reshape(-1)
        return binary_targets(np.asarray(y, np.float32).reshape(len(y), -1), self.head)

    def train_epoch(self, order: np.ndarray, batch_size: int, should_stop: Callable[[], bool],
                    progress: Callable[[int], None] | None = None) -> EpochStats:
        n = len(order)
        n_batches = math.ceil(n / batch_size)
        per_chunk = self._chunks.get(batch_size) or max(1, CHUNK_SAMPLES // batch_size)
        order_t = tf.constant(np.asarray(order, np.int32))
        bs = tf.constant(batch_size, tf.int32)
        loss_total = 0.0
        metric_total = 0.0
        done = 0
        with tf.device(self._device):
            start = 0
            while start < n_batches:
                if should_stop():
                    return EpochStats(loss_total / max(done, 1), metric_total / max(done, 1), done, stopped=True)
                stop = min(start + per_chunk, n_batches)
                t0 = time.perf_counter()
                ls, ms = self._call("train", self._train_chunk, self._x, self._y, order_t, tf.constant(start),
                                    tf.constant(stop), bs)
                loss_total += float(ls)
                metric_total += float(ms)
                seconds = time.perf_counter() - t0
                done = min(stop * batch_size, n)
                if progress is not None:
                    progress(done)
                if seconds > 2 * CHUNK_SECONDS and stop - start > 1:
                    # A heavy net (a CNN on a CPU): smaller chunks, so stop requests and progress
                    # are seen about every CHUNK_SECONDS. start/stop are tensors: no retracing.
                    per_chunk = max(1, int((stop - start) * CHUNK_SECONDS / seconds))
                    self._chunks[batch_size] = per_chunk
                start = stop
        return EpochStats(loss_total / n, metric_total / n, n)

    def _outputs(self, x) -> tf.Tensor:
        n = int(x.shape[0])
        step = 8192
        if n <= step:
            return self._forward(x)
        return tf.concat([self._forward(x[i : i + step]) for i in range(0, n, step)], axis=0)

    def evaluate(self) -> tuple[float, np.ndarray]:
        n = max(int(self._yv.shape[0]), 1)
        with tf.device(self._device):
            if n <= 8192:
                total, out = self._call("evaluate", self._evaluate_all, self._xv, self._yv)
                return float(total) / n, out.numpy()
            out = self._outputs(self._xv)
            loss = float(self._loss_sum(self._yv, out)) / n
        return loss, out.numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        with tf.device(self._device):
            return self._outputs(tf.constant(np.asarray(x, np.float32))).numpy()

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        with tf.device(self._device):
            outs = self._layer_outputs(tf.constant(np.asarray(x, np.float32)))
        outs = outs if isinstance(outs, list | tuple) else [outs]
        return [np.asarray(o) for o in outs]

    def weights(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for layer in self._layers:
            if isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
                out.append((np.asarray(layer.kernel.numpy()), np.asarray(layer.bias.numpy())))
            else:
                out.append(None)
        return out

    def save(self, path: Path) -> Path:
        target = Path(path).with_suffix(".keras")
        self.model.save(target)
        return target
