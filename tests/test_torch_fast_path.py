"""The dense fast path's closed-form gradients equal autograd's."""

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


def autograd_grads(weights, biases, acts, head, x, y, reg, rate):
    params = [p.detach().clone().requires_grad_(True) for pair in zip(weights, biases, strict=True) for p in pair]
    h = x
    for i, act in enumerate(acts):
        h = ACT[act](h @ params[2 * i].t() + params[2 * i + 1])
    z_pre = None
    if head.loss == "mse":
        loss = F.mse_loss(h, y)
    elif head.loss == "binary_crossentropy":
        if acts[-1] == "linear":
            loss = F.binary_cross_entropy_with_logits(h, y)
        else:
            loss = F.binary_cross_entropy(h, y)
    else:
        loss = F.cross_entropy(h, y) if acts[-1] == "linear" else F.nll_loss(torch.log(h), y)
    del z_pre
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


@pytest.mark.parametrize(("loss", "acts", "task", "k", "reg"), CASES)
def test_gradients_match_autograd(loss, acts, task, k, reg):
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
    rate = 0.01
    ref_loss, ref = autograd_grads([lin.weight for lin in linears], [lin.bias for lin in linears], acts,
                                   Head(task, loss, acts[-1], k), x, y, reg, rate)
    layers = [DenseLayer(lin.weight.detach().clone(), lin.bias.detach().clone(), a, 0.0, True)
              for lin, a in zip(linears, acts, strict=True)]
    params = [t for layer in layers for t in (layer.weight, layer.bias)]
    opt = torch.optim.SGD(params, lr=0.0)  # lr 0 keeps weights, so .grad can be compared
    step = DenseStep(layers, Head(task, loss, acts[-1], k), opt, None, reg, rate)
    got_loss, _ = step(x, y)
    assert got_loss.item() == pytest.approx(ref_loss, rel=1e-5)
    for p, g in zip(params, ref, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)


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
