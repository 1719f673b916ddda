"""Errors that mean "the user gave us something we can't use".

Every face turns these into one clear line and exit code 2, so they carry the
field (or file) they are about and never need a traceback to be understood.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: the message is complete and shown as is."""

    exit_code = 2


class ConfigError(UserError):
    """A config field has a bad value, or a key is unknown."""

    def __init__(self, field: str, message: str, *, source: str | None = None) -> None:
        self.field = field
        self.reason = message
        self.source = source
        where = f" (in {source})" if source else ""
        super().__init__(f"{field}: {message}{where}")

    def with_source(self, source: str) -> ConfigError:
        return ConfigError(self.field, self.reason, source=source)


class DataError(UserError):
    """A data file or data source can't be used (missing, malformed, wrong shape)."""


class BackendUnavailable(UserError):
    """The chosen framework (or device) is not installed or not usable here."""


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix, or '' when nothing is close."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def choice_error(field: str, value: object, choices: Iterable[str]) -> ConfigError:
    choices = list(choices)
    return ConfigError(
        field,
        f"{value!r} is not allowed; choose one of {', '.join(choices)}{did_you_mean(value, choices)}",
    )
