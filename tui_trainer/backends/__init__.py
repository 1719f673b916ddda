"""Framework backends behind one small protocol; each framework is imported only when picked."""

from __future__ import annotations

import importlib
import importlib.util

from tui_trainer.backends.base import Backend, EpochStats, Head
from tui_trainer.core.errors import BackendUnavailable

BACKEND_MODULES = {
    "tensorflow": ("tui_trainer.backends.tensorflow_backend", "TensorFlowBackend", "tensorflow"),
    "torch": ("tui_trainer.backends.torch_backend", "TorchBackend", "torch"),
}

__all__ = ["Backend", "EpochStats", "Head", "create_backend", "is_installed"]


def is_installed(name: str) -> bool:
    """Whether the framework can be imported, without importing it."""
    return importlib.util.find_spec(BACKEND_MODULES[name][2]) is not None


def create_backend(name: str) -> Backend:
    module_name, class_name, package = BACKEND_MODULES[name]
    if not is_installed(name):
        extra = "tensorflow" if name == "tensorflow" else "torch"
        raise BackendUnavailable(
            f"train.backend: {name!r} needs the {package} package, which is not installed; "
            f"install it with: pip install 'tui-trainer[{extra}]' (or pick the other backend)"
        )
    module = importlib.import_module(module_name)
    return getattr(module, class_name)()
