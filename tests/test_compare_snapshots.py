"""Screenshots of the comparison view (f9) with three hand-made runs picked, wide and at 80x24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import SelectionList

from tests.test_app import wait_for
from tests.test_compare_app import compare_app, hand_made_run
from tui_trainer.app.compare_view import CompareScreen

pytestmark = pytest.mark.app


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # A fixed folder: the screen's title shows it.
    root = Path("/tmp/tui-trainer-snapshot-runs")
    if root.exists():
        import shutil

        shutil.rmtree(root)
    hand_made_run(root, "20260102-100000-overfit-smaller", [4, 4], 0.0, variant="smaller", study="s")
    hand_made_run(root, "20260102-100001-overfit-baseline", [16, 16], 0.1, variant="baseline", study="s")
    hand_made_run(root, "20260102-100002-overfit-bigger", [512, 512], 0.4, variant="bigger", study="s")
    monkeypatch.setenv("TUI_TRAINER_RUNS", str(root))
    return root


async def pick_all(pilot) -> None:
    await pilot.press("f9")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen), what="the comparison view")
    runs = pilot.app.screen.query_one("#compare-runs", SelectionList)
    await wait_for(pilot, lambda: runs.option_count == 3, what="the runs list")
    runs.focus()
    for _ in range(3):
        await pilot.press("space", "down")
    await pilot.press("up", "up", "up")
    await pilot.pause(0.3)


def test_compare_view_at_120x40(snap_compare, runs_dir: Path) -> None:
    assert snap_compare(compare_app(), terminal_size=(120, 40), run_before=pick_all)


def test_compare_view_at_80x24(snap_compare, runs_dir: Path) -> None:
    assert snap_compare(compare_app(), terminal_size=(80, 24), run_before=pick_all)
