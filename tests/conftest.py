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
