"""The README's config table is what the field descriptions say (core tier).

The table is generated (``python -m tools.config_table --write``) from the same
declarations that validation, the CLI and the app's form read, so it can only be
stale, never wrong: this test says when it is stale.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tools import config_table
from tui_trainer.core.config import FIELDS, LAYER_TYPES


def test_readme_holds_the_generated_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert config_table.with_tables(readme) == readme, "run: python -m tools.config_table --write"


def test_every_field_and_layer_kind_has_a_row() -> None:
    table = config_table.render()
    for key, field in FIELDS.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
        assert field.help in row
        for choice in field.choices:
            assert f"`{choice}`" in row
    for kind in LAYER_TYPES:
        assert f"| `{kind}` |" in table
    epochs = next(line for line in table.splitlines() if line.startswith("| `train.epochs` |"))
    assert epochs == "| `train.epochs` | `100` | 1..1000000 | epochs | passes over the training data |"


def test_check_fails_on_a_stale_readme(tmp_path) -> None:
    def check(readme):
        return subprocess.run([sys.executable, "-m", "tools.config_table", "--check", "--readme", str(readme)],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    assert check(REPO / "README.md").returncode == 0
    stale = tmp_path / "README.md"
    stale.write_text((REPO / "README.md").read_text(encoding="utf-8").replace(
        "| `train.epochs` | `100` |", "| `train.epochs` | `5` |"), encoding="utf-8")
    r = check(stale)
    assert r.returncode == 1 and r.stderr == f"{stale}: the config table differs; run python -m tools.config_table --write\n"
