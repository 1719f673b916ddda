"""How long something took or will take, in a few characters: one rule for every face.

The app's status line (elapsed time, ETA) and ``tui-trainer runs`` (a run's
duration) show durations the same way: ``12.3s``, ``4m05s``, ``3h07m``, and
past 48 hours ``2d05h`` (a week-long run reads ``7d00h``, not ``168h00m``).
Unknown (None, NaN) is an en dash, as every other missing value in the app.
"""

from __future__ import annotations

import math

#: What an unknown duration reads.
UNKNOWN = "–"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return UNKNOWN
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
