"""A smaller compiled training step for dense-only Keras networks (the playground case).

The TensorFlow backend runs a whole epoch inside one ``tf.function``.  With Keras
layers under a ``GradientTape`` that loop's body is about 100 graph nodes a
batch, and building it (Keras layer calls, the tape's bookkeeping) is most of a
short run's first epoch.  For a stack of Dense layers the gradients have a short
closed form, so this module writes forward and backward as plain TensorFlow ops
on the Keras layers' own variables: about half the nodes a batch, and a trace
that never enters Keras.  Activation gradients are TensorFlow's own
``TanhGrad`` / ``SigmoidGrad`` / ``ReluGrad`` kernels, the ones the tape would
have used.

The same rules as the PyTorch fast path (``torch_dense``): the output delta of
cross-entropy over a sigmoid or softmax is ``p - y``; L1/L2 penalties add their
gradient to the kernels.  ``tests/test_tf_fast_path.py`` compares the gradients
with the tape's for every activation, loss and penalty combination.  Nets with
dropout, convolutions or pooling keep the Keras layers and the tape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from tui_trainer.backends.base import Head

_FORWARD: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid, "softmax": tf.nn.softmax}
#: dL/dz from (dL/da, a), in terms of the activation's output a; missing: identity.
_BACKWARD: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "tanh": lambda g, a: tf.raw_ops.TanhGrad(y=a, dy=g),
    "sigmoid": lambda g, a: tf.raw_ops.SigmoidGrad(y=a, dy=g),
    "relu": lambda g, a: tf.raw_ops.ReluGrad(gradients=g, features=a),  # a > 0 exactly where z > 0
}


def supports(kinds: list[str]) -> bool:
    """Dense layers only, after an optional leading flatten (done here as one reshape)."""
    body = kinds[1:] if kinds and kinds[0] == "flatten" else kinds
    return bool(body) and all(k == "dense" for k in body)


@dataclass
class DenseVars:
    kernel: tf.Variable  # (in, out), the Keras Dense layer's own variable
    bias: tf.Variable
    activation: str  # relu, tanh, sigmoid, linear, softmax (output only)
    penalize: bool


class DenseGraph:
    """Builds, inside a ``tf.function``, one batch's outputs and gradients, or the inference forward pass."""

    def __init__(self, layers: list[DenseVars], head: Head, flatten: bool, regularization: str,
                 reg_rate: float, loss_sum: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> None:
        """``loss_sum(y, out)``: the batch's summed per-sample loss (the backend's, so both paths report alike)."""
        self.layers = layers
        self.loss_sum = loss_sum
        self.head = head
        self.flatten = flatten
        self.regularization = regularization if reg_rate > 0 else "none"
        self.reg_rate = reg_rate
        self.variables = [v for layer in layers for v in (layer.kernel, layer.bias)]

    def _inputs(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, (-1, int(self.layers[0].kernel.shape[0]))) if self.flatten else x

    def _layer_outputs(self, x: tf.Tensor, kernels: list[tf.Tensor]) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        """Each layer's input and output (after its activation), with the kernels given."""
        inputs: list[tf.Tensor] = []
        acts: list[tf.Tensor] = []
        h = self._inputs(x)
        for layer, kernel in zip(self.layers, kernels, strict=True):
            inputs.append(h)
            h = tf.matmul(h, kernel) + layer.bias
            fn = _FORWARD.get(layer.activation)
            if fn is not None:
                h = fn(h)
            acts.append(h)
        return inputs, acts

    def forward(self, x: tf.Tensor) -> tf.Tensor:
        """Inference: what the Keras model computes, without entering Keras."""
        return self._layer_outputs(x, [tf.convert_to_tensor(layer.kernel) for layer in self.layers])[1][-1]

    def _output_delta(self, out: tf.Tensor, y: tf.Tensor, factor: float) -> tuple[tf.Tensor, tf.Tensor]:
        """(dL/dz of the output layer * factor, the batch's summed per-sample loss).

        dL/dz is of the batch's mean loss: ``c / size`` times a delta, with size = samples * outputs.
        """
        loss = self.head.loss
        act = self.layers[-1].activation
        k = int(self.layers[-1].kernel.shape[1])
        size = tf.cast(tf.size(out), tf.float32)
        if loss == "mse":  # mean over outputs and samples of (out - y)^2; its sum per sample from the same diff
            back = _BACKWARD.get(act)
            diff = out - y
            total = tf.reduce_sum(tf.square(diff))
            delta = diff if back is None else back(diff, out)
            return delta * (2.0 * factor) / size, (total if k == 1 else total / k)
        if loss == "binary_crossentropy":
            p = tf.sigmoid(out) if act == "linear" else out
            return (p - y) * factor / size, self.loss_sum(y, out)
        # categorical cross-entropy, integer labels stored as floats; the mean is over samples only
        p = tf.nn.softmax(out) if act == "linear" else out
        return (p - tf.one_hot(tf.cast(y, tf.int32), k)) * (k * factor) / size, self.loss_sum(y, out)

    def step(self, xb: tf.Tensor, yb: tf.Tensor, factor: float) -> tuple[tf.Tensor, list[tf.Tensor], tf.Tensor]:
        """(outputs, gradients * factor, summed loss) for one batch, gradients in ``self.variables`` order.

        ``factor`` is the learning rate for plain SGD, whose update is then a bare ``assign_sub``,
        and 1 for an optimizer that takes the gradients themselves.
        """
        kernels = [tf.convert_to_tensor(layer.kernel) for layer in self.layers]  # one read each, pre-update
        inputs, acts = self._layer_outputs(xb, kernels)
        out = acts[-1]
        g, loss_total = self._output_delta(out, yb, factor)
        grads: list[tf.Tensor] = []
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            layer = self.layers[i]
            if i < last:
                back = _BACKWARD.get(layer.activation)
                if back is not None:
                    g = back(g, acts[i])
            grad_kernel = tf.matmul(inputs[i], g, transpose_a=True)
            if layer.penalize and self.regularization == "l2":
                grad_kernel += (2.0 * self.reg_rate * factor) * kernels[i]
            elif layer.penalize and self.regularization == "l1":
                grad_kernel += (self.reg_rate * factor) * tf.sign(kernels[i])
            grads += [tf.reduce_sum(g, axis=0), grad_kernel]  # reversed below
            if i > 0:
                g = tf.matmul(g, kernels[i], transpose_b=True)
        grads.reverse()
        return out, grads, loss_total
