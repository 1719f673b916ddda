"""The dense fast path's closed-form gradients and fused SGD updates equal autograd and ``torch.optim``'s."""

from __future__ import annotations

import pytest

from tui_trainer.backends.base import Head

pytestmark = pytest.mark.framework

# torch is imported when the first test here runs, so collecting the fast core tier never loads it.
torch = F = nn = DenseLayer = DenseStep = supports = None


@pytest.fixture(autouse=True)
def _import_torch() -> None:
    global torch, F, nn, DenseLayer, DenseStep, supports
    import torch
    import torch.nn.functional as F
    from torch import nn

    from tui_trainer.backends.torch_dense import DenseLayer, DenseStep, supports

ACT = {"tanh": lambda z: torch.tanh(z), "relu": lambda z: torch.relu(z), "sigmoid": lambda z: torch.sigmoid(z),
       "linear": lambda z: z, "softmax": lambda z: torch.softmax(z, dim=1)}


def autograd_grads(weights, biases, acts, head, x, y, reg, rate, dropout=0.0):
    """Autograd's loss and gradients; with ``dropout``, masks drawn like the fast path's (same calls, same order)."""
    params = [p.detach().clone().requires_grad_(True) for pair in zip(weights, biases, strict=True) for p in pair]
    h = x
    for i, act in enumerate(acts):
        h = ACT[act](h @ params[2 * i].t() + params[2 * i + 1])
        if dropout > 0 and i < len(acts) - 1:
            keep = 1.0 - dropout
            h = h * ((torch.rand_like(h) < keep).to(h.dtype) / keep)
    if head.loss == "mse":
        loss = F.mse_loss(h, y)
    elif head.loss == "binary_crossentropy":
        if acts[-1] == "linear":
            loss = F.binary_cross_entropy_with_logits(h, y)
        else:
            loss = F.binary_cross_entropy(h, y)
    else:
        loss = F.cross_entropy(h, y) if acts[-1] == "linear" else F.nll_loss(torch.log(h), y)
    total = loss
    if reg != "none":
        for w in params[0::2]:
            total = total + rate * (w.abs().sum() if reg == "l1" else w.square().sum())
    total.backward()
    return loss.item(), [p.grad for p in params]


CASES = [
    ("mse", ["tanh", "tanh", "tanh"], "binary", 1, "none"),
    ("mse", ["relu", "sigmoid", "linear"], "regression", 1, "l2"),
    ("binary_crossentropy", ["tanh", "sigmoid"], "binary", 1, "l1"),
    ("binary_crossentropy", ["relu", "linear"], "binary", 1, "none"),
    ("categorical_crossentropy", ["relu", "softmax"], "multiclass", 4, "l2"),
    ("categorical_crossentropy", ["tanh", "linear"], "multiclass", 4, "none"),
]


def make_case(loss, acts, task, k):
    torch.manual_seed(0)
    sizes = [3] + [5] * (len(acts) - 1) + [k]
    linears = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    x = torch.randn(7, 3)
    if task == "multiclass":
        y = torch.randint(0, k, (7,))
    elif loss == "binary_crossentropy":
        y = torch.randint(0, 2, (7, 1)).float()
    else:
        y = torch.randn(7, 1)
    return linears, x, y


def fast_layers(linears, acts, dropout=0.0):
    return [DenseLayer(lin.weight.detach().clone(), lin.bias.detach().clone(), a, dropout, True)
            for lin, a in zip(linears, acts, strict=True)]


@pytest.mark.parametrize(("loss", "acts", "task", "k", "reg"), CASES)
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_gradients_match_autograd(loss, acts, task, k, reg, dropout):
    linears, x, y = make_case(loss, acts, task, k)
    rate = 0.01
    head = Head(task, loss, acts[-1], k)
    torch.manual_seed(5)
    _, ref = autograd_grads([lin.weight for lin in linears], [lin.bias for lin in linears], acts, head, x, y, reg,
                            rate, dropout)
    layers = fast_layers(linears, acts, dropout)
    params = [t for layer in layers for t in (layer.weight, layer.bias)]
    opt = torch.optim.SGD(params, lr=0.0)  # lr 0 keeps weights, so .grad can be compared
    step = DenseStep(layers, head, opt, None, reg, rate)
    torch.manual_seed(5)
    step(x, y)
    for p, g in zip(params, ref, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("loss", "acts", "task", "k", "reg"), CASES)
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_fused_sgd_update_equals_autograd_and_torch_optim(loss, acts, task, k, reg, dropout):
    """Plain SGD never stores a gradient: its in-place updates must land where torch.optim.SGD's step does."""
    linears, x, y = make_case(loss, acts, task, k)
    rate, lr = 0.01, 0.1
    head = Head(task, loss, acts[-1], k)
    torch.manual_seed(5)
    ref_params = [p.detach().clone() for lin in linears for p in (lin.weight, lin.bias)]
    _, grads = autograd_grads(ref_params[0::2], ref_params[1::2], acts, head, x, y, reg, rate, dropout)
    for p, g in zip(ref_params, grads, strict=True):
        p.grad = g
    torch.optim.SGD(ref_params, lr=lr).step()
    layers = fast_layers(linears, acts, dropout)
    before = [t.clone() for layer in layers for t in (layer.weight, layer.bias)]
    step = DenseStep(layers, head, None, lr, reg, rate)
    torch.manual_seed(5)
    out = step(x, y)
    assert out.shape == (7, k)
    for layer in layers:
        assert layer.weight.grad is None and layer.bias.grad is None
    got = [t for layer in layers for t in (layer.weight, layer.bias)]
    for g, r, b in zip(got, ref_params, before, strict=True):
        assert not torch.equal(g, b)  # something moved
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)


def test_the_epoch_returns_every_batch_output_before_its_update():
    """train_epoch's outputs are what a per-batch loss would see: each batch's forward before its own update."""
    linears, x, y = make_case("mse", ["tanh", "tanh"], "binary", 1)
    layers = fast_layers(linears, ["tanh", "tanh"])
    step = DenseStep(layers, Head("binary", "mse", "tanh", 1), None, 0.5, "none", 0.0)
    twin = DenseStep(fast_layers(linears, ["tanh", "tanh"]), Head("binary", "mse", "tanh", 1), None, 0.5, "none", 0.0)
    outs, done = step.train_epoch(x, y, 3, lambda: False, None)
    assert done == 7 and [len(o) for o in outs] == [3, 3, 1]
    for o, lo in zip(outs, (0, 3, 6), strict=True):
        expected = twin.predict(x[lo : lo + 3])
        twin(x[lo : lo + 3], y[lo : lo + 3])
        torch.testing.assert_close(o, expected)
    for a, b in zip(step.params, twin.params, strict=True):
        torch.testing.assert_close(a, b)


def test_the_epoch_stops_between_batches_and_reports_progress():
    linears, x, y = make_case("mse", ["tanh", "tanh"], "binary", 1)
    step = DenseStep(fast_layers(linears, ["tanh", "tanh"]), Head("binary", "mse", "tanh", 1), None, 0.5, "none", 0.0)
    seen: list[int] = []
    outs, done = step.train_epoch(x, y, 3, lambda: len(seen) >= 2, seen.append)
    assert (done, seen, len(outs)) == (6, [3, 6], 2)


def test_plain_sgd_update_equals_torch_optim():
    torch.manual_seed(1)
    lin = nn.Linear(2, 1)
    x, y = torch.randn(5, 2), torch.randn(5, 1)
    ref = nn.Linear(2, 1)
    ref.load_state_dict(lin.state_dict())
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    F.mse_loss(ref(x), y).backward()
    opt.step()
    layer = DenseLayer(lin.weight.detach().clone(), lin.bias.detach().clone(), "linear", 0.0, False)
    step = DenseStep([layer], Head("regression", "mse", "linear", 1), torch.optim.SGD([layer.weight, layer.bias], lr=0.1),
                     0.1, "none", 0.0)
    step(x, y)
    torch.testing.assert_close(layer.weight, ref.weight.detach())
    torch.testing.assert_close(layer.bias, ref.bias.detach())


def test_conv_nets_do_not_take_the_fast_path():
    assert supports(["dense", "dropout", "dense"])
    assert supports(["flatten", "dense", "dense"])
    assert not supports(["conv2d", "flatten", "dense"])
    assert not supports(["dropout", "dense"])
