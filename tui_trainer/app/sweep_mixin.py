"""F12: the sweep view and starting a sweep from the form, for ``TrainerApp``.

Apart from ``sweep_view`` (as ``compare_mixin`` is from ``compare_view``) so that the
app's first frame doesn't wait for what only the view uses: its reader, the sweep
plan's parser, a second plot (~20 ms of imports).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_trainer.app.sweep_dialog import SweepLaunch, SweepRequest


class SweepMixin:
    """What ``TrainerApp`` gets for sweeps: the view (f12) and starting one from the form (``n`` there)."""

    #: The sweep this app started last (its process goes on if the app quits).
    sweep_launch: SweepLaunch | None = None
    _sweep_study: str | None = None
    _sweep_storage: str | None = None

    def _default_sweep_storage(self) -> str:
        from tui_trainer.app.sweep_reader import default_storage

        return default_storage(self.controller.runs_dir)  # type: ignore[attr-defined]

    def action_sweep(self) -> None:
        from tui_trainer.app.sweep_view import SweepScreen

        if isinstance(self.screen, SweepScreen):  # type: ignore[attr-defined]
            return
        screen = SweepScreen(self._sweep_storage or self._default_sweep_storage(), self._sweep_study)

        async def closed(folder: Path | None) -> None:
            self._sweep_study, self._sweep_storage = screen.study, screen.storage
            if folder is not None:
                await self._open_chosen(folder)  # type: ignore[attr-defined]

        self.push_screen(screen, closed)  # type: ignore[attr-defined]

    def action_new_sweep(self) -> None:
        """The dialog, then the sweep in a process of its own; the view follows its study."""
        from tui_trainer.app.sweep_dialog import SweepDialog, launch_sweep
        from tui_trainer.app.sweep_view import SweepScreen
        from tui_trainer.runs.store import runs_root

        check = self._validate()  # type: ignore[attr-defined]
        if not check.ok:
            self.notify("Fix the form's marked fields first: a sweep starts from the form's config.",  # type: ignore[attr-defined]
                        severity="error")
            return
        launch = self.sweep_launch
        if launch is not None and launch.process.poll() is None:
            self.notify(f"Sweep {launch.study} is still running (its log: {launch.log}).",  # type: ignore[attr-defined]
                        severity="warning")
            return
        view = self.screen if isinstance(self.screen, SweepScreen) else None  # type: ignore[attr-defined]
        storage = view.storage if view is not None else self._sweep_storage or self._default_sweep_storage()
        cfg = check.config
        preset = self.preset_name  # type: ignore[attr-defined]

        def chosen(request: SweepRequest | None) -> None:
            if request is None:
                return
            runs = runs_root(self.controller.runs_dir)  # type: ignore[attr-defined]
            try:
                self.sweep_launch = launch_sweep(request, cfg, preset, runs, storage, self._default_sweep_storage())
            except OSError as exc:
                self.notify(f"Can't start the sweep: {exc}", severity="error")  # type: ignore[attr-defined]
                return
            self._sweep_study, self._sweep_storage = request.study, storage
            if isinstance(self.screen, SweepScreen):  # type: ignore[attr-defined]
                self.screen.follow(request.study, storage)  # type: ignore[attr-defined]
                self.screen.show_status("")  # type: ignore[attr-defined]

        self.push_screen(SweepDialog(cfg, preset, storage), chosen)  # type: ignore[attr-defined]
