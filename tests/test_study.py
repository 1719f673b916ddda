"""Studies: [[variants]] in a preset, each variant a run of its own, and the overfit preset's effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tui_trainer.core.errors import ConfigError
from tui_trainer.runs.comparison import read_run
from tui_trainer.runs.study import load_study

pytestmark = pytest.mark.framework

TINY = """
description = "two tiny variants"
[data]
dataset = "circle"
[model]
hidden = [2]
[train]
backend = "torch"
epochs = 3
batch_size = 50
[[variants]]
name = "narrow"
[[variants]]
name = "wide"
model.hidden = [6, 6]
model.activation = "relu"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_variants_become_validated_configs(tmp_path: Path) -> None:
    study = load_study(str(write(tmp_path / "tiny.toml", TINY)), {"train.epochs": 2})
    assert study is not None and [v.name for v in study.variants] == ["narrow", "wide"]
    narrow, wide = (v.config for v in study.variants)
    assert narrow.model.hidden == (2,) and wide.model.hidden == (6, 6) and wide.model.activation == ("relu", "relu")
    assert narrow.train.epochs == wide.train.epochs == 2  # --set applies to every variant
    assert study.variants[1].overrides == {"model.hidden": [6, 6], "model.activation": "relu"}
    assert load_study("circle") is None


@pytest.mark.parametrize("variant, message", [
    ('name = "x"\nmodel.hiden = [3]', "variants[0] (x): model.hiden: unknown key; allowed keys in [model]: "
                                      "hidden, activation, output_activation, dropout, regularization, reg_rate, "
                                      "layers (did you mean 'hidden'?)"),
    ('name = "x"\nmodels.hidden = [3]', "variants[0] (x): models.hidden: 'models' is not allowed; choose one of data, model, train"),
    ('name = "x"\nmodel.dropout = 2', "model.dropout: 2 is out of range"),
    ('model.hidden = [3]', "variants[0].name: is required"),
    ('name = "a b"', "variants[0].name: 'a b': use letters, digits, '-' and '_' only"),
])
def test_bad_variants_get_one_line(tmp_path: Path, variant: str, message: str) -> None:
    path = write(tmp_path / "bad.toml", f"[train]\nepochs = 1\n[[variants]]\n{variant}\n")
    with pytest.raises(ConfigError) as caught:
        load_study(str(path))
    assert message in str(caught.value) and str(path) in str(caught.value)
    r = run_cli("--preset", str(path), "--no-ui")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert r.stdout == ""


def test_same_message_as_set_for_an_unknown_key(tmp_path: Path) -> None:
    r = run_cli("--preset", "circle", "--no-ui", "--set", "model.hiden=[3]")
    assert r.returncode == 2
    said_by_set = r.stderr.split("error: ", 1)[1].split(" (in ")[0].strip()
    with pytest.raises(ConfigError) as caught:
        load_study(str(write(tmp_path / "v.toml", '[[variants]]\nname = "x"\nmodel.hiden = [3]\n')))
    assert said_by_set in str(caught.value)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.toml", '[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n')
    with pytest.raises(ConfigError, match=r"variants\[1\]\.name: 'a' names two variants"):
        load_study(str(path))


def test_parallel_jobs_run_each_variant_in_its_own_process(tmp_path: Path) -> None:
    preset = write(tmp_path / "tiny.toml", TINY)
    out = tmp_path / "study"
    r = run_cli("--preset", str(preset), "--no-ui", "--jobs", "2", "--output", str(out))
    assert r.returncode == 0, r.stderr
    for name in ("narrow", "wide"):
        info = json.loads((out / name / "study.json").read_text())
        assert info["variant"] == name and info["variants"] == ["narrow", "wide"]
        assert (out / name / "summary.json").is_file() and any(out.joinpath(name).glob("events.out.tfevents.*"))
        assert len(read_run(out / name).epochs) == 3
        assert sum(line.startswith(f"{name:<6} [Epoch") for line in r.stdout.splitlines()) == 3
    assert len({json.loads((out / n / "study.json").read_text())["study"] for n in ("narrow", "wide")}) == 1
    table = r.stdout[r.stdout.index("comparison of study"):]
    assert "hidden" in table and "activation" in table and "[6, 6]" in table and "relu" in table
    assert "\x1b" not in r.stdout  # piped: plain ASCII


def test_study_json_lines(tmp_path: Path) -> None:
    r = run_cli("--preset", str(write(tmp_path / "tiny.toml", TINY)), "--no-ui", "--json",
                "--output", str(tmp_path / "s"), "--set", "train.epochs=2")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert {e["variant"] for e in events[:-1]} == {"narrow", "wide"}
    assert sum(e["kind"] == "epoch_ended" for e in events) == 4
    last = events[-1]
    assert last["kind"] == "comparison" and [row["run"] for row in last["rows"]] == ["narrow", "wide"]
    assert last["rows"][1]["differs"] == {"model.hidden": [6, 6], "model.activation": "relu"}


def test_overfit_preset_shows_the_textbook_effect(tmp_path: Path) -> None:
    """The bigger model's best val_loss comes early, then it overfits: the largest train/val gap."""
    out = tmp_path / "overfit"
    r = run_cli("--preset", "overfit", "--no-ui", "--epochs", "12", "--output", str(out), timeout=600)
    assert r.returncode == 0, r.stderr
    names = ["smaller", "baseline", "bigger", "l2", "dropout"]
    table = r.stdout[r.stdout.index("comparison of study"):].splitlines()
    rows = [line for line in table if line.split(" ", 1)[0] in names]
    assert [row.split()[0] for row in rows] == names  # the table names every variant, in order
    assert all(f"{n} train" in r.stdout for n in ("a", "b", "c", "d", "e"))  # the chart's legend
    runs = {name: read_run(out / name) for name in names}
    best_epoch = {}
    gap = {}
    for name, run in runs.items():
        epochs, val_loss = run.series("val_loss")
        best_epoch[name] = epochs[val_loss.index(min(val_loss))]
        gap[name] = run.epochs[-1]["val_loss"] - run.epochs[-1]["loss"]
    assert best_epoch["bigger"] <= 6 and best_epoch["smaller"] >= best_epoch["bigger"] + 5, best_epoch
    assert max(gap, key=gap.get) == "bigger" and gap["bigger"] > 2 * max(g for n, g in gap.items() if n != "bigger"), gap
    assert runs["bigger"].epochs[-1]["loss"] < 0.05  # it memorised the training set
