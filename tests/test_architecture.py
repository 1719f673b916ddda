"""The layers hold: import contracts, and a core usable without the UI or a framework.

The list of layers lives once, in ``.importlinter``; this test reads it from there
(so the contract import-linter checks and the modules imported here cannot drift).
"""

from __future__ import annotations

import configparser
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

#: Modules whose job is to import a framework (they are loaded only when a run starts).
FRAMEWORK_MODULES = ("tui_trainer.backends.tensorflow_backend", "tui_trainer.backends.torch_backend",
                     "tui_trainer.backends.torch_dense", "tui_trainer.backends.torch_optimizers",
                     "tui_trainer.backends.tf_dense")


def layers() -> list[list[str]]:
    """The layers of the import-linter contract, top first; siblings (``a | b``) share a layer."""
    parser = configparser.ConfigParser()
    parser.read(REPO / ".importlinter")
    lines = [line.strip() for line in parser["importlinter:contract:layers"]["layers"].splitlines() if line.strip()]
    return [[name.strip() for name in line.split("|")] for line in lines]


def headless_modules() -> list[str]:
    """Every module in the layers below the app, found on disk, minus the framework-importing backends."""
    below_app = [pkg for layer in layers()[2:] for pkg in layer]
    found: list[str] = []
    for pkg in below_app:
        folder = REPO / Path(*pkg.split("."))
        found.append(pkg)
        found += [info.name for info in pkgutil.walk_packages([str(folder)], pkg + ".")]
    return [m for m in found if m not in FRAMEWORK_MODULES]


def test_layers_are_the_packages_on_disk():
    # Every package under tui_trainer is in exactly one layer, and every layer is a package or module on disk.
    named = [pkg for layer in layers() for pkg in layer]
    assert len(named) == len(set(named))
    for pkg in named:
        path = REPO / Path(*pkg.split("."))
        assert path.is_dir() or path.with_suffix(".py").is_file(), pkg
    on_disk = {f"tui_trainer.{p.name}" for p in (REPO / "tui_trainer").iterdir()
               if p.is_dir() and (p / "__init__.py").is_file()}
    assert on_disk <= set(named), on_disk - set(named)
    loose = sorted(p.name for p in (REPO / "tui_trainer").glob("*.py")
                   if p.name not in {"__init__.py", "__main__.py", "cli.py"})
    assert loose == [], f"modules outside the layer packages: {loose}"


def test_import_linter_contracts_hold():
    beside_python = Path(sys.executable).parent / "lint-imports"
    exe = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    r = subprocess.run([exe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "BROKEN" not in r.stdout and r.stdout.count("KEPT") >= 3


def test_core_imports_neither_ui_nor_frameworks():
    modules = headless_modules()
    assert "tui_trainer.engine.session" in modules and "tui_trainer.core.config" in modules
    code = (
        "import sys\n" + "".join(f"import {m}\n" for m in modules) +
        "print(sorted(m for m in ('textual', 'textual_plotext', 'tensorflow', 'torch', 'keras', 'optuna') "
        "if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
