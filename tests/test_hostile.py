"""Hostile input, signals and faults against the headless CLI (issue 8).

Every test makes its own bad input, runs the real command in a subprocess
(real signals, real pipes, real files) and checks the exit code, the one-line
message and that nothing written earlier was lost.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, run_cli
from tui_trainer.core import layers, presets
from tui_trainer.core.config import Config, LayerConfig, ModelConfig
from tui_trainer.core.errors import ConfigError
from tui_trainer.core.textsafe import printable

ESC = "\x1b"


def one_line_error(r: subprocess.CompletedProcess, *fragments: str, code: int = 2) -> None:
    assert r.returncode == code, (r.returncode, r.stdout[-500:], r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-trainer: error: "), r.stderr
    assert "Traceback" not in r.stderr and ESC not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.stderr)


def csv_file(path: Path, rows: int = 40) -> Path:
    lines = ["x1,x2,label"] + [f"{(i % 7) - 3},{(i % 5) - 2},{'a' if i % 2 else 'b'}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 3. signals and closed pipes ------------------------------------------------------------


def _start_long_run(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", "torch", "--epochs", "100000",
         "--set", "train.batch_size=1", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


@pytest.mark.framework
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signals_end_a_run_like_ctrl_c(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = _start_long_run(out)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("[Epoch") and int(line[len("[Epoch"):].split("/")[0]) >= 2:
                break
        os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "stopping after the current batch" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "finished: stopped" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["epochs_run"] >= 2 and summary["weights"] == "model.pt"
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, summary["epochs_run"] + 1))
    jsonl = (out / "history.jsonl").read_text()
    assert jsonl.endswith("\n") and json.loads(jsonl.splitlines()[-1])["kind"] == "run_finished"
    assert (out / "model.pt").stat().st_size > 0


@pytest.mark.framework
def test_sigterm_stops_a_study_like_ctrl_c(tmp_path):
    preset = tmp_path / "two.toml"
    preset.write_text('[train]\nbackend = "torch"\nepochs = 100000\nbatch_size = 1\n'
                      '[[variants]]\nname = "one"\n[[variants]]\nname = "two"\nmodel.hidden = [4]\n')
    out = tmp_path / "study"
    proc = subprocess.Popen([sys.executable, "-m", "tui_trainer", "--preset", str(preset), "--no-ui", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and "[Epoch" not in proc.stdout.readline():
            pass
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "got SIGTERM; stopping the study" in stderr and "Traceback" not in stderr
    summary = json.loads((out / "one" / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["epochs_run"] >= 1


@pytest.mark.framework
def test_closed_stdout_is_quiet_and_the_record_is_complete(tmp_path):
    out = tmp_path / "piped"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", "torch", "--epochs", "200", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    first = proc.stdout.readline()  # what `| head -1` does: read one line, then close the pipe
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"tui-trainer: circle")
    assert proc.returncode == 0, stderr
    assert stderr == ""  # no "Exception ignored ... BrokenPipeError"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reason"] == "completed" and summary["epochs_run"] == 200
    assert len(list(csv.DictReader((out / "history.csv").open()))) == 200


def test_list_presets_into_a_closed_pipe_is_quiet():
    proc = subprocess.Popen([sys.executable, "-m", "tui_trainer", "--list-presets"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.stderr.read() == b""
    assert proc.wait(timeout=60) == 0


# -- 4. text files that are not what they claim ----------------------------------------------


def test_bad_files_in_the_user_folder_are_listed_as_broken(isolated_config):
    folder = isolated_config
    folder.mkdir(parents=True)
    (folder / "latin.toml").write_bytes('description = "café"\n'.encode("latin-1"))
    (folder / "bom.toml").write_bytes(b'\xef\xbb\xbfdescription = "with a BOM"\n[train]\nepochs = 3\n')
    (folder / "deep.toml").write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    (folder / "broken.toml").write_text("[train\n")
    (folder / "adir.toml").mkdir()
    (folder / "dangling.toml").symlink_to(folder / "nowhere.toml")
    listed = run_cli("--list-presets")
    assert listed.returncode == 0 and listed.stderr == ""
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "built-in" in rows["circle"]
    assert "user      with a BOM" in rows["bom"]
    assert "broken: " in rows["latin"] and "not UTF-8" in rows["latin"]
    assert "broken: " in rows["deep"] and "nest too deeply" in rows["deep"]
    assert "broken: " in rows["broken"] and "not valid TOML" in rows["broken"]
    assert "broken: " in rows["adir"] and "broken: " in rows["dangling"]
    # A mistyped name still gets its suggestion; the broken files are named when used.
    one_line_error(run_cli("--preset", "circel", "--no-ui"), "did you mean 'circle'")
    one_line_error(run_cli("--preset", "latin", "--no-ui"), "latin.toml", "not UTF-8", "line 1")
    one_line_error(run_cli("--preset", "deep", "--no-ui"), "deep.toml", "at most 32 levels")
    bom = run_cli("--preset", "bom", "--show-config")
    assert bom.returncode == 0 and "epochs = 3" in bom.stdout


def test_long_and_looping_extends_chains_are_bounded(tmp_path):
    for i in range(200):
        (tmp_path / f"p{i}.toml").write_text(f'extends = "p{i + 1}.toml"\n' if i < 199 else "")
    one_line_error(run_cli("--preset", str(tmp_path / "p0.toml"), "--show-config"), "extends", "longer than 16")
    (tmp_path / "loop.toml").write_text('extends = "loop.toml"\n')
    one_line_error(run_cli("--preset", str(tmp_path / "loop.toml"), "--show-config"), "loop")


def test_extends_errors_name_the_right_preset_and_paths_are_relative_to_it(tmp_path):
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    (base_dir / "base.toml").write_text('[data]\ndataset = "file"\npath = "pts.csv"\n[train]\noptimizer = "adamm"\n')
    csv_file(base_dir / "pts.csv")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base/base.toml"\n[train]\nepochs = 3\n')
    # The bad optimizer is in base.toml, not in child.toml.
    one_line_error(run_cli("--preset", str(child), "--show-config", cwd=tmp_path.parent),
                   "train.optimizer", f"(in {base_dir / 'base.toml'})")
    (base_dir / "base.toml").write_text('[data]\ndataset = "file"\npath = "pts.csv"\n')
    shown = run_cli("--preset", str(child), "--show-config", cwd=tmp_path.parent)
    assert shown.returncode == 0, shown.stderr
    assert str(base_dir / "pts.csv") in shown.stdout  # next to base.toml, not in the current folder
    (tmp_path / "orphan.toml").write_text('extends = "no-such-preset"\n')
    one_line_error(run_cli("--preset", str(tmp_path / "orphan.toml"), "--show-config"),
                   "extends: no preset named 'no-such-preset'", "orphan.toml")


# -- 5. data files that lie ------------------------------------------------------------------


def test_csv_unclosed_quote_names_the_line(tmp_path):
    bad = tmp_path / "q.csv"
    bad.write_text('x1,x2,label\n1,2,a\n3,4,"b\n5,6,a\n7,8,b\n-1,-2,a\n')
    one_line_error(run_cli("--preset", "csv", "--no-ui", "--set", f"data.path={bad}"), f"{bad}: line 3", "quote")
    bad.write_text('x1,x2,label\n1,2,a\n3,"4,b\n5,6,a\n7,8,"b\n9,9,a\n')
    one_line_error(run_cli("--preset", "csv", "--no-ui", "--set", f"data.path={bad}"), f"{bad}: line 3", "quote")


def _npz_declaring(path: Path, shape: tuple[int, ...], real_bytes: int) -> None:
    """A small compressed .npz whose header declares a huge array (a decompression bomb)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
            for _ in range(real_bytes >> 20):
                fh.write(bytes(1 << 20))
        with zf.open("y.npy", "w") as fh:
            np.lib.format.write_array(fh, np.zeros(10))


def test_npz_bomb_is_refused_with_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.npz"
    _npz_declaring(bomb, (400_000_000, 2), 64 << 20)  # declares 6.4 GB, holds 64 MB of zeros
    assert bomb.stat().st_size < 1_000_000
    code = (
        "import resource, subprocess, sys\n"
        f"r = subprocess.run([sys.executable, '-m', 'tui_trainer', '--preset', 'csv', '--no-ui', "
        f"'--set', 'data.path={bomb}'], capture_output=True, text=True)\n"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.write(r.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    rc, max_kb = map(int, r.stdout.split())
    assert rc == 2 and "at most 100,000,000 values" in r.stderr and "bomb.npz" in r.stderr, r.stderr
    assert max_kb < 300_000, max_kb  # refused from the header, never loaded


def test_complex_and_object_arrays_are_refused(tmp_path):
    cplx = tmp_path / "c.npz"
    np.savez(cplx, x=np.ones((10, 2), complex), y=np.arange(10) % 2)
    one_line_error(run_cli("--preset", "csv", "--no-ui", "--set", f"data.path={cplx}"), "'x'", "complex")
    obj = tmp_path / "o.npz"
    np.savez(obj, x=np.ones((10, 2)), y=np.array([{"a": 1}] * 10, dtype=object))
    one_line_error(run_cli("--preset", "csv", "--no-ui", "--set", f"data.path={obj}"), "'y'", "pickle")


def test_nan_pixels_in_mnist_are_a_data_error(tmp_path):
    x = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    x[3, 4, 5] = np.nan
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x, y_train=np.arange(20) % 10, x_test=x[:5] * 0 + 0.5, y_test=np.arange(5))
    one_line_error(run_cli("--preset", "mnist", "--no-ui", "--backend", "torch", "--set", f"data.path={path}"),
                   str(path), "x_train", "NaN")


def test_deeply_nested_json_data_is_bounded(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(run_cli("--preset", "csv", "--no-ui", "--set", f"data.path={deep}"), "nest too deeply")


# -- 6. numbers that are not numbers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [("--min-val-acc", "nan", "not a finite number"), ("--min-val-acc", "inf", "not a finite number"),
     ("--min-val-acc", "1.5", "0 <= X <= 1"), ("--min-val-acc", "-0.1", "0 <= X <= 1"),
     ("--max-val-loss", "nan", "not a finite number"), ("--max-val-loss", "-inf", "not a finite number"),
     ("--max-val-loss", "-1", ">= 0"), ("--max-val-loss", "abc", "not a number")],
)
def test_thresholds_must_be_real_targets(tmp_path, flag, value, fragment):
    out = tmp_path / "never"
    t0 = time.perf_counter()
    r = run_cli("--no-ui", "--output", str(out), f"{flag}={value}")
    assert time.perf_counter() - t0 < 5
    one_line_error(r, flag, fragment)
    assert not out.exists()


# -- 8. escape sequences on pipes -------------------------------------------------------------


def test_printable_strips_escapes_and_controls():
    assert printable("a\x1b[31mred\x1b[0m b") == "ared b"
    assert printable("title\x1b]0;pwned\x07!") == "title!"
    assert printable("two\nlines\ttab") == "two lines tab"
    assert printable("bell\x07 nul\x00 c1\x85 rtl\u202e") == "bell? nul? c1? rtl?"
    assert printable("X1² · café") == "X1² · café"


def test_escapes_in_labels_and_descriptions_never_reach_a_pipe(tmp_path, isolated_config):
    data = tmp_path / "evil.csv"
    cat, dog, fox = "\x1b[2Jcat", "\x1b]0;pwned\x07dog", "\x1b[31mfox\x1b[0m"
    rows = ["x1,x2,label"] + [f"{i % 5 - 2},{i % 3 - 1},{cat if i % 3 else dog}" for i in range(30)] + [f"1,1,{fox}"]
    data.write_text("\n".join(rows) + "\n")
    r = run_cli("--preset", "csv", "--no-ui", "--backend", "torch", "--epochs", "2", "--set", f"data.path={data}")
    assert r.returncode == 0, r.stderr
    both = r.stdout + r.stderr  # the notes go to stderr, the class table to stdout
    assert ESC not in both and "\x07" not in both
    assert "labels: cat→0, fox→1, dog→2" in both  # sorted by the raw text, shown without the escapes
    isolated_config.mkdir(parents=True)
    (isolated_config / "shady.toml").write_text('description = "nice\\u001b[2J\\u001b]0;owned\\u0007 preset"\n')
    listed = run_cli("--list-presets")
    assert listed.returncode == 0 and ESC not in listed.stdout and "nice preset" in listed.stdout
    bad = run_cli("--preset", "\x1b[2Jnope", "--no-ui")
    one_line_error(bad, "no preset named")
    assert "\\x1b" in bad.stderr  # the name is quoted with repr: visible, not executed


# -- 9. concurrent preset saves ---------------------------------------------------------------


def test_concurrent_saves_have_one_winner(isolated_config):
    code = textwrap.dedent("""
        import sys
        from tui_trainer.core import presets
        from tui_trainer.core.config import Config
        cfg = Config(description=f"writer {sys.argv[1]}")
        try:
            presets.save_preset(cfg, "race")
        except FileExistsError:
            print("exists")
        else:
            print("saved")
    """)
    env = {**os.environ, "XDG_CONFIG_HOME": str(isolated_config.parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, text=True, cwd=REPO,
                              env=env) for i in range(8)]
    results = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(results) == ["exists"] * 7 + ["saved"], results
    files = sorted(p.name for p in isolated_config.iterdir())
    assert files == ["race.toml"]  # no temp file left behind
    winner = results.index("saved")
    assert presets.load_preset("race").description == f"writer {winner}"


# -- 10. framework noise ------------------------------------------------------------------------


@pytest.mark.framework
def test_tensorflow_prints_nothing_of_its_own():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL", "GLOG"))}
    r = subprocess.run([sys.executable, "-m", "tui_trainer", "--preset", "circle", "--no-ui", "--epochs", "2"],
                       capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    ours = ("tui-trainer:", "[Epoch", "finished:", "final:", "best:", "layer", "dense", "total params", "decision",
            "+", "|", "'='", "")
    assert all(line.startswith(ours) for line in r.stdout.splitlines()), r.stdout
    loud = subprocess.run([sys.executable, "-m", "tui_trainer", "--preset", "circle", "--no-ui", "--epochs", "1",
                           "--verbose"], capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    assert loud.returncode == 0 and "oneDNN" in loud.stderr  # --verbose lets them through


# -- 11. small ones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--preset", ""], "--preset: is empty"), (["--output", ""], "--output: is empty"),
     (["--output", "{file}/run"], "is a file, not a folder"), (["--output", "{file}"], "not a folder"),
     (["--output", "{dangling}"], "symbolic link")],
)
def test_bad_preset_and_output_fail_at_once(tmp_path, args, fragment):
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    args = [a.format(file=a_file, dangling=tmp_path / "dangling") for a in args]
    t0 = time.perf_counter()
    r = run_cli("--no-ui", *args, cwd=tmp_path)
    assert time.perf_counter() - t0 < 5  # no framework import (typically 0.1 s)
    one_line_error(r, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "dangling"]
    assert a_file.read_text() == "keep me\n"


def test_output_check_imports_no_framework(tmp_path):
    code = ("import sys\nfrom tui_trainer.cli import main\n"
            "try:\n"
            f"    code = main(['--no-ui', '--output', {str(tmp_path / 'f' / 'x')!r}])\n"
            "except SystemExit as exc:\n    code = exc.code\n"
            "print(code, [m for m in ('tensorflow', 'torch', 'numpy') if m in sys.modules])")
    (tmp_path / "f").write_text("")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.stdout.split("\n")[0] == "2 []", r.stdout + r.stderr


def test_hidden_override_on_explicit_layers_is_refused():
    one_line_error(run_cli("--preset", "mnist-cnn", "--set", "model.hidden=[8]", "--show-config"),
                   "model.hidden", "explicit [[model.layers]]", "command-line")


def test_json_list_presets_is_json_lines():
    r = run_cli("--json", "--list-presets")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    circle = next(row for row in rows if row["name"] == "circle")
    assert circle["source"] == "built-in" and "textbook" in circle["description"] and circle["error"] is None


def test_huge_model_is_refused_before_it_is_built():
    t0 = time.perf_counter()
    r = run_cli("--no-ui", "--set", "model.hidden=[100000,100000]")
    assert time.perf_counter() - t0 < 20
    one_line_error(r, "model: 10,000,500,001 parameters", "at most 50,000,000")


def test_layer_errors_after_an_auto_flatten_name_the_users_index():
    cfg = Config(model=ModelConfig(layers=(LayerConfig("dense", units=8), LayerConfig("conv2d", filters=4))))
    with pytest.raises(ConfigError) as info:
        layers.build_specs(cfg, (8, 8, 1), 10, "multiclass")
    assert info.value.field == "model.layers[1]" and "conv2d" in str(info.value)


def test_preset_name_is_checked_by_the_library_too():
    with pytest.raises(Exception, match="is empty"):
        presets.load_preset("  ")
