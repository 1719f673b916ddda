"""Conv2D / MaxPool / Flatten / Dropout: same network on both backends.

"Same" is checked three ways: parameter counts (against layers.count_params and
the textbook Keras numbers), layer output shapes, and outputs: with the
TensorFlow weights copied into the torch model, both give the same numbers,
which also pins down "same" padding, strides, pooling and the flatten order.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tui_trainer.backends import Head, create_backend  # noqa: E402
from tui_trainer.backends.base import BuildOptions  # noqa: E402
from tui_trainer.core import presets  # noqa: E402
from tui_trainer.core.config import from_dict  # noqa: E402
from tui_trainer.core.layers import LayerSpec, build_specs, count_params  # noqa: E402
from tui_trainer.engine.session import train  # noqa: E402

pytestmark = pytest.mark.framework

HEAD = Head(task="multiclass", loss="categorical_crossentropy", output_activation="softmax", n_outputs=10)
OPTS = BuildOptions(optimizer="adam", learning_rate=0.001, regularization="none", reg_rate=0.0, device="cpu", seed=0,
                    threads=1)


def specs_for(layers: list[dict], input_shape: tuple[int, ...]) -> list[LayerSpec]:
    cfg = from_dict({"data": {"dataset": "digits"}, "model": {"layers": layers, "output_activation": "softmax"},
                     "train": {"loss": "categorical_crossentropy"}})
    return build_specs(cfg, input_shape, 10, "multiclass")


def build_both(specs: list[LayerSpec], input_shape: tuple[int, ...]):
    backends = {}
    for name in ("tensorflow", "torch"):
        backend = create_backend(name)
        summary = backend.build(specs, HEAD, input_shape, OPTS)
        backends[name] = (backend, summary)
    return backends


def copy_tf_weights_into_torch(tf_backend, torch_backend) -> None:
    """Keras kernels are (kh, kw, in, out) and (in, out); torch wants (out, in, kh, kw) and (out, in)."""
    import torch

    tf_layers = [layer for layer in tf_backend.model.layers if layer.weights]
    torch_layers = [m for m in torch_backend.model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert len(tf_layers) == len(torch_layers)
    with torch.no_grad():
        for tf_layer, torch_layer in zip(tf_layers, torch_layers, strict=True):
            kernel, bias = (w.numpy() for w in tf_layer.weights)
            kernel = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
            torch_layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            torch_layer.bias.copy_(torch.from_numpy(bias))


def test_textbook_cnn_parameter_counts_match_keras_everywhere() -> None:
    import keras
    import torch

    cfg = presets.load_preset("mnist-cnn")
    specs = build_specs(cfg, (28, 28, 1), 10, "multiclass")
    per_layer = [(s.kind, s.params) for s in specs]
    # The Keras mnist_cnn example's own summary: 320 + 18,496 + 1,179,776 + 1,290.
    assert per_layer == [("conv2d", 320), ("conv2d", 18_496), ("maxpool2d", 0), ("dropout", 0), ("flatten", 0),
                         ("dense", 1_179_776), ("dropout", 0), ("dense", 1_290)]
    assert count_params(specs) == 1_199_882
    textbook = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    assert [layer.count_params() for layer in textbook.layers] == [s.params for s in specs]
    assert [tuple(layer.output.shape[1:]) for layer in textbook.layers] == [s.out_shape for s in specs]
    both = build_both(specs, (28, 28, 1))
    assert both["tensorflow"][1].params == both["torch"][1].params == 1_199_882
    # Counted by each framework layer by layer, not taken from the specs.
    tf_backend, torch_backend = both["tensorflow"][0], both["torch"][0]
    assert [layer.count_params() for layer in tf_backend.model.layers[1:]] == [s.params for s in specs]
    weighted = [m for m in torch_backend.model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert [sum(p.numel() for p in m.parameters()) for m in weighted] == [s.params for s in specs if s.params]


CASES = {
    "valid": ((12, 12, 1), [{"type": "conv2d", "filters": 4, "kernel": 3, "activation": "relu"},
                            {"type": "maxpool2d", "size": 2}]),
    "same-stride-1-odd-kernel": ((9, 7, 2), [{"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same"}]),
    "same-stride-1-even-kernel": ((8, 8, 1), [{"type": "conv2d", "filters": 3, "kernel": 2, "padding": "same",
                                               "activation": "tanh"}]),
    "same-stride-2": ((9, 7, 3), [{"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same"},
                                  {"type": "conv2d", "filters": 5, "kernel": 2, "padding": "same"},
                                  {"type": "maxpool2d", "size": 2}]),
    "same-stride-3-even-kernel": ((8, 8, 2), [{"type": "conv2d", "filters": 4, "kernel": 4, "stride": 3,
                                               "padding": "same", "activation": "sigmoid"}]),
    "valid-stride-2-pool-3": ((13, 11, 1), [{"type": "conv2d", "filters": 6, "kernel": 3, "stride": 2},
                                            {"type": "maxpool2d", "size": 3}, {"type": "dropout", "rate": 0.3},
                                            {"type": "flatten"}, {"type": "dense", "units": 7, "activation": "relu"}]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_conv_variants_are_the_same_network_on_both_backends(case: str) -> None:
    input_shape, layers = CASES[case]
    specs = specs_for(layers, input_shape)
    both = build_both(specs, input_shape)
    (tf_backend, tf_summary), (torch_backend, torch_summary) = both["tensorflow"], both["torch"]
    assert tf_summary.params == torch_summary.params == count_params(specs)
    keras_shapes = [tuple(layer.output.shape[1:]) for layer in tf_backend.model.layers[1:]]
    assert keras_shapes == [s.out_shape for s in specs]
    copy_tf_weights_into_torch(tf_backend, torch_backend)
    x = np.random.default_rng(0).random((4, *input_shape), dtype=np.float32)
    np.testing.assert_allclose(torch_backend.predict(x), tf_backend.predict(x), atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_small_cnn_learns_digits(backend: str) -> None:
    layers = [{"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
              {"type": "maxpool2d", "size": 2},
              {"type": "dropout", "rate": 0.1},
              {"type": "flatten"},
              {"type": "dense", "units": 32, "activation": "relu"}]
    cfg = presets.load_preset("digits", {"model.layers": layers, "train.backend": backend, "train.epochs": 5,
                                         "train.learning_rate": 0.005, "data.limit": 800})
    _, result = train(cfg, threads=1)
    assert result.failed is None, result.failed
    assert result.finished.final.val_acc >= 0.85
