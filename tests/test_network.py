"""The network view's core: per-layer activations on both backends, the snapshot event, the text.

The activations of every layer must be the same on TensorFlow and PyTorch for
the same weights (dense stacks through the PyTorch fast path and through its
``nn.Sequential``, and conv nets), the maps of a trained circle network must
differ from neuron to neuron, and ``--show-network`` must print them.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.test_conv import build_both, copy_tf_weights_into_torch, specs_for
from tui_trainer.backends import Head, create_backend
from tui_trainer.backends.base import BuildOptions
from tui_trainer.core.config import from_dict
from tui_trainer.core.control import RunControl
from tui_trainer.core.events import BoundaryUpdated, NetworkUpdated, to_json_dict
from tui_trainer.core.layers import build_specs
from tui_trainer.core.presets import load_preset
from tui_trainer.data.datasets import expand_features, grid_points
from tui_trainer.engine import network
from tui_trainer.engine.session import train
from tui_trainer.faces.headless import HeadlessPrinter

pytestmark = pytest.mark.framework

FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")


def dense_specs(hidden, activation, dropout):
    cfg = from_dict({"data": {"features": list(FEATURES)},
                     "model": {"hidden": hidden, "activation": activation, "dropout": dropout}})
    return build_specs(cfg, (7,), 1, "binary")


def build(name, specs, input_shape, head):
    backend = create_backend(name)
    opts = BuildOptions(optimizer="sgd", learning_rate=0.03, regularization="none", reg_rate=0.0, device="cpu",
                        seed=0, threads=1)
    backend.build(specs, head, input_shape, opts)
    return backend


BINARY = Head(task="binary", loss="mse", output_activation="tanh", n_outputs=1)


@pytest.mark.parametrize("fast", [True, False])
def test_dense_activations_agree_between_tensorflow_and_torch(fast):
    """The spiral-sized net (7 inputs, 16-16-8, dropout) layer by layer, fast path and plain Sequential."""
    specs = dense_specs([16, 16, 8], ["tanh", "relu", "sigmoid"], [0.2, 0.0, 0.1])
    tf_backend = build("tensorflow", specs, (7,), BINARY)
    torch_backend = build("torch", specs, (7,), BINARY)
    if not fast:
        torch_backend._fast = None  # the autograd path's nn.Sequential, as conv nets use
    copy_tf_weights_into_torch(tf_backend, torch_backend)
    x = expand_features(grid_points(9, 11), FEATURES)
    tf_acts, torch_acts = tf_backend.activations(x), torch_backend.activations(x)
    assert [a.shape for a in tf_acts] == [(99, s.out_shape[0]) for s in specs]
    assert [a.shape for a in torch_acts] == [a.shape for a in tf_acts]
    for a, b in zip(tf_acts, torch_acts, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Dropout passes its input on at inference; the last layer is the model's output.
    np.testing.assert_array_equal(tf_acts[1], tf_acts[0])
    np.testing.assert_allclose(torch_acts[-1], torch_backend.predict(x), atol=1e-6)
    # weights() gives both frameworks' kernels in the same (Keras) layout.
    for a, b in zip(tf_backend.weights(), torch_backend.weights(), strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a[0], b[0], atol=1e-7)
            np.testing.assert_allclose(a[1], b[1], atol=1e-7)


def test_conv_activations_agree_between_tensorflow_and_torch():
    """Conv outputs come back channels-last from both, so the same filter is the same slice."""
    layers = [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "stride": 2, "activation": "relu"},
              {"type": "maxpool2d", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 6, "activation": "tanh"}]
    specs = specs_for(layers, (9, 9, 1))
    both = build_both(specs, (9, 9, 1))
    tf_backend, torch_backend = both["tensorflow"][0], both["torch"][0]
    copy_tf_weights_into_torch(tf_backend, torch_backend)
    x = np.random.default_rng(1).random((5, 9, 9, 1), dtype=np.float32)
    tf_acts, torch_acts = tf_backend.activations(x), torch_backend.activations(x)
    assert [a.shape[1:] for a in tf_acts] == [s.out_shape for s in specs]
    for a, b in zip(tf_acts, torch_acts, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    kernels = [w for w in torch_backend.weights() if w is not None]
    assert kernels[0][0].shape == (3, 3, 1, 4)


def circle_network(backend="torch", epochs=100, shape=(20, 20)):
    control = RunControl()
    control.grid_shape = shape
    control.network_shape = shape
    control.grid_interval = float("inf")
    events = []
    cfg = load_preset("circle", {"train.backend": backend, "train.epochs": epochs})
    session, result = train(cfg, events.append, control)
    return session, result, events


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_trained_circle_network_has_a_different_map_per_neuron(backend):
    session, result, events = circle_network(backend)
    assert result.finished.final.val_acc >= 0.9
    nets = [e for e in events if isinstance(e, NetworkUpdated)]
    maps = [e for e in events if isinstance(e, BoundaryUpdated)]
    assert len(nets) == len(maps) == 1  # an infinite interval: only at the end, map and neurons from one pass
    net = nets[-1]
    assert [layer.name for layer in net.layers] == ["inputs", "dense", "dense_1", "dense_2"]
    assert [layer.grids.shape for layer in net.layers] == [(2, 20, 20), (3, 20, 20), (3, 20, 20), (1, 20, 20)]
    assert net.layers[0].labels == ("X1", "X2") and net.layers[-1].labels == ("out",)
    # The output neuron's map is the boundary map (same pass), and the boundary agrees with a fresh one.
    np.testing.assert_allclose(net.layers[-1].grids[0], maps[-1].values, atol=1e-6)
    np.testing.assert_allclose(maps[-1].values, session.boundary(20, 20, 100).values, atol=1e-5)
    hidden = [g for layer in net.layers[1:-1] for g in layer.grids]
    for grid in hidden:
        assert grid.std() > 0.05, "a neuron that learned nothing"
    # Every pair of hidden neurons draws a different picture: their maps are far from equal
    # and not simply one another's negative.
    for i in range(len(hidden)):
        for j in range(i + 1, len(hidden)):
            a, b = hidden[i].ravel(), hidden[j].ravel()
            assert min(np.abs(a - b).mean(), np.abs(a + b).mean()) > 0.05, (i, j)
    # The first layer draws lines across the plane: each of its neurons is a tanh of a linear function.
    first = net.layers[1]
    pts = grid_points(20, 20)
    for k in range(3):
        z = pts @ first.weights[:, k] + first.biases[k]
        np.testing.assert_allclose(first.grids[k].ravel(), np.tanh(z), atol=1e-5)


def test_forward_point_matches_the_grids():
    session, _, events = circle_network(epochs=20, shape=(6, 6))
    net = [e for e in events if isinstance(e, NetworkUpdated)][-1]
    pts = grid_points(6, 6)
    for idx in (0, 17, 35):
        values = network.forward_point(net, expand_features(pts[idx : idx + 1], ("x1", "x2"))[0])
        for layer, v in zip(net.layers, values, strict=True):
            np.testing.assert_allclose(layer.grids[:, idx // 6, idx % 6], v, atol=1e-5)


def test_network_event_as_json_and_text():
    _, _, events = circle_network(epochs=5, shape=(8, 16))
    net = [e for e in events if isinstance(e, NetworkUpdated)][-1]
    data = json.loads(json.dumps(to_json_dict(net), allow_nan=False))
    assert data["kind"] == "network_updated" and data["layers"][0]["weights"] is None
    assert np.array(data["layers"][1]["grids"]).shape == (3, 8, 16)
    assert np.array(data["layers"][1]["weights"]).shape == (2, 3)
    plain = io.StringIO()
    printer = HeadlessPrinter(plain, color=False, show_network=True)
    for event in events:
        printer(event)
    text = plain.getvalue()
    assert "the network, epoch 5:" in text and "dense (hidden 1, 3 × tanh)" in text
    assert "\x1b" not in text and "▀" not in text
    coloured = io.StringIO()
    printer = HeadlessPrinter(coloured, color=True, show_network=True)
    for event in events:
        printer(event)
    assert "▀" in coloured.getvalue() and "\x1b[" in coloured.getvalue()


def test_value_ranges_follow_the_activation():
    grid = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    tanh = network.NeuronLayer("d", "dense", "tanh", ("1",))
    relu = network.NeuronLayer("d", "dense", "relu", ("1",))
    sigmoid = network.NeuronLayer("d", "dense", "sigmoid", ("1",))
    assert network.value_range(tanh, grid) == (-1.0, 1.0)
    assert network.value_range(sigmoid, grid) == (0.0, 1.0)
    assert network.value_range(relu, grid) == (-3.0, 3.0)
    assert network.steps(grid, -3.0, 3.0)[0, 0] == 0 and network.steps(grid, -3.0, 3.0)[-1, -1] == 30
    assert network.resample(np.arange(16.0).reshape(4, 4), 2, 2).tolist() == [[5.0, 7.0], [13.0, 15.0]]


def test_cli_show_network_prints_every_neuron_map():
    proc = run_cli("--no-ui", "--backend", "torch", "--epochs", "30", "--show-network",
                   "--set", "model.hidden=[4]", "--set", "data.features=[x1,x2,x1sq]")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "\x1b" not in out
    assert "inputs (3 features)" in out and "X1²" in out
    assert "dense (hidden 1, 4 × tanh)" in out and "dense_1 (output, 1 × tanh)" in out
    block = out[out.index("dense (hidden 1"):out.index("weights in")].splitlines()
    assert block[1].split()[::2] == ["1", "2", "3", "4"]  # captions: label, bias, label, bias ...
    assert len(block) == 2 + 8 and all(len(line) >= 16 for line in block[2:])  # 8 rows of 16-cell maps


def test_cli_show_network_json_and_images():
    proc = run_cli("--no-ui", "--json", "--backend", "torch", "--epochs", "2", "--show-network")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    nets = [e for e in events if e["kind"] == "network_updated"]
    assert nets and nets[-1]["epoch"] == 2 and events[-1]["kind"] == "run_finished"
    assert np.array(nets[-1]["layers"][1]["grids"]).shape == (3, 16, 16)
    proc = run_cli("--no-ui", "--preset", "digits", "--backend", "torch", "--epochs", "1", "--show-network",
                   )
    assert proc.returncode == 0, proc.stderr
    assert "dense (first dense layer, 16 neurons shown, relu)" in proc.stdout
    proc = run_cli("--show-network")
    assert proc.returncode == 2 and "--show-network needs --no-ui" in proc.stderr
