"""The core stays usable without the UI: import contracts and lazy frameworks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CORE = ["tui_trainer.config", "tui_trainer.presets", "tui_trainer.data", "tui_trainer.engine",
        "tui_trainer.events", "tui_trainer.control", "tui_trainer.layers", "tui_trainer.metrics",
        "tui_trainer.backends", "tui_trainer.headless", "tui_trainer.export", "tui_trainer.mapview",
        "tui_trainer.images", "tui_trainer.files", "tui_trainer.progress", "tui_trainer.runfiles",
        "tui_trainer.runstore", "tui_trainer.launch", "tui_trainer.imdb", "tui_trainer.reviews",
        "tui_trainer.comparison", "tui_trainer.study", "tui_trainer.tbevents", "tui_trainer.versions"]


def test_import_linter_contracts_hold():
    beside_python = Path(sys.executable).parent / "lint-imports"
    exe = str(beside_python) if beside_python.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    r = subprocess.run([exe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout


def test_core_imports_neither_ui_nor_frameworks():
    code = (
        "import sys\n" + "".join(f"import {m}\n" for m in CORE) +
        "print(sorted(m for m in ('textual', 'textual_plotext', 'plotext', 'tensorflow', 'torch', 'keras') if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
