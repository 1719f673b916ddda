"""The event stream a run sends its viewers: one encoding per event, epochs sent in batches.

A real ``RunServer`` on a real unix socket in a temporary folder, read by a raw
socket client; the events are hand-made (no framework, no training).
"""

from __future__ import annotations

import json
import math
import socket
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from tui_trainer.core import events as events_module
from tui_trainer.core.control import RunControl
from tui_trainer.core.events import EpochEnded, RunFinished, to_json_dict
from tui_trainer.runs import server as server_module
from tui_trainer.runs.server import RunServer


def generic_json(event: EpochEnded) -> dict:
    """What ``to_json_dict`` gave every event before epochs had their own path: asdict, then _jsonable."""
    data = asdict(event)
    data.pop("kind")
    data.pop("time")
    head = {"kind": event.kind, "time": events_module.timestamp(event.time)}
    return events_module._jsonable({**head, **data})


#: Epochs with plain floats, NaN and infinities, None, regression fields and NumPy numbers.
EPOCHS = [
    EpochEnded(epoch=1, epochs=10, loss=0.693147180559, acc=0.5, val_loss=0.7, val_acc=0.4375, seconds=0.0123456),
    EpochEnded(epoch=7, epochs=7, loss=math.nan, acc=None, val_loss=math.inf, val_acc=None, seconds=1e-7,
               mae=1234.56789, val_mae=-0.000123456789),
    EpochEnded(epoch=3, epochs=5, loss=np.float32(0.25), acc=np.float64(1.0), val_loss=np.float32(math.nan),
               val_acc=0.1 + 0.2, seconds=12.34567),
]


@pytest.mark.parametrize("event", EPOCHS)
def test_epoch_json_is_what_the_generic_encoding_gives(event: EpochEnded) -> None:
    fast = to_json_dict(event)
    assert fast == generic_json(event)
    assert list(fast) == list(generic_json(event))  # same key order: the log's lines are unchanged
    assert json.dumps(fast, allow_nan=False) == json.dumps(generic_json(event), allow_nan=False)


@pytest.mark.parametrize("event", [
    *EPOCHS,
    EpochEnded(epoch=2, epochs=2, loss=-0.0, acc=1.0, val_loss=1e-300, val_acc=0.0, seconds=3600.00004),
    RunFinished(reason="completed", epochs_run=1, best_epoch=1, best_val_loss=0.5, best_val_acc=None, final=None,
                seconds=1.5),
])
def test_the_written_line_is_what_json_dumps_gives(event) -> None:
    """Epochs are written straight from their fields; the text must be json.dumps's, byte for byte."""
    assert events_module.event_json(event) == json.dumps(to_json_dict(event), allow_nan=False)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_timestamps_made_once_a_second_are_datetimes_own(zone: str, monkeypatch) -> None:
    """The cached date-and-offset timestamp equals datetime's, rounding, carries and DST changes included."""
    from datetime import datetime

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        rng = np.random.default_rng(0)
        now = time.time()
        cases = list(rng.uniform(0, 4e9, 20_000)) + list(now + rng.uniform(-1e6, 1e6, 20_000))
        cases += [n + f for n in range(int(now), int(now) + 5)
                  for f in (0.0, 0.0004995, 0.0005, 0.0000005, 0.0000015, 0.123, 0.9995, 0.9999995, 0.9999996)]
        for seconds in map(float, cases):
            expected = datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="milliseconds")
            assert events_module.timestamp(seconds) == expected, seconds
    finally:
        monkeypatch.undo()
        time.tzset()


def epoch(n: int) -> EpochEnded:
    return EpochEnded(epoch=n, epochs=1000, loss=1.0 / n, acc=0.5, val_loss=1.0 / n, val_acc=0.5, seconds=0.001)


class RawViewer:
    """A viewer that reads the socket itself: lines, and how many reads they took."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buffer = b""
        self.reads = 0
        self.lines: list[dict] = []

    def read_until(self, done, timeout: float) -> float:
        """Read until ``done(lines)``; seconds it took (raises after ``timeout``)."""
        t0 = time.monotonic()
        self.sock.settimeout(0.05)
        while not done(self.lines):
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"timed out; got {self.lines[-3:]}")
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            assert chunk, "the run closed the connection"
            self.reads += 1
            self.buffer += chunk
            *whole, self.buffer = self.buffer.split(b"\n")
            self.lines += [json.loads(line) for line in whole]
        return time.monotonic() - t0

    def epochs(self) -> list[int]:
        return [line["epoch"] for line in self.lines if line.get("kind") == "epoch_ended"]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served(tmp_path):
    server = RunServer(tmp_path, RunControl(), lambda: None).start()
    viewer = RawViewer(server.path)
    viewer.read_until(lambda lines: any(line.get("kind") == "control" for line in lines), 10)
    yield server, viewer
    viewer.close()
    server.close(drain=0)


def test_a_fast_run_reaches_its_viewer_whole_in_order_and_in_few_writes(served) -> None:
    server, viewer = served
    for n in range(1, 301):  # far faster than SEND_INTERVAL apart
        server(epoch(n))
    server(RunFinished(reason="completed", epochs_run=300, best_epoch=300, best_val_loss=1 / 300,
                       best_val_acc=0.5, final=epoch(300), seconds=0.3))
    viewer.read_until(lambda lines: lines and lines[-1].get("kind") == "run_finished", 20)
    assert viewer.epochs() == list(range(1, 301))
    assert viewer.reads < 60, f"{viewer.reads} reads for 300 epochs: one write per epoch, not batches"


def test_first_and_last_epochs_go_at_once_and_urgent_lines_take_the_waiting_ones(served, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "SEND_INTERVAL", 30.0)  # a batch would wait half a minute
    server, viewer = served
    server(epoch(1))  # the first epoch after a quiet spell: F5 shows it without waiting
    assert viewer.read_until(lambda lines: viewer.epochs() == [1], 10) < 10
    server(epoch(2))
    server(epoch(3))  # these wait for the batch...
    time.sleep(0.2)
    with pytest.raises(AssertionError, match="timed out"):
        viewer.read_until(lambda lines: 2 in viewer.epochs(), 0.3)
    # ...until a command's answer (urgent) carries them along, in order, before it.
    viewer.sock.sendall(b'{"cmd": "pause"}\n')
    viewer.read_until(lambda lines: lines[-1].get("kind") == "control" and lines[-1]["paused"], 10)
    assert viewer.epochs() == [1, 2, 3]
    assert server.control.paused
    # The epoch that ends after the pause is the last before the run waits: it goes at once too.
    server(epoch(4))
    viewer.read_until(lambda lines: viewer.epochs() == [1, 2, 3, 4], 10)
