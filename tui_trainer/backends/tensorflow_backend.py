"""TensorFlow / Keras 3 backend.

``model.fit`` runs one Python step per batch; here a whole chunk of batches
(an entire epoch for playground data) runs inside one ``tf.function``, which is
what makes tiny networks train at framework speed rather than Python speed.
Dense-only nets compute their gradients in closed form inside that loop
(``tf_dense``); the others run their Keras layers under a ``GradientTape``.
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

from tui_trainer.backends import tf_dense  # noqa: E402

_OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr),
    "momentum": lambda lr: keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7),
    "adamw": lambda lr: keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01, epsilon=1e-7),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr, rho=0.9, epsilon=1e-7),
    "adagrad": lambda lr: keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=0.1, epsilon=1e-7),
}
_EPS = 1e-7
#: Validation sets up to this many rows are evaluated in one call (larger ones in slices).
_EVAL_ROWS = 8192


class TensorFlowBackend:
    name = "tensorflow"

    def __init__(self) -> None:
        self.model: keras.Model | None = None
        self._chunks: dict[int, int] = {}  # batch size -> batches per compiled call, once shrunk
        self._concrete: dict[str, object] = {}
        #: (loss, outputs) of the validation pass run with the last epoch, until ``evaluate`` takes it.
        self._validation: tuple[float, tf.Tensor] | None = None
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
        self._dense = self._dense_graph(specs)
        self._build_functions()
        params = int(sum(int(np.prod(v.shape)) for v in self.model.weights))
        device = "GPU:0" if "GPU" in self._device else "CPU"
        return summary_from_specs(specs, self.name, device, params, input_shape)

    def _dense_graph(self, specs: list[LayerSpec]) -> tf_dense.DenseGraph | None:
        """The closed-form step for dense-only nets, on the Keras layers' variables; None for the others."""
        if not tf_dense.supports([s.kind for s in specs]):
            return None
        dense = [(spec, layer) for spec, layer in zip(specs, self._layers, strict=True) if spec.kind == "dense"]
        graph = tf_dense.DenseGraph(
            [tf_dense.DenseVars(layer.kernel.value, layer.bias.value, spec.activation, spec.regularize)
             for spec, layer in dense],
            self.head, specs[0].kind == "flatten", self.opts.regularization, self.opts.reg_rate,
            lambda y, out: tf.reduce_sum(self._per_sample_loss(y, out)))
        # The optimizer is handed gradients in the model's own variable order: check it is the graph's.
        if [id(v.value) for v in self.model.trainable_variables] != [id(v) for v in graph.variables]:
            return None
        return graph

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
    def _mean_of_outputs(self, per_output):
        """The mean over the output columns, per sample.

        With one output column (every binary and most regression heads) that mean is the
        value itself, bit for bit; squeezing instead of ``reduce_mean`` leaves out the ~25
        shape ops its gradient adds to every batch of the compiled loop.
        """
        if per_output.shape[-1] == 1:
            return tf.squeeze(per_output, axis=-1)
        return tf.reduce_mean(per_output, axis=-1)

    def _per_sample_loss(self, y, out):
        head = self.head
        if head.loss == "mse":
            return self._mean_of_outputs(tf.square(out - y))
        if head.loss == "binary_crossentropy":
            if head.from_logits:
                return self._mean_of_outputs(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=out))
            p = tf.clip_by_value(out, _EPS, 1.0 - _EPS)
            return -self._mean_of_outputs(y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p))
        labels = tf.cast(y, tf.int32)
        if head.from_logits:
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=out)
        p = tf.clip_by_value(out, _EPS, 1.0 - _EPS)
        return -tf.math.log(tf.gather(p, labels, axis=1, batch_dims=1))

    def _metric_sum(self, y, out):
        """The batch's metric summed over its samples (an accuracy counts the right ones)."""
        head = self.head
        if head.metric == "mae":
            return tf.reduce_sum(self._mean_of_outputs(tf.abs(out - y)))
        if head.metric == "argmax":
            right = tf.equal(tf.argmax(out, axis=1, output_type=tf.int32), tf.cast(y, tf.int32))
            return tf.reduce_sum(tf.cast(right, tf.float32))
        label_cut = 0.5 if head.loss == "binary_crossentropy" else 0.0
        if out.shape[-1] != 1:  # the first column decides; a single column is compared as it is (no squeeze)
            out, y = out[:, :1], y[:, :1]
        return tf.reduce_sum(tf.cast(tf.equal(out >= head.threshold, y > label_cut), tf.float32))

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
        dense = self._dense
        plain_sgd = self.opts.optimizer == "sgd"
        # The closed-form step scales its gradients by the learning rate itself for plain SGD.
        factor = self.opts.learning_rate if plain_sgd else 1.0
        if plain_sgd:
            # Plain SGD is Keras's own update, ``var -= grad * lr`` (same ops, same float32 numbers),
            # without the optimizer's per-step bookkeeping (a step counter, learning-rate reads,
            # identity ops): ~17 fewer ops per batch to trace and to run.  The closed-form step's
            # gradients come already multiplied by lr.
            rate = tf.constant(self.opts.learning_rate, tf.float32)
            tf_variables = [v.value for v in variables]  # the tf.Variables under Keras's, as Keras updates them

            def apply(grads):
                for grad, var in zip(grads, tf_variables, strict=True):
                    var.assign_sub(grad if dense is not None else grad * rate)
        else:
            def apply(grads):
                optimizer.apply_gradients(zip(grads, variables, strict=True))

        penalized = bool(self._penalized) and self.opts.reg_rate > 0

        def tape_step(xb, yb):
            with tf.GradientTape() as tape:
                out = model(xb, training=True)
                per_sample = self._per_sample_loss(yb, out)
                if penalized:
                    total = tf.reduce_mean(per_sample) + self._penalty()
            if penalized:
                grads = tape.gradient(total, variables)
            else:
                # The batch mean's gradient, 1/n for every sample, given straight to the tape:
                # the same float32 1/n that ``reduce_mean``'s gradient divides out, without the
                # ~25 dynamic-shape ops it builds for every batch of the loop.
                share = 1.0 / tf.cast(tf.shape(per_sample)[0], tf.float32)
                grads = tape.gradient(per_sample, variables, output_gradients=tf.fill(tf.shape(per_sample), share))
            return out, per_sample, grads

        def train_loop(x, y, order, start, stop, batch_size):
            """Batches start..stop of the epoch's order; returns the sums of their loss and metric."""
            n = tf.shape(order)[0]

            def batch(b):
                lo = b * batch_size
                # A gather over a range rather than ``order[lo:hi]``: no stack ops for the slice's bounds.
                idx = tf.gather(order, tf.range(lo, tf.minimum(lo + batch_size, n)))
                return tf.gather(x, idx), tf.gather(y, idx)

            if dense is not None:
                def dense_body(b, loss_sum, metric_sum):
                    xb, yb = batch(b)
                    out, grads, loss = dense.step(xb, yb, factor)
                    apply(grads)
                    return (b + 1, loss_sum + loss, metric_sum + self._metric_sum(yb, out))

                _, loss_sum, metric_sum = tf.while_loop(
                    lambda b, *_: b < stop, dense_body, (start, tf.constant(0.0), tf.constant(0.0)))
                return loss_sum, metric_sum

            def body(b, loss_sum, metric_sum):
                xb, yb = batch(b)
                out, per_sample, grads = tape_step(xb, yb)
                apply(grads)
                return b + 1, loss_sum + tf.reduce_sum(per_sample), metric_sum + self._metric_sum(yb, out)

            _, loss_sum, metric_sum = tf.while_loop(
                lambda b, *_: b < stop, body, (start, tf.constant(0.0), tf.constant(0.0)))
            return loss_sum, metric_sum

        def infer(x):
            return dense.forward(x) if dense is not None else model(x, training=False)

        # autograph=False: the loop is an explicit tf.while_loop, so tracing skips autograph's
        # source rewriting (~0.6 s of a playground run's first epoch).
        @tf.function(reduce_retracing=True, autograph=False)
        def train_chunk(x, y, order, start, stop, batch_size):
            return tf.stack(train_loop(x, y, order, start, stop, batch_size))

        # A whole epoch in one chunk, then the validation pass, in one graph: one trace and one
        # first-run instantiation per run instead of two, one call per epoch instead of two, and
        # one copy of the three sums to the host.  The validation forward reads the weights the
        # loop wrote: tf.function orders it after the loop (both touch the same variables).
        @tf.function(reduce_retracing=True, autograph=False)
        def train_epoch_and_evaluate(x, y, order, stop, batch_size, xv, yv):
            loss_sum, metric_sum = train_loop(x, y, order, tf.constant(0), stop, batch_size)
            out = infer(xv)
            return tf.stack([loss_sum, metric_sum, tf.reduce_sum(self._per_sample_loss(yv, out))]), out

        # One trace for every batch size (validation, map grid, predict box), not one per shape.
        @tf.function(input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)], autograph=False)
        def forward(x):
            return infer(x)

        @tf.function(reduce_retracing=True, autograph=False)
        def loss_sum(y, out):
            return tf.reduce_sum(self._per_sample_loss(y, out))

        @tf.function(reduce_retracing=True, autograph=False)
        def evaluate_all(x, y):  # validation outputs and loss in one call per epoch
            out = infer(x)
            return tf.reduce_sum(self._per_sample_loss(y, out)), out

        self._evaluate_all = evaluate_all
        self._train_chunk = train_chunk
        self._train_epoch_and_evaluate = train_epoch_and_evaluate
        self._forward = forward
        self._loss_sum = loss_sum
        self._layer_outputs = None  # made on the first ``activations`` call: most runs never need it

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
        self._validation = None
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
        self._validation = None
        with tf.device(self._device):
            if n_batches <= per_chunk and int(self._yv.shape[0]) <= _EVAL_ROWS:
                return self._epoch_in_one_call(order_t, n_batches, bs, should_stop, progress)
            start = 0
            while start < n_batches:
                if should_stop():
                    return EpochStats(loss_total / max(done, 1), metric_total / max(done, 1), done, stopped=True)
                stop = min(start + per_chunk, n_batches)
                traced = "train" in self._concrete
                t0 = time.perf_counter()
                sums = self._call("train", self._train_chunk, self._x, self._y, order_t, tf.constant(start),
                                  tf.constant(stop), bs).numpy()
                loss_total += float(sums[0])
                metric_total += float(sums[1])
                seconds = time.perf_counter() - t0
                done = min(stop * batch_size, n)
                if progress is not None:
                    progress(done)
                if traced:
                    per_chunk = self._shrink_chunks(batch_size, per_chunk, stop - start, seconds)
                start = stop
        return EpochStats(loss_total / n, metric_total / n, n)

    def _epoch_in_one_call(self, order_t: tf.Tensor, n_batches: int, bs: tf.Tensor,
                           should_stop: Callable[[], bool], progress: Callable[[int], None] | None) -> EpochStats:
        """The whole epoch and its validation pass in one compiled call (playground-sized data).

        ``evaluate`` then returns the validation numbers this call computed, with the
        weights the epoch ended on, instead of calling into TensorFlow again.
        """
        if should_stop():
            return EpochStats(0.0, 0.0, 0, stopped=True)
        n = int(order_t.shape[0])
        traced = "train+evaluate" in self._concrete
        t0 = time.perf_counter()
        sums, out = self._call("train+evaluate", self._train_epoch_and_evaluate, self._x, self._y, order_t,
                               tf.constant(n_batches), bs, self._xv, self._yv)
        sums = sums.numpy()
        self._validation = (float(sums[2]) / max(int(self._yv.shape[0]), 1), out)
        if progress is not None:
            progress(n)
        if traced:
            self._shrink_chunks(int(bs), n_batches, n_batches, time.perf_counter() - t0)
        return EpochStats(float(sums[0]) / n, float(sums[1]) / n, n)

    def _shrink_chunks(self, batch_size: int, per_chunk: int, ran: int, seconds: float) -> int:
        """Batches per call from now on: fewer when ``ran`` batches took over 2 * CHUNK_SECONDS.

        A heavy net (a CNN on a CPU) gets smaller chunks, so stop requests and progress are
        seen about every CHUNK_SECONDS; start/stop are tensors, so nothing is traced again.
        Only calls of an already traced function count: a first call's time is mostly tracing
        and instantiating the graph (on a loaded machine it passed 0.5 s and cut a playground
        epoch into three calls for the rest of the run).
        """
        if seconds > 2 * CHUNK_SECONDS and ran > 1:
            per_chunk = max(1, int(ran * CHUNK_SECONDS / seconds))
            self._chunks[batch_size] = per_chunk
        return per_chunk

    def _outputs(self, x) -> tf.Tensor:
        n = int(x.shape[0])
        step = 8192
        if n <= step:
            return self._forward(x)
        return tf.concat([self._forward(x[i : i + step]) for i in range(0, n, step)], axis=0)

    def evaluate(self) -> tuple[float, np.ndarray]:
        if self._validation is not None:  # computed with the epoch, on the weights it ended on
            (loss, out), self._validation = self._validation, None
            return loss, out.numpy()
        n = max(int(self._yv.shape[0]), 1)
        with tf.device(self._device):
            if n <= _EVAL_ROWS:
                total, out = self._call("evaluate", self._evaluate_all, self._xv, self._yv)
                return float(total) / n, out.numpy()
            out = self._outputs(self._xv)
            loss = float(self._loss_sum(self._yv, out)) / n
        return loss, out.numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        with tf.device(self._device):
            return self._outputs(tf.constant(np.asarray(x, np.float32))).numpy()

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        if self._layer_outputs is None:
            # Every layer's output from one graph, for the network view.
            probe = keras.Model(self.model.inputs, [layer.output for layer in self._layers])
            self._layer_outputs = tf.function(lambda x: probe(x, training=False), reduce_retracing=True,
                                              autograph=False)
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
