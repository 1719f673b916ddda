"""The dense fast path's foreach optimizers step exactly like ``torch.optim`` with the same settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.framework

NAMES = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")  # checked against the module in a test below


@pytest.mark.parametrize("name", NAMES)
def test_twenty_steps_match_torch_optim(name):
    import torch

    from tui_trainer.backends.torch_backend import _optimizer
    from tui_trainer.backends.torch_optimizers import NAMES as MODULE_NAMES
    from tui_trainer.backends.torch_optimizers import ForeachOptimizer

    assert set(NAMES) == set(MODULE_NAMES)
    gen = torch.Generator().manual_seed(3)
    start = [torch.randn(4, 3, generator=gen), torch.randn(4, generator=gen)]
    ours = [p.clone() for p in start]
    ref = [p.clone().requires_grad_(True) for p in start]
    opt_ours = ForeachOptimizer(name, ours, 0.05)
    opt_ref = _optimizer(name, ref, 0.05)
    for _ in range(20):
        grads = [torch.randn(p.shape, generator=gen) for p in start]
        for p, g in zip(ours, grads, strict=True):
            p.grad = g.clone()
        for p, g in zip(ref, grads, strict=True):
            p.grad = g.clone()
        opt_ours.step()
        opt_ref.step()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=1e-6, atol=1e-7)
    assert not torch.equal(ours[0], start[0])  # it did move


def test_dense_run_never_imports_torch_dynamo():
    code = (
        "import sys\nfrom tui_trainer.engine.session import train\nfrom tui_trainer.core.presets import load_preset\n"
        "for opt in ('sgd', 'adam'):\n"
        "    _, r = train(load_preset('circle', {'train.backend': 'torch', 'train.epochs': 2, 'train.optimizer': opt}))\n"
        "    assert r.finished is not None, r.failed\n"
        "print('DYNAMO', 'torch._dynamo' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "DYNAMO False True" in out.stdout, out.stdout + out.stderr
