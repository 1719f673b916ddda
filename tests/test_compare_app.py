"""The app's comparison view (f9): pick runs, overlaid curves, compare's table, a study filling in live."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from textual.widgets import DataTable, SelectionList

from tests.test_app import circle, wait_for
from tui_trainer.app import create_app
from tui_trainer.app.compare_view import CompareScreen
from tui_trainer.core import presets

pytestmark = pytest.mark.app

STARTED = "2026-01-02T10:00:00+00:00"


def hand_made_run(root: Path, run_id: str, hidden: list[int], overfit: float, *, epochs: int = 20,
                  variant: str | None = None, study: str = "") -> Path:
    """A finished run folder as the exporter writes one, with made-up but textbook-shaped curves."""
    folder = root / run_id
    folder.mkdir(parents=True)
    config = presets.load_preset("overfit").with_updates({"model.hidden": hidden, "train.epochs": epochs})
    (folder / "config.toml").write_text(presets.dumps(config), encoding="utf-8")
    lines = []
    for e in range(1, epochs + 1):
        loss = 0.7 * math.exp(-e * (0.05 + overfit))
        val = 0.7 * math.exp(-e * 0.05) + overfit * max(0, e - 4) * 0.3
        lines.append(json.dumps({"kind": "epoch_ended", "epoch": e, "epochs": epochs, "loss": loss, "acc": 0.5 + e / 50,
                                 "val_loss": val, "val_acc": 0.5 + e / 60, "seconds": 0.1, "mae": None,
                                 "val_mae": None}))
    (folder / "history.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "state.json").write_text(json.dumps({"id": run_id, "state": "finished", "started": STARTED,
                                                   "ended": STARTED, "epochs_done": epochs}), encoding="utf-8")
    if variant:
        (folder / "study.json").write_text(json.dumps({"study": study, "variant": variant, "index": 0}))
    return folder


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    hand_made_run(root, "20260102-100000-overfit-smaller", [4, 4], 0.0, variant="smaller", study="s")
    hand_made_run(root, "20260102-100001-overfit-bigger", [512, 512], 0.4, variant="bigger", study="s")
    hand_made_run(root, "20260102-100002-overfit-[red]x", [16, 16], 0.1)
    monkeypatch.setenv("TUI_TRAINER_RUNS", str(root))
    return root


def compare_app(preset: str = "overfit", config=None):
    return create_app(config or presets.load_preset(preset), preset_name=preset, threads=1, clock=lambda: 0.0,
                      show_timings=False)


async def open_and_pick(pilot, picks: int) -> CompareScreen:
    await pilot.press("f9")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), what="the comparison view")
    screen = pilot.app.screen
    runs = screen.query_one("#compare-runs", SelectionList)
    await wait_for(pilot, lambda: runs.option_count == 3, what="the runs list")
    runs.focus()
    for _ in range(picks):
        await pilot.press("space", "down")
    await pilot.pause(0.1)
    return screen


def test_picked_runs_are_overlaid_with_compares_table(runs_dir: Path) -> None:
    asyncio.run(_test_picked_runs_are_overlaid_with_compares_table(runs_dir))


async def _test_picked_runs_are_overlaid_with_compares_table(runs_dir: Path) -> None:
    app = compare_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_and_pick(pilot, 2)
        # Newest first: the "[red]x" run, then bigger.
        assert [Path(p).name for p in screen.picked] == ["20260102-100002-overfit-[red]x",
                                                         "20260102-100001-overfit-bigger"]
        grid = screen.query_one("#compare-table", DataTable)
        assert grid.row_count == 2
        header = [str(c.label) for c in grid.columns.values()]
        assert header == ["run", "hidden", "epochs", "best val_loss", "best val_acc", "gap"]
        first = [str(grid.get_cell_at((0, i))) for i in range(len(header))]
        assert first[0].endswith("20260102-100002-overfit-[red]x")  # literal, not markup
        bigger = [str(grid.get_cell_at((1, i))) for i in range(len(header))]
        assert bigger[0].endswith("bigger") and bigger[1] == "[512, 512]" and bigger[2] == "20"
        assert bigger[3].startswith("0.") and bigger[3].endswith("(4)")  # best val_loss at epoch 4, then it climbs
        assert screen.drawn_curves == 4  # two runs, training and validation each
        await pilot.press("m")  # accuracy chart
        await pilot.press("f5")  # run keys are off here: nothing starts behind the view
        await pilot.pause(0.2)
        assert app.run_state is None
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


def test_no_color_names_the_letters(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_test_no_color_names_the_letters(runs_dir, monkeypatch))


async def _test_no_color_names_the_letters(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with compare_app().run_test(size=(80, 24)) as pilot:
        screen = await open_and_pick(pilot, 3)
        grid = screen.query_one("#compare-table", DataTable)
        assert [str(grid.get_cell_at((r, 0))).split()[0] for r in range(3)] == ["a/A", "b/B", "c/C"]


def test_a_study_started_here_fills_in_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_test_a_study_started_here_fills_in_live(tmp_path, monkeypatch))


async def _test_a_study_started_here_fills_in_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    monkeypatch.setenv("TUI_TRAINER_RUNS", str(root))
    preset = tmp_path / "tiny-study.toml"
    preset.write_text('[[variants]]\nname = "narrow"\n[[variants]]\nname = "wide"\nmodel.hidden = [8, 8]\n')
    # Long enough (a few seconds per variant) that the view, which re-reads run folders about once a
    # second, is sure to see each run part-way through, even on a fast, quiet machine.
    epochs = 3000
    config = circle(**{"train.epochs": epochs})
    app = create_app(config, preset_name=str(preset), threads=1)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f9")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="the comparison view")
        screen = app.screen
        await pilot.press("r")
        assert screen.study is not None and screen.study_process is not None
        seen_partial: list[int] = []

        def progress() -> bool:
            for key in screen.picked:
                tail = screen.tails.get(key)
                n = len(tail.curves.epochs) if tail else 0
                if 0 < n < epochs:
                    seen_partial.append(n)
            return len(screen.picked) == 2 and all(len(screen.tails[k].curves.epochs) == epochs for k in screen.picked)

        await wait_for(pilot, progress, timeout=240, what="both variants to finish")
        assert seen_partial, "the curves never showed a run in progress"
        await wait_for(pilot, lambda: screen.study_process is None, timeout=30, what="the study process to end")
        assert [screen.tails[k].curves.label for k in screen.picked] == ["narrow", "wide"]
        assert screen.query_one("#compare-table", DataTable).row_count == 2
        folders = {p.name.rsplit("-", 1)[-1]: p for p in root.iterdir()}
        assert sorted(folders) == ["narrow", "wide"] and all("tiny-study" in p.name for p in folders.values())
        # the form's config (circle, 3000 epochs), with each variant's overrides on top
        narrow, wide = (presets.load_preset(str(folders[n] / "config.toml")) for n in ("narrow", "wide"))
        assert narrow.model.hidden == (3, 3) and wide.model.hidden == (8, 8)
        assert narrow.train.epochs == wide.train.epochs == epochs and wide.data.dataset == "circle"


def test_a_preset_without_variants_says_so(runs_dir: Path) -> None:
    asyncio.run(_test_a_preset_without_variants_says_so(runs_dir))


async def _test_a_preset_without_variants_says_so(runs_dir: Path) -> None:
    async with compare_app("circle").run_test(size=(120, 40)) as pilot:
        await pilot.press("f9")
        await pilot.pause(0.2)
        await pilot.press("r")
        await pilot.pause(0.1)
        assert "has no [[variants]]" in str(pilot.app.screen.query_one("#compare-status").render())
