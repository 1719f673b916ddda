"""Which versions made a run: Python, the framework and tui-trainer, for ``summary.json``.

A run's numbers depend on them (TensorFlow and PyTorch change their kernels
between releases), so a saved run says which ones it used.  The framework is
already imported when a run ends; its version is read from the module, or from
the installed package if the module is not loaded, never by importing it.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys

from tui_trainer import __version__
from tui_trainer.backends import BACKEND_MODULES

#: Package names a framework may be installed under (tensorflow-cpu provides ``tensorflow``).
DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "torch": ("torch",)}


def framework_version(backend: str) -> str | None:
    """The framework's version for a backend name, or None if it is not installed."""
    package = BACKEND_MODULES[backend][2] if backend in BACKEND_MODULES else backend
    module = sys.modules.get(package)
    version = getattr(module, "__version__", None) if module is not None else None
    if version:
        return str(version)
    for dist in DISTRIBUTIONS.get(backend, (package,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def run_versions(backend: str) -> dict[str, str | None]:
    """``{"python": "3.11.7", "<backend>": "2.13.0", "tui_trainer": "0.1.0"}``."""
    return {"python": platform.python_version(), backend: framework_version(backend), "tui_trainer": __version__}
