"""A faster PyTorch training step for dense-only networks (the playground case).

For a 25-parameter network, autograd's bookkeeping costs far more than the
arithmetic: ~300 µs a batch here.  For stacks of Linear layers (with dropout)
the gradients have a short closed form, so this module computes them with plain
tensor ops under ``no_grad`` and hands them to the optimizer through ``.grad``
(``torch_optimizers``: torch.optim's update rules without its dynamo import).  Plain SGD (no momentum) applies the same update
``p -= lr * g`` with one fused ``_foreach_add_`` instead of ``Optimizer.step``.

Tests compare these gradients with autograd's for every activation, loss,
penalty and dropout combination.  Conv nets never take this path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from tui_trainer.backends.base import Head

_EPS = 1e-7


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


def _act(z: torch.Tensor, name: str) -> torch.Tensor:
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return torch.relu(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "softmax":
        return torch.softmax(z, dim=1)
    return z


def _act_grad(g: torch.Tensor, a: torch.Tensor, name: str) -> torch.Tensor:
    """dL/dz from dL/da, written in terms of the activation's output a."""
    # torch.rsub(x, 1.0) is 1.0 - x without the Python-level Tensor.__rsub__ wrapper.
    if name == "tanh":
        return g * torch.rsub(a * a, 1.0)
    if name == "relu":
        return g * (a > 0)
    if name == "sigmoid":
        return g * a * torch.rsub(a, 1.0)
    return g


class Stepper(Protocol):
    """What the step needs of an optimizer: ``torch.optim``'s or ``torch_optimizers.ForeachOptimizer``."""

    def step(self) -> object: ...


class DenseStep:
    """One mini-batch step: forward, closed-form backward, optimizer update."""

    def __init__(self, layers: list[DenseLayer], head: Head, optimizer: Stepper,
                 plain_sgd_lr: float | None, regularization: str, reg_rate: float) -> None:
        self.layers = layers
        self.head = head
        self.optimizer = optimizer
        self.plain_sgd_lr = plain_sgd_lr
        self.regularization = regularization
        self.reg_rate = reg_rate
        self.params = [t for layer in layers for t in (layer.weight, layer.bias)]
        self.has_dropout = any(layer.dropout > 0 for layer in layers)

    def _output_grad(self, z: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean data loss and dL/dz of the output layer's pre-activation z."""
        head = self.head
        act = self.layers[-1].activation
        n = out.shape[0]
        if head.loss == "mse":
            diff = out - y
            loss = (diff * diff).mean()
            return loss, _act_grad(diff * (2.0 / diff.numel()), out, act)
        if head.loss == "binary_crossentropy":
            if act == "linear":  # logits
                p = torch.sigmoid(z)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
            else:  # sigmoid probabilities; the clamp matches the loss the autograd path uses
                p = out
                pc = p.clamp(_EPS, 1 - _EPS)
                loss = -(y * torch.log(pc) + (1 - y) * torch.log(1 - pc)).mean()
            return loss, (p - y) / y.numel()
        # categorical cross-entropy with integer labels
        if act == "linear":
            p = torch.softmax(z, dim=1)
            loss = torch.nn.functional.cross_entropy(z, y)
        else:
            p = out
            loss = -torch.log(p.gather(1, y.view(-1, 1)).clamp(_EPS, 1 - _EPS)).mean()
        g = p.clone()
        g[torch.arange(n), y] -= 1.0
        return loss, g / n

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

    @torch.no_grad()
    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch; returns (mean data loss, outputs) for the epoch's metrics."""
        return self.train_batch(xb, yb)

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``__call__`` for callers already under ``torch.no_grad()`` (the epoch loop): no per-batch guard."""
        inputs: list[torch.Tensor] = []
        acts: list[torch.Tensor] = []
        masks: list[torch.Tensor | None] = []
        h = xb
        z = h
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            inputs.append(h)
            z = torch.addmm(layer.bias, h, layer.weight.T)
            a = _act(z, layer.activation)
            acts.append(a)
            mask = None
            if layer.dropout > 0 and i < last:
                keep = 1.0 - layer.dropout
                mask = (torch.rand_like(a) < keep).to(a.dtype) / keep
                h = a * mask
            else:
                h = a
            masks.append(mask)
        out = acts[-1]
        loss, g = self._output_grad(z, out, yb)
        for i in range(last, -1, -1):
            layer = self.layers[i]
            if i < last:
                if masks[i] is not None:
                    g = g * masks[i]
                g = _act_grad(g, acts[i], layer.activation)
            gw = g.T @ inputs[i]
            if layer.penalize and self.reg_rate > 0 and self.regularization != "none":
                w = layer.weight
                gw = gw + (self.reg_rate * torch.sign(w) if self.regularization == "l1" else (2 * self.reg_rate) * w)
            gb = g.sum(dim=0)
            if i > 0:
                g = g @ layer.weight
            layer.weight.grad = gw
            layer.bias.grad = gb
        if self.plain_sgd_lr is not None:
            torch._foreach_add_(self.params, [p.grad for p in self.params], alpha=-self.plain_sgd_lr)
        else:
            self.optimizer.step()
        return loss, out
