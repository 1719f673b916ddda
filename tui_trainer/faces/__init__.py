"""Headless faces of the engine: the printer, progress line, compare/runs/study commands, exit codes."""
