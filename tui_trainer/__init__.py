"""tui-trainer: build, train and watch small neural networks in the terminal.

The package root stays import-light on purpose: ``tui-trainer --help`` and the
first frame of the app must not wait for TensorFlow or PyTorch.
"""

__version__ = "0.1.0"
