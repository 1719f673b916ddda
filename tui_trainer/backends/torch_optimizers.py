"""The six optimizers for the dense fast path, as a few fused ``torch._foreach_*`` calls.

Why not ``torch.optim``: constructing any ``torch.optim.Optimizer`` imports
``torch._dynamo`` (``add_param_group`` and ``step`` are wrapped in
``torch._disable_dynamo``), which costs ~0.7 s, a third of a whole playground
run, and every ``step()`` then pays hooks, a profiler record and two dynamo
graph breaks.  The dense fast path already computes the gradients itself; these
apply them with the same update rules and hyperparameters as ``torch.optim``
(``SGD``, ``SGD(momentum=0.9)``, ``Adam``, ``AdamW(weight_decay=0.01)``,
``RMSprop(alpha=0.9)``, ``Adagrad(initial_accumulator_value=0.1)``, eps 1e-7),
op for op, so a run gives the same numbers (``tests/test_torch_optimizers.py``
compares them with ``torch.optim`` step by step).  Conv nets use autograd and
the real ``torch.optim``.
"""

from __future__ import annotations

import torch

EPS = 1e-7
NAMES = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")


class ForeachOptimizer:
    """Updates ``params`` in place from their ``.grad``; ``step()`` like ``torch.optim``."""

    def __init__(self, name: str, params: list[torch.Tensor], lr: float) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown optimizer {name!r}")
        self.name = name
        self.params = list(params)
        self.lr = float(lr)
        self.steps = 0
        zeros = [torch.zeros_like(p) for p in self.params]
        if name == "momentum":
            self.buffers: list[torch.Tensor] | None = None  # torch.optim starts from the first gradient
        elif name in ("adam", "adamw"):
            self.exp_avgs = zeros
            self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        elif name == "rmsprop":
            self.square_avgs = zeros
        elif name == "adagrad":
            self.state_sums = [torch.full_like(p, 0.1) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        params, lr = self.params, self.lr
        grads = [p.grad for p in params]
        self.steps += 1
        name = self.name
        if name == "sgd":
            torch._foreach_add_(params, grads, alpha=-lr)
        elif name == "momentum":
            if self.buffers is None:
                self.buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.buffers, 0.9)
                torch._foreach_add_(self.buffers, grads)
            torch._foreach_add_(params, self.buffers, alpha=-lr)
        elif name in ("adam", "adamw"):
            beta1, beta2 = 0.9, 0.999
            if name == "adamw":
                torch._foreach_mul_(params, 1 - lr * 0.01)
            torch._foreach_lerp_(self.exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(self.exp_avg_sqs, beta2)
            torch._foreach_addcmul_(self.exp_avg_sqs, grads, grads, value=1 - beta2)
            step_size = lr / (1 - beta1**self.steps)
            denom = torch._foreach_sqrt(self.exp_avg_sqs)
            torch._foreach_div_(denom, (1 - beta2**self.steps) ** 0.5)
            torch._foreach_add_(denom, EPS)
            torch._foreach_addcdiv_(params, self.exp_avgs, denom, value=-step_size)
        elif name == "rmsprop":
            alpha = 0.9
            torch._foreach_mul_(self.square_avgs, alpha)
            torch._foreach_addcmul_(self.square_avgs, grads, grads, value=1 - alpha)
            avg = torch._foreach_sqrt(self.square_avgs)
            torch._foreach_add_(avg, EPS)
            torch._foreach_addcdiv_(params, grads, avg, value=-lr)
        else:  # adagrad
            torch._foreach_addcmul_(self.state_sums, grads, grads, value=1)
            std = torch._foreach_sqrt(self.state_sums)
            torch._foreach_add_(std, EPS)
            torch._foreach_addcdiv_(params, grads, std, value=-lr)
