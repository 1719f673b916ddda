"""F9: the comparison view, for ``TrainerApp``.

Apart from ``compare_view`` so that the app's first frame doesn't wait for what only
that view uses (``tui-trainer compare``'s table, the runs' readers, a second plot).
"""

from __future__ import annotations


class CompareMixin:
    """What ``TrainerApp`` gets for the comparison view (it supplies the rest of ``self``)."""

    def action_compare(self) -> None:
        from tui_trainer.app.compare_view import CompareScreen
        from tui_trainer.runs.store import runs_root

        if isinstance(self.screen, CompareScreen):
            return
        config = getattr(self, "check", None)
        self.push_screen(CompareScreen(runs_root(), preset=getattr(self, "preset_name", None),
                                       base_config=getattr(config, "config", None)))
