"""PyTorch backend.

A ``DataLoader`` collates every batch in Python; here the data sits on the
device once and each batch is an index slice of it, which is most of the win.
Randomness (init, dropout) comes from a private generator state, so a seeded
run is reproducible and the caller's global torch RNG is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tui_trainer.backends import torch_dense, torch_optimizers
from tui_trainer.backends.base import BuildOptions, EpochStats, Head, binary_targets, summary_from_specs
from tui_trainer.core.errors import BackendUnavailable
from tui_trainer.core.events import ModelSummary
from tui_trainer.core.layers import LayerSpec

_EPS = 1e-7
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=1),
}


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    # Hyperparameters match the Keras backend, so both frameworks train alike.
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-7)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, eps=1e-7, weight_decay=0.01)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, initial_accumulator_value=0.1, eps=1e-7)
    raise ValueError(name)


class _ChannelsFirst(nn.Module):
    """Data is kept channels-last (like Keras); convolutions want channels-first."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class _ChannelsLast(nn.Module):
    """Back to channels-last before flattening, so flat order matches Keras."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras/TF "same" padding along one axis: ceil(size / stride) outputs.

    torch's own ``padding="same"`` refuses strides > 1, so the padding is
    computed here, for any stride, exactly as TensorFlow does it.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TorchBackend:
    name = "torch"

    def __init__(self) -> None:
        self.model: nn.Module | None = None

    def _pick_device(self, want: str) -> torch.device:
        has_cuda = torch.cuda.is_available()
        if want == "cuda" and not has_cuda:
            raise BackendUnavailable(
                "train.device: 'cuda' was asked for but PyTorch sees no CUDA GPU here; use device = \"auto\" or \"cpu\""
            )
        return torch.device("cuda" if want in ("auto", "cuda") and has_cuda else "cpu")

    def build(self, specs: list[LayerSpec], head: Head, input_shape: tuple[int, ...], opts: BuildOptions) -> ModelSummary:
        self.head = head
        self.opts = opts
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.device = self._pick_device(opts.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(opts.seed)
            modules: list[nn.Module] = []
            self._penalized: list[torch.Tensor] = []
            channels_first = False
            #: Per spec: where its modules end in the Sequential, and whether its output is channels-first.
            self._spec_ends: list[tuple[int, bool]] = []
            for spec in specs:
                if spec.kind in ("conv2d", "maxpool2d") and not channels_first:
                    modules.append(_ChannelsFirst())
                    channels_first = True
                if spec.kind == "flatten" and channels_first:
                    modules.append(_ChannelsLast())
                    channels_first = False
                modules.extend(self._modules(spec))
                self._spec_ends.append((len(modules), channels_first))
            self._kinds = [spec.kind for spec in specs]
            self.model = nn.Sequential(*modules).to(self.device)
            self._rng_state = torch.get_rng_state()
        dense = torch_dense.supports([s.kind for s in specs])
        # Dense nets never touch torch.optim, whose first use imports torch._dynamo (~0.7 s).
        self.optimizer = (torch_optimizers.ForeachOptimizer(opts.optimizer, list(self.model.parameters()), opts.learning_rate)
                          if dense else _optimizer(opts.optimizer, self.model.parameters(), opts.learning_rate))
        self._fast = self._dense_fast_path(specs) if dense else None
        params = sum(p.numel() for p in self.model.parameters())
        device = str(self.device) if self.device.type == "cpu" else f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
        return summary_from_specs(specs, self.name, device.upper() if device == "cpu" else device, params, input_shape)

    def _dense_fast_path(self, specs: list[LayerSpec]) -> torch_dense.DenseStep:
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        layers: list[torch_dense.DenseLayer] = []
        remaining = iter(linears)
        for spec in specs:
            if spec.kind == "dense":
                lin = next(remaining)
                layers.append(torch_dense.DenseLayer(lin.weight, lin.bias, spec.activation, 0.0, spec.regularize))
            elif spec.kind == "dropout" and layers:
                layers[-1].dropout = spec.rate
        plain_sgd = self.opts.learning_rate if self.opts.optimizer == "sgd" else None
        return torch_dense.DenseStep(layers, self.head, self.optimizer, plain_sgd,
                                     self.opts.regularization, self.opts.reg_rate)

    def _modules(self, spec: LayerSpec) -> list[nn.Module]:
        out: list[nn.Module] = []
        if spec.kind == "dense":
            layer = nn.Linear(spec.in_shape[-1], spec.units)
        elif spec.kind == "conv2d":
            pad: tuple[int, int] = (0, 0)
            if spec.padding == "same":
                (top, bottom), (left, right) = (
                    _same_pads(spec.in_shape[0], spec.kernel, spec.stride),
                    _same_pads(spec.in_shape[1], spec.kernel, spec.stride),
                )
                if (top, left) == (bottom, right):
                    pad = (top, left)
                else:  # odd total: Keras puts the extra pixel after, which Conv2d can't
                    out.append(nn.ZeroPad2d((left, right, top, bottom)))
            layer = nn.Conv2d(spec.in_shape[-1], spec.filters, spec.kernel, stride=spec.stride, padding=pad)
        elif spec.kind == "dropout":
            return [nn.Dropout(spec.rate)]
        elif spec.kind == "flatten":
            return [nn.Flatten()]
        elif spec.kind == "maxpool2d":
            return [nn.MaxPool2d(spec.size)]
        else:
            raise ValueError(spec.kind)
        # Keras defaults (Glorot-uniform kernels, zero biases) so both backends start alike.
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        if spec.regularize:
            self._penalized.append(layer.weight)
        out.append(layer)
        if spec.activation in _ACTIVATIONS:
            out.append(_ACTIVATIONS[spec.activation]())
        return out

    # -- loss and metric -----------------------------------------------------------------------
    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean data loss over the batch (no penalty)."""
        head = self.head
        if head.loss == "mse":
            return F.mse_loss(out, y)
        if head.loss == "binary_crossentropy":
            if head.from_logits:
                return F.binary_cross_entropy_with_logits(out, y)
            return F.binary_cross_entropy(out.clamp(_EPS, 1 - _EPS), y)
        if head.from_logits:
            return F.cross_entropy(out, y)
        return F.nll_loss(torch.log(out.clamp(_EPS, 1 - _EPS)), y)

    def _metric_sum(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        head = self.head
        if head.metric == "mae":
            return (out - y).abs().mean(dim=1).sum()
        if head.metric == "argmax":
            return (out.argmax(dim=1) == y).sum()
        label_cut = 0.5 if head.loss == "binary_crossentropy" else 0.0
        return ((out[:, 0] >= head.threshold) == (y[:, 0] > label_cut)).sum()

    def _penalty(self) -> torch.Tensor | None:
        if not self._penalized or self.opts.reg_rate <= 0:
            return None
        if self.opts.regularization == "l1":
            total = sum(w.abs().sum() for w in self._penalized)
        else:
            total = sum(w.square().sum() for w in self._penalized)
        return self.opts.reg_rate * total

    # -- data and loops ------------------------------------------------------------------------
    def _targets(self, y: np.ndarray) -> torch.Tensor:
        if self.head.task == "multiclass":
            return torch.as_tensor(np.asarray(y, np.int64).reshape(-1), device=self.device)
        arr = binary_targets(np.asarray(y, np.float32).reshape(len(y), -1), self.head)
        return torch.as_tensor(arr, dtype=torch.float32, device=self.device)

    def set_data(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> None:
        if self._fast is not None and np.ndim(x_train) > 2:
            # Dense-only nets on images: flatten once here instead of every batch.
            x_train = np.reshape(x_train, (len(x_train), -1))
            x_val = np.reshape(x_val, (len(x_val), -1))
        self._x = torch.as_tensor(np.asarray(x_train, np.float32), device=self.device)
        self._y = self._targets(y_train)
        self._xv = torch.as_tensor(np.asarray(x_val, np.float32), device=self.device)
        self._yv = self._targets(y_val)

    def train_epoch(self, order: np.ndarray, batch_size: int, should_stop: Callable[[], bool],
                    progress: Callable[[int], None] | None = None) -> EpochStats:
        model, opt = self.model, self.optimizer
        n = len(order)
        idx = torch.as_tensor(np.asarray(order, np.int64), device=self.device)
        # Shuffle once per epoch, then take contiguous slices: no per-batch gather of indices.
        x_all = self._x.index_select(0, idx)
        y_all = self._y.index_select(0, idx)
        loss_sum = torch.zeros((), device=self.device)
        metric_sum = torch.zeros((), device=self.device)
        done = 0
        if self._fast is not None:
            return self._train_epoch_fast(x_all, y_all, batch_size, should_stop, progress)
        model.train()
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng_state)
            for lo in range(0, n, batch_size):
                if should_stop():
                    break
                xb = x_all[lo : lo + batch_size]
                yb = y_all[lo : lo + batch_size]
                out = model(xb)
                loss = self._loss(out, yb)
                penalty = self._penalty()
                opt.zero_grad(set_to_none=True)
                (loss if penalty is None else loss + penalty).backward()
                opt.step()
                with torch.no_grad():
                    loss_sum += loss.detach() * len(xb)
                    metric_sum += self._metric_sum(out.detach(), yb)
                done += len(xb)
                if progress is not None:
                    progress(done)
            self._rng_state = torch.get_rng_state()
        stopped = done < n
        d = max(done, 1)
        return EpochStats(float(loss_sum) / d, float(metric_sum) / d, done, stopped=stopped)

    def _train_epoch_fast(self, x_all: torch.Tensor, y_all: torch.Tensor, batch_size: int,
                          should_stop: Callable[[], bool], progress: Callable[[int], None] | None) -> EpochStats:
        step = self._fast
        assert step is not None
        if step.has_dropout:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(self._rng_state)
                outs, done = step.train_epoch(x_all, y_all, batch_size, should_stop, progress)
                self._rng_state = torch.get_rng_state()
        else:
            outs, done = step.train_epoch(x_all, y_all, batch_size, should_stop, progress)
        if done == 0:
            return EpochStats(0.0, 0.0, 0, stopped=True)
        # The loss and metric once per epoch, over every batch's outputs, instead of a few tiny ops per batch.
        with torch.no_grad():
            out = outs[0] if len(outs) == 1 else torch.cat(outs)
            y = y_all[:done]
            loss_sum = float(self._loss(out, y)) * done
            metric_sum = float(self._metric_sum(out, y))
        return EpochStats(loss_sum / done, metric_sum / done, done, stopped=done < len(x_all))

    @torch.no_grad()
    def _outputs(self, x: torch.Tensor) -> torch.Tensor:
        if self._fast is not None:
            forward = self._fast.predict
            if x.dim() > 2:  # images for a dense-only net: the leading Flatten, done here
                x = x.reshape(len(x), -1)
        else:
            self.model.eval()
            forward = self.model
        step = 8192
        if len(x) <= step:
            return forward(x)
        return torch.cat([forward(x[i : i + step]) for i in range(0, len(x), step)])

    @torch.no_grad()
    def evaluate(self) -> tuple[float, np.ndarray]:
        out = self._outputs(self._xv)
        loss = float(self._loss(out, self._yv)) if len(out) else math.nan
        return loss, out.cpu().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._outputs(torch.as_tensor(np.asarray(x, np.float32), device=self.device)).cpu().numpy()

    @torch.no_grad()
    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        h = torch.as_tensor(np.asarray(x, np.float32), device=self.device)
        if self._fast is not None:
            return [t.cpu().numpy() for t in self._fast.layer_outputs(h, self._kinds)]
        self.model.eval()
        outs: list[np.ndarray] = []
        start = 0
        for end, channels_first in self._spec_ends:
            for module in self.model[start:end]:
                h = module(h)
            start = end
            out = h.permute(0, 2, 3, 1) if channels_first and h.ndim == 4 else h
            outs.append(out.cpu().numpy())
        return outs

    @torch.no_grad()
    def weights(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        start = 0
        for end, _ in self._spec_ends:
            layer = next((m for m in self.model[start:end] if isinstance(m, nn.Linear | nn.Conv2d)), None)
            start = end
            if layer is None:
                out.append(None)
                continue
            w = layer.weight.detach()
            kernel = w.t() if isinstance(layer, nn.Linear) else w.permute(2, 3, 1, 0)  # to Keras layout
            out.append((kernel.cpu().numpy().copy(), layer.bias.detach().cpu().numpy().copy()))
        return out

    def save(self, path: Path) -> Path:
        target = Path(path).with_suffix(".pt")
        torch.save(self.model.state_dict(), target)
        return target
