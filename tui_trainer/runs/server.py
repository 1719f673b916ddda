"""The control channel of a running run: a unix socket beside its folder.

Whatever process trains (a headless run, a ``--detach`` run, the app's worker)
serves one socket; any number of viewers (the app that started it, ``tui-trainer
attach`` from another terminal) connect to it.  JSON lines both ways:

* to viewers: every event exactly as in ``history.jsonl`` (no thinning: maps
  come as often as the engine makes them), ``{"kind": "control", "paused": ...}``
  whenever pause/stop change, and ``{"reply": ID, ...}`` answers;
* from viewers: ``{"cmd": "pause" | "resume" | "step" | "stop"}``,
  ``{"cmd": "grid", "rows": R, "cols": C}`` (the map size this viewer draws),
  ``{"cmd": "network", "rows": R, "cols": C}`` (per-neuron maps; 0 closes),
  ``{"cmd": "go"}`` (a run started for this viewer may begin: its first commands are in),
  and questions with an ``id``: ``boundary`` (the map now, e.g. while paused),
  ``predict`` (points) and ``classes`` (predicted classes of the first N
  validation samples), ``snapshot`` (the network view's per-neuron maps now, and the map).

Measured against the alternatives: a command reaches the engine's
``RunControl`` in well under a millisecond; a control file would need polling,
and a pipe only serves the one process that started the run.  A slow viewer
never slows training: each has its own send queue and is dropped (it can
reconnect and replay the log) when that queue passes ``MAX_QUEUE`` lines.  Epoch lines
are sent in batches (``SEND_INTERVAL``): the training thread only appends to a list.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tui_trainer.core.control import RunControl
from tui_trainer.core.events import EpochEnded, EpochProgress, Event, to_json_dict
from tui_trainer.core.hooks import Face
from tui_trainer.runs.export import event_line

SOCKET_NAME = "control.sock"
#: Lines a viewer may fall behind before it is dropped.
MAX_QUEUE = 20_000
#: Longest an epoch line waits for the ones after it before it is sent (seconds): one write per
#: epoch would cost a fast run a thread switch each.  Kept short: at 0.05 the bursts of epochs
#: delayed the app's keys by 30-60 ms (bench_app.py); at 0.01 the worker paid more wake-ups.
SEND_INTERVAL = 0.02


def socket_path(folder: Path) -> Path:
    """Where the run in ``folder`` listens: in the folder, or (paths over the unix limit) in a private temp dir."""
    folder = Path(folder).resolve()
    path = folder / SOCKET_NAME
    if len(os.fsencode(path)) < 100:
        return path
    digest = hashlib.sha1(os.fsencode(folder)).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"tui-trainer-{os.getuid()}" / f"{digest}.sock"


class _Viewer:
    """One connected viewer: its own sender thread, fed without waiting by the training thread.

    Lines marked not urgent (epochs, progress) wait up to ``SEND_INTERVAL`` for
    the lines after them, so a fast run's hundreds of epochs a second go out as
    about fifty writes; anything urgent (a reply, a pause, a map, the run's
    end) goes out at once with whatever waited before it.
    """

    def __init__(self, conn: socket.socket, server: RunServer) -> None:
        self.conn = conn
        self.server = server
        self._pending: list[bytes] = []
        self._cond = threading.Condition(threading.Lock())
        self._urgent = False
        self._asleep = False  # the sender waits without a clock (nothing came since its last look)
        self._busy = False  # a write is under way
        self.closed = False
        #: The map size this viewer draws (for runs that make maps for their viewers).
        self.grid: tuple[int, int] | None = None
        self.map_epoch: int | None = None
        threading.Thread(target=self._send_loop, name="tui-trainer-viewer-send", daemon=True).start()
        threading.Thread(target=self._read_loop, name="tui-trainer-viewer-read", daemon=True).start()

    def send(self, data: bytes, *, urgent: bool = True) -> None:
        if self.closed:
            return
        with self._cond:
            overflow = len(self._pending) > MAX_QUEUE
            if not overflow:
                self._pending.append(data)
                if urgent:
                    self._urgent = True
                    self._cond.notify()
                elif self._asleep:
                    self._cond.notify()  # the sender waits for nothing in particular: start its clock
        if overflow:
            self.close()

    def flush(self) -> None:
        """Send what waits now (the run is about to pause or stop: its last epochs go out at once)."""
        with self._cond:
            if self._pending:
                self._urgent = True
                self._cond.notify()

    def _send_loop(self) -> None:
        """While lines stream, wakes once a ``SEND_INTERVAL`` and sends what came (no wake-up per
        line: the training thread only appends); asleep when a tick finds nothing."""
        tick = False  # the last wake-up sent something: look again one interval later
        while True:
            with self._cond:
                if tick and not self._urgent and not self.closed:
                    self._cond.wait(SEND_INTERVAL)
                while not self._pending and not self.closed:
                    self._asleep = True
                    self._cond.wait()
                    self._asleep = False
                    if not self._urgent and not self.closed:
                        self._cond.wait(SEND_INTERVAL)  # a first line that may wait: let others join it
                if self.closed:
                    break
                chunks, self._pending, self._urgent = self._pending, [], False
                self._busy = True
            try:
                self.conn.sendall(b"".join(chunks))
            except OSError:
                break
            finally:
                self._busy = False
            tick = True
        self.close()

    def _read_loop(self) -> None:
        try:
            with self.conn.makefile("rb") as reader:
                for line in reader:
                    try:
                        request = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(request, dict):
                        self.server.handle(self, request)
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._cond.notify()
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.conn.close()
        self.server.forget(self)

    def drained(self) -> bool:
        return self.closed or (not self._pending and not self._busy)


class RunServer(Face):
    """Serves one run's events and takes its commands; a consumer of the event stream."""

    def __init__(self, folder: Path, control: RunControl, session_getter: Callable[[], Any], *,
                 on_pause: Callable[[bool], None] | None = None, map_interval: float | None = None) -> None:
        self.folder = Path(folder)
        self.path = socket_path(self.folder)
        self.control = control
        self._session_getter = session_getter
        self.on_pause = on_pause
        self._viewers: list[_Viewer] = []
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        #: Set when a viewer says "go": a run started for a viewer waits for it (and its first commands).
        self.go = threading.Event()
        #: A run that makes maps rarely (headless) gets one this often for its viewers, sent to them only.
        self.map_interval = map_interval
        self._map_thread: threading.Thread | None = None
        self._epoch_sent = -float("inf")

    def start(self) -> RunServer:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead run's socket; the folder lock says no live one uses it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        sock.listen(8)
        self._sock = sock
        threading.Thread(target=self._accept_loop, name="tui-trainer-control", daemon=True).start()
        return self

    def _accept_loop(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            viewer = _Viewer(conn, self)
            with self._lock:
                self._viewers.append(viewer)
            viewer.send(self._control_line())

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    def forget(self, viewer: _Viewer) -> None:
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)

    # -- events out -------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if self._viewers:
            super().__call__(event)

    def on_event(self, event: Event) -> None:
        self.broadcast(event_line(event).encode())

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self._paced(event)

    def on_progress(self, event: EpochProgress) -> None:
        self._paced(event)

    def _paced(self, event: EpochEnded | EpochProgress) -> None:
        # The first epoch after a quiet spell goes at once (F5 shows it without delay), and so
        # does the last one before a pause or a stop (the run is about to wait); the ones in
        # between ride along with the next write.
        now = time.monotonic()
        urgent = now - self._epoch_sent >= SEND_INTERVAL or self.control.paused or self.control.stopped
        if urgent:
            self._epoch_sent = now
        self.broadcast(event_line(event).encode(), urgent=urgent)

    def broadcast(self, data: bytes, *, urgent: bool = True) -> None:
        with self._lock:
            viewers = list(self._viewers)
        for viewer in viewers:
            viewer.send(data, urgent=urgent)

    def _control_line(self) -> bytes:
        return (json.dumps({"kind": "control", "paused": self.control.paused,
                            "stopped": self.control.stopped}) + "\n").encode()

    # -- commands in ------------------------------------------------------------------------
    def handle(self, viewer: _Viewer, request: dict[str, Any]) -> None:
        cmd = request.get("cmd")
        control = self.control
        if cmd in ("pause", "resume", "step", "stop"):
            was = control.paused
            getattr(control, cmd)()
            with self._lock:
                viewers = list(self._viewers)
            for other in viewers:
                other.flush()
            if control.paused != was and self.on_pause is not None:
                self.on_pause(control.paused)
            self.broadcast(self._control_line())
        elif cmd == "network":
            if self.map_interval is None:  # a run that makes maps for its viewer (the app's worker)
                rows, cols = int(request.get("rows", 0)), int(request.get("cols", 0))
                ok = 2 <= rows <= 400 and 2 <= cols <= 800
                if hasattr(control, "network_shape"):
                    control.network_shape = (rows, cols) if ok else None
        elif cmd == "go":
            self.go.set()
        elif cmd == "grid":
            rows, cols = int(request.get("rows", 0)), int(request.get("cols", 0))
            if 2 <= rows <= 400 and 2 <= cols <= 800:
                if self.map_interval is None:
                    control.grid_shape = (rows, cols)
                else:
                    viewer.grid = (rows, cols)
                    viewer.map_epoch = None  # a new size: send a map now, even while paused
                    if self._map_thread is None:
                        self._map_thread = threading.Thread(target=self._map_loop, name="tui-trainer-maps",
                                                            daemon=True)
                        self._map_thread.start()
        elif cmd in ("boundary", "snapshot", "predict", "classes"):
            # Answered on a thread of its own: the model waits for the epoch in flight.
            threading.Thread(target=self._answer, args=(viewer, request), daemon=True).start()

    def _map_loop(self) -> None:
        """Maps for viewers of a run whose own maps are rare: one per ``map_interval`` while epochs go by."""
        while self._sock is not None:
            time.sleep(self.map_interval)
            session = self._session_getter()
            if session is None or not session.has_model() or not session.last_epoch():
                continue
            epoch = session.last_epoch()
            with self._lock:
                viewers = [v for v in self._viewers if v.grid is not None and v.map_epoch != epoch]
            for viewer in viewers:
                try:
                    event = session.boundary(viewer.grid[0], viewer.grid[1], epoch)
                except Exception:  # noqa: BLE001 - no map this time; the run goes on
                    continue
                if event is not None:
                    viewer.send((json.dumps(to_json_dict(event), allow_nan=False) + "\n").encode())
                    viewer.map_epoch = epoch

    def _answer(self, viewer: _Viewer, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"reply": request.get("id")}
        session = self._session_getter()
        try:
            if session is None or not session.has_model():
                raise RuntimeError("the model is not built yet")
            cmd = request["cmd"]
            if cmd == "boundary":  # labelled with the epoch the weights belong to
                event = session.boundary(int(request["rows"]), int(request["cols"]))
                reply["event"] = None if event is None else to_json_dict(event)
            elif cmd == "snapshot":
                map_shape = request.get("map")
                net, event = session.network((int(request["rows"]), int(request["cols"])),
                                             map_shape=tuple(map_shape) if map_shape else None)
                reply["network"] = to_json_dict(net)
                reply["event"] = None if event is None else to_json_dict(event)
            elif cmd == "predict":
                values = session.predict_points(np.asarray(request["points"], dtype=np.float64))
                reply["values"] = np.asarray(values, dtype=float).tolist()
            else:
                ds = session.dataset
                raw = session.predict_raw(ds.x_val[: int(request["count"])])
                reply["classes"] = np.argmax(np.asarray(raw), axis=1).tolist()
        except Exception as exc:  # noqa: BLE001 - the asker shows why
            reply["error"] = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(ValueError):
            viewer.send((json.dumps(reply) + "\n").encode())  # NaN stays NaN: Python reads it back

    # -- the end --------------------------------------------------------------------------------
    def close(self, *, drain: float = 2.0) -> None:
        """Stop listening; give viewers up to ``drain`` seconds to receive the last events."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
        deadline = time.monotonic() + drain
        while True:
            with self._lock:
                viewers = list(self._viewers)
            if all(v.drained() for v in viewers) or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        for viewer in viewers:
            viewer.close()
