"""Shared test set-up: quiet frameworks, an isolated config folder, small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TUI_TRAINER_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent

#: Modules the fast core tier (``pytest -m "not framework and not app"``) must never import.
FRAMEWORKS = ("tensorflow", "torch", "keras")


_loaded_before_session: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _loaded_before_session.clear()
    _loaded_before_session.update(name for name in FRAMEWORKS if name in sys.modules)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The core tier is fast because nothing in it imports a framework, collection included."""
    items = session.items
    if items and not any(item.get_closest_marker("framework") or item.get_closest_marker("app") for item in items):
        loaded = [name for name in FRAMEWORKS if name in sys.modules and name not in _loaded_before_session]
        if loaded:
            raise pytest.UsageError(f"collecting the core tier imported {loaded}; import frameworks inside tests "
                                    "marked framework")


@pytest.fixture(autouse=True)
def core_tests_import_no_framework(request):
    """A test that needs TensorFlow or PyTorch must say so (``@pytest.mark.framework``)."""
    before = {name for name in FRAMEWORKS if name in sys.modules}
    yield
    if request.node.get_closest_marker("framework") or request.node.get_closest_marker("app"):
        return
    new = sorted(name for name in FRAMEWORKS if name in sys.modules and name not in before)
    if new:
        pytest.fail(f"{request.node.nodeid} imported {new} but is not marked framework")


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory, monkeypatch):
    """Every test gets its own empty user presets folder."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    # ... and its own runs folder: every run is recorded, and tests must not fill the user's.
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.delenv("TUI_TRAINER_RUNS", raising=False)
    return home / "tui-trainer" / "presets"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess, as a user would."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    if "NO_COLOR" not in (env or {}):
        full_env.pop("NO_COLOR", None)  # colour decisions in tests must not depend on the caller's shell
    return subprocess.run(
        [sys.executable, "-m", "tui_trainer", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=kw.pop("cwd", REPO), **kw,
    )
