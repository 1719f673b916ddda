"""The Textual face of tui-trainer.

``create_app(config, preset_name=...)`` is the one way in, for the CLI and the
tests alike.  Nothing outside this package imports Textual.
"""

from tui_trainer.app.app import TrainerApp, create_app

__all__ = ["TrainerApp", "create_app"]
