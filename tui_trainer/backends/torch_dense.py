"""A faster PyTorch training loop for dense-only networks (the playground case).

For a 25-parameter network, autograd's bookkeeping costs far more than the
arithmetic: ~300 µs a batch here.  For stacks of Linear layers (with dropout)
the gradients have a short closed form, so this module computes them with plain
tensor ops under ``no_grad``.  A batch is a few dozen calls into torch of 1-2 µs
each, so the number of calls is the cost, and each path here keeps it small:

* plain SGD (the playground default) never materialises a gradient: each
  layer's update is one ``addmm_`` (``W += -lr * s * g.T @ h``, L2 folded into
  its ``beta``) and one ``addmv_`` for the bias, with the loss's constant
  factor ``s`` folded into ``alpha``.  Activation gradients are aten's own
  ``tanh_backward`` / ``sigmoid_backward`` / ``threshold_backward``, one call
  each.  About 20 calls a batch for the textbook 3-layer net, against ~40 for
  gradients handed to an optimizer;
* every other optimizer gets ``.grad`` and ``torch_optimizers``' fused update
  (torch.optim's rules without its dynamo import);
* no loss is computed per batch: the epoch's loss and metric come from the
  outputs of all its batches (each taken before that batch's update, as a
  per-batch loss would be) in one pass at the end of the epoch.

Tests compare these gradients and updates with autograd and ``torch.optim`` for
every activation, loss, penalty and dropout combination.  Conv nets never take
this path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import torch

from tui_trainer.backends.base import Head

# aten's activation gradients in terms of the output, one call each instead of two or three tensor ops.
_TANH_BACKWARD = torch.ops.aten.tanh_backward
_SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward
_THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward


@dataclass
class DenseLayer:
    weight: torch.Tensor  # (out, in), the nn.Linear's own parameter
    bias: torch.Tensor
    activation: str  # relu, tanh, sigmoid, linear, softmax
    dropout: float  # rate of a Dropout that follows this layer (0 = none)
    penalize: bool


def supports(kinds: list[str]) -> bool:
    """Dense and dropout layers only (a leading flatten is done once on the data)."""
    body = kinds[1:] if kinds and kinds[0] == "flatten" else kinds
    return bool(body) and all(k in ("dense", "dropout") for k in body) and body[0] == "dense"


def _relu_backward(g: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return _THRESHOLD_BACKWARD(g, a, 0)  # a > 0 exactly where z > 0


#: Per activation: the function, and dL/dz from (dL/da, a) in terms of the output a.  Missing: identity.
_FORWARD: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "softmax": partial(torch.softmax, dim=1)}
_BACKWARD: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": _TANH_BACKWARD, "relu": _relu_backward, "sigmoid": _SIGMOID_BACKWARD}


def _act(z: torch.Tensor, name: str) -> torch.Tensor:
    forward = _FORWARD.get(name)
    return z if forward is None else forward(z)


def _act_grad(g: torch.Tensor, a: torch.Tensor, name: str) -> torch.Tensor:
    """dL/dz from dL/da, written in terms of the activation's output a."""
    back = _BACKWARD.get(name)
    return g if back is None else back(g, a)


@dataclass
class _Layer:
    """What a batch reads of one layer, looked up once: tensors, activation functions, dropout."""

    weight: torch.Tensor
    weight_t: torch.Tensor  # a transposed view of weight (shares its storage, so it sees every update)
    bias: torch.Tensor
    forward: Callable[[torch.Tensor], torch.Tensor] | None
    backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    keep: float  # 1 - dropout rate of a Dropout after this layer; 1.0 for none (and for the output layer)
    penalize: bool


class Stepper(Protocol):
    """What the step needs of an optimizer: ``torch.optim``'s or ``torch_optimizers.ForeachOptimizer``."""

    def step(self) -> object: ...


class DenseStep:
    """Forward, closed-form backward and update for one mini-batch, and the loop over an epoch's batches."""

    def __init__(self, layers: list[DenseLayer], head: Head, optimizer: Stepper | None,
                 plain_sgd_lr: float | None, regularization: str, reg_rate: float) -> None:
        self.layers = layers
        self.head = head
        self.optimizer = optimizer
        self.plain_sgd_lr = plain_sgd_lr
        self.regularization = regularization if reg_rate > 0 else "none"
        self.reg_rate = reg_rate
        self.params = [t for layer in layers for t in (layer.weight, layer.bias)]
        self.has_dropout = any(layer.dropout > 0 for layer in layers)
        #: The batch function: fused updates for plain SGD, gradients for an optimizer otherwise.
        self.train_batch: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
            self._sgd_batch if plain_sgd_lr is not None else self._grad_batch)
        self._ones: dict[int, torch.Tensor] = {}  # batch size -> ones, for the bias update as one addmv_
        self._plan = self._make_plan()

    def _make_plan(self) -> list[_Layer]:
        """The layers as a batch reads them; made again each epoch, so weights swapped in between are seen."""
        last = len(self.layers) - 1
        return [_Layer(layer.weight, layer.weight.t(), layer.bias, _FORWARD.get(layer.activation),
                       _BACKWARD.get(layer.activation), 1.0 - layer.dropout if i < last else 1.0, layer.penalize)
                for i, layer in enumerate(self.layers)]

    # -- inference -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Inference (no dropout): the same ops ``nn.Linear`` + activation modules run, minus module calls."""
        h = x
        for layer in self.layers:
            h = _act(torch.addmm(layer.bias, h, layer.weight.T), layer.activation)
        return h

    @torch.no_grad()
    def layer_outputs(self, x: torch.Tensor, kinds: list[str]) -> list[torch.Tensor]:
        """Every spec's output in inference mode (dropout passes its input on), one forward pass.

        ``kinds`` are the spec kinds this step was built from (``supports`` holds for them).
        """
        outs: list[torch.Tensor] = []
        h = x
        layers = iter(self.layers)
        for kind in kinds:
            if kind == "flatten":
                h = h.reshape(len(h), -1)
            elif kind == "dense":
                layer = next(layers)
                h = _act(torch.addmm(layer.bias, h, layer.weight.t()), layer.activation)
            outs.append(h)
        return outs

    # -- training ------------------------------------------------------------------------------
    def train_epoch(self, x_all: torch.Tensor, y_all: torch.Tensor, batch_size: int,
                    should_stop: Callable[[], bool],
                    progress: Callable[[int], None] | None) -> tuple[list[torch.Tensor], int]:
        """Train on consecutive batches of the (already shuffled) epoch; returns each batch's outputs and the count.

        Each output is taken before its batch's update, so the epoch's loss and metric computed from them
        are the ones a per-batch loss would have summed.
        """
        targets = self._targets(y_all)
        outs: list[torch.Tensor] = []
        done = 0
        batch = self.train_batch
        self._plan = self._make_plan()
        with torch.no_grad():  # once per epoch rather than once per batch
            for xb, yb in zip(x_all.split(batch_size), targets.split(batch_size), strict=True):
                if should_stop():
                    break
                outs.append(batch(xb, yb))
                done += xb.shape[0]
                if progress is not None:
                    progress(done)
        return outs, done

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Train on one batch (integer class labels for categorical cross-entropy); returns its outputs."""
        self._plan = self._make_plan()
        return self.train_batch(xb, self._targets(yb))

    def _targets(self, y: torch.Tensor) -> torch.Tensor:
        """What a batch subtracts from its outputs: one-hot rows for class labels (dL/dz = p - onehot(y))."""
        if self.head.loss != "categorical_crossentropy":
            return y
        weight = self.layers[-1].weight
        return torch.nn.functional.one_hot(y, weight.shape[0]).to(weight.dtype)

    def _forward(self, xb: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]:
        """Each layer's input and activation, and the dropout masks drawn (None where a layer has none)."""
        inputs: list[torch.Tensor] = []
        acts: list[torch.Tensor] = []
        masks: list[torch.Tensor | None] = []
        h = xb
        for layer in self._plan:
            inputs.append(h)
            a = torch.addmm(layer.bias, h, layer.weight_t)
            if layer.forward is not None:
                a = layer.forward(a)
            acts.append(a)
            if layer.keep < 1.0:
                mask = (torch.rand_like(a) < layer.keep).to(a.dtype) / layer.keep
                h = a * mask
                masks.append(mask)
            else:
                h = a
                masks.append(None)
        return inputs, acts, masks

    def _output_delta(self, out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, float]:
        """dL/dz of the output layer's pre-activation, as (delta, s) with the true gradient s * delta.

        ``target`` is one-hot for categorical cross-entropy.  Keeping the loss's constant factor s apart
        saves a multiplication a batch: the SGD update folds it into its step size.
        """
        loss = self.head.loss
        act = self.layers[-1].activation
        if loss == "mse":
            return _act_grad(out - target, out, act), 2.0 / out.numel()
        # Cross-entropy over a sigmoid / softmax (or over logits, their own here): dL/dz = (p - y) / n.
        if act == "linear":
            p = torch.sigmoid(out) if loss == "binary_crossentropy" else torch.softmax(out, dim=1)
        else:
            p = out
        scale = 1.0 / (target.numel() if loss == "binary_crossentropy" else out.shape[0])
        return p - target, scale

    def _sgd_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Plain SGD: each layer's gradient goes straight into its update, never stored."""
        inputs, acts, masks = self._forward(xb)
        out = acts[-1]
        g, scale = self._output_delta(out, yb)
        lr = self.plain_sgd_lr
        assert lr is not None  # this method is only chosen with a learning rate
        alpha = -lr * scale
        n = xb.shape[0]
        ones = self._ones.get(n)
        if ones is None:
            ones = self._ones[n] = torch.ones(n, dtype=xb.dtype, device=xb.device)
        reg, rate = self.regularization, self.reg_rate
        plan = self._plan
        last = len(plan) - 1
        for i in range(last, -1, -1):
            layer = plan[i]
            if i < last:
                mask = masks[i]
                if mask is not None:
                    g = g * mask
                if layer.backward is not None:
                    g = layer.backward(g, acts[i])
            w = layer.weight
            back = torch.mm(g, w) if i > 0 else None  # with the weights before this update
            gt = g.t()
            if not layer.penalize or reg == "none":
                w.addmm_(gt, inputs[i], alpha=alpha)
            elif reg == "l2":
                # w - lr * (2 * rate * w + s * g.T @ h): the penalty's gradient is the beta of the same addmm_.
                w.addmm_(gt, inputs[i], beta=1.0 - 2.0 * lr * rate, alpha=alpha)
            else:
                sign = torch.sign(w)
                w.addmm_(gt, inputs[i], alpha=alpha)
                w.add_(sign, alpha=-lr * rate)
            layer.bias.addmv_(gt, ones, alpha=alpha)
            if back is not None:
                g = back
        return out

    def _grad_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Gradients into ``.grad``, then the optimizer's update."""
        inputs, acts, masks = self._forward(xb)
        out = acts[-1]
        g, scale = self._output_delta(out, yb)
        g = g * scale
        last = len(self._plan) - 1
        for i in range(last, -1, -1):
            layer = self._plan[i]
            if i < last:
                mask = masks[i]
                if mask is not None:
                    g = g * mask
                if layer.backward is not None:
                    g = layer.backward(g, acts[i])
            gw = g.T @ inputs[i]
            if layer.penalize and self.regularization != "none":
                w = layer.weight
                gw = gw + (self.reg_rate * torch.sign(w) if self.regularization == "l1" else (2 * self.reg_rate) * w)
            gb = g.sum(dim=0)
            if i > 0:
                g = g @ layer.weight
            layer.weight.grad = gw
            layer.bias.grad = gb
        assert self.optimizer is not None  # this method is only chosen with an optimizer
        self.optimizer.step()
        return out
