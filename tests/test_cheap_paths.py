"""The answers that need no training never import a framework, Textual or matplotlib.

Each case runs the real ``main`` in a fresh interpreter and then lists which
heavy packages ended up in ``sys.modules``: an import, not a timing, so the
check is exact on any machine (``benchmarks/bench_startup.py`` prints the times).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("tensorflow", "keras", "torch", "textual", "matplotlib", "plygdata", "sklearn", "pandas")

PROBE = (
    "import json, sys\n"
    "from tui_trainer.cli import main\n"
    "try:\n    code = main(json.loads(sys.argv[1]))\nexcept SystemExit as exc:\n    code = exc.code\n"
    "sys.stdout.flush()\n"
    f"print('\\nPROBE', json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
)


def probe(args: list[str], cwd=REPO) -> tuple[int, list[str], str, str]:
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                       cwd=cwd, timeout=60)
    tail = r.stdout.rstrip().splitlines()[-1]
    assert tail.startswith("PROBE "), r.stdout + r.stderr
    code, loaded = json.loads(tail[len("PROBE "):])
    return code, loaded, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--help"], 0, "exit codes"),
        (["--version"], 0, "tui-trainer"),
        (["--list-presets"], 0, "circle"),
        (["--show-config"], 0, "[train]"),
        (["--preset", "spiral", "--backend", "torch", "--show-config"], 0, 'backend = "torch"'),
    ],
)
def test_information_imports_no_framework(args, code, fragment):
    got, loaded, out, err = probe(args)
    assert got == code, err
    assert fragment in out
    assert loaded == []


@pytest.mark.parametrize(
    "args",
    [
        ["--no-ui", "--set", "train.optimizer=adamm"],
        ["--no-ui", "--preset", "circel"],
        ["--no-ui", "--backend", "jax"],
        ["--no-ui", "--epochs", "0"],
        ["--json"],
        ["--no-ui", "--preset", "reg-plane", "--min-val-acc", "0.5"],
        ["--output", "somewhere"],
    ],
)
def test_bad_input_imports_no_framework(args):
    code, loaded, out, err = probe(args)
    assert code == 2
    assert err.startswith("tui-trainer: error:") and len(err.strip().splitlines()) == 1
    assert loaded == []


def test_refused_output_folder_imports_no_framework(tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    code, loaded, _, err = probe(["--no-ui", "--backend", "torch", "--output", str(tmp_path)])
    assert code == 2 and "--overwrite" in err
    assert loaded == []


def test_bad_data_file_imports_no_framework(tmp_path):
    bad = tmp_path / "points.csv"
    bad.write_text("a,b,label\n1,2,1\n3,oops,0\n")
    code, loaded, _, err = probe(["--no-ui", "--backend", "torch", "--preset", "csv", "--set", f"data.path={bad}",
                                  "--set", "data.columns=[a,b]"])
    assert code == 2 and "points.csv" in err
    assert loaded == []


def test_the_apps_first_frame_imports_neither_numpy_nor_plotext_nor_optuna():
    # What the app imports before its first frame (issue 14: < 0.5 s): numpy (~35 ms), plotext (~25 ms) and
    # Optuna come after it, with the data's preview, the loss plot and the sweep view.
    code = ("import sys\nimport tui_trainer.cli, tui_trainer.app\n"
            "print(sorted(m for m in ('numpy', 'plotext', 'textual_plotext', 'optuna', 'tui_trainer.runs.sweep', "
            "'tensorflow', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
