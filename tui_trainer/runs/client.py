"""A viewer's side of a run's control socket: the run's events in, its controls out.

``RunClient`` reads the socket on a thread of its own and hands each event to a
callback; ``RemoteControl`` and ``RemoteSession`` give a face the same
interface as an in-process ``RunControl`` and ``engine.Session`` (pause,
step, stop, the map now, predictions), answered by the process that trains.
``replay`` reads a run's ``history.jsonl`` for the part of a run that happened
before the viewer came.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trainer.core.events import BoundaryUpdated, EpochEnded, Event
from tui_trainer.runs.codec import from_json_dict, parse_line

if TYPE_CHECKING:  # numpy is imported where it is used: the app's first frame doesn't wait for it
    import numpy as np

#: Seconds a question to the run (a prediction, the map now) may take before the viewer gives up.
ASK_TIMEOUT = 10.0


class RunClient:
    """One connection to a run's socket."""

    def __init__(self, path: Path, on_event: Callable[[Event], None], *,
                 on_control: Callable[[dict[str, Any]], None] | None = None,
                 on_close: Callable[[], None] | None = None, timeout: float = 5.0) -> None:
        self.on_event = on_event
        self.on_control = on_control
        self.on_close = on_close
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(str(path))
        self._sock.settimeout(None)
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self.closed = False
        self._thread = threading.Thread(target=self._read_loop, name="tui-trainer-run-client", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        try:
            with self._sock.makefile("rb") as reader:
                for line in reader:
                    self._dispatch(line)
        except (OSError, ValueError):
            pass
        finally:
            self.closed = True
            for done, _ in list(self._waiting.values()):
                done.set()
            if self.on_close is not None:
                self.on_close()

    def _dispatch(self, line: bytes) -> None:
        try:
            data = json.loads(line)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if "reply" in data:
            waiter = self._waiting.get(data["reply"])
            if waiter is not None:
                waiter[1].append(data)
                waiter[0].set()
        elif data.get("kind") == "control":
            if self.on_control is not None:
                self.on_control(data)
        else:
            try:
                event = from_json_dict(data)
            except (KeyError, TypeError, ValueError):
                event = None
            if event is not None:
                self.on_event(event)

    def send(self, data: dict[str, Any]) -> bool:
        if self.closed:
            return False
        try:
            with self._send_lock:
                self._sock.sendall((json.dumps(data) + "\n").encode())
        except OSError:
            return False
        return True

    def ask(self, data: dict[str, Any], timeout: float = ASK_TIMEOUT) -> dict[str, Any]:
        """Send a question and wait for its answer; raises RuntimeError with the reason when none comes."""
        request_id = next(self._ids)
        done, box = threading.Event(), []
        self._waiting[request_id] = (done, box)
        try:
            if not self.send({**data, "id": request_id}):
                raise RuntimeError("the run's process is gone")
            if not done.wait(timeout) or not box:
                raise RuntimeError("the run's process did not answer" if not self.closed else "the run has ended")
        finally:
            self._waiting.pop(request_id, None)
        reply = box[0]
        if reply.get("error"):
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()


class RemoteControl:
    """``RunControl``'s face-side interface, steering a run in another process."""

    def __init__(self, client: RunClient | None = None) -> None:
        self.client = client
        self._paused = False
        self._stopped = False
        self._grid: tuple[int, int] | None = None
        #: Kept for the face's own use; the training process keeps its own pace for maps.
        self.grid_interval = 0.25
        self._network: tuple[int, int] | None = None
        self._pending: list[dict[str, Any]] = []

    def connect(self, client: RunClient) -> None:
        """Commands given before the connection existed are sent now, in order."""
        self.client = client
        pending, self._pending = self._pending, []
        for command in pending:
            client.send(command)
        client.send({"cmd": "go"})

    def _send(self, command: dict[str, Any]) -> None:
        if self.client is None:
            self._pending.append(command)
        else:
            self.client.send(command)

    def pause(self) -> None:
        self._paused = True
        self._send({"cmd": "pause"})

    def resume(self) -> None:
        self._paused = False
        self._send({"cmd": "resume"})

    def toggle_pause(self) -> bool:
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def step(self) -> None:
        self._paused = True
        self._send({"cmd": "step"})

    def stop(self) -> None:
        self._stopped = True
        self._send({"cmd": "stop"})

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def grid_shape(self) -> tuple[int, int] | None:
        return self._grid

    @grid_shape.setter
    def grid_shape(self, shape: tuple[int, int] | None) -> None:
        if shape is not None and shape != self._grid:
            self._send({"cmd": "grid", "rows": shape[0], "cols": shape[1]})
        self._grid = shape

    @property
    def network_shape(self) -> tuple[int, int] | None:
        return self._network

    @network_shape.setter
    def network_shape(self, shape: tuple[int, int] | None) -> None:
        """The network view's grid (None: closed); the run then sends per-neuron maps with its maps."""
        if shape != self._network:
            self._send({"cmd": "network", "rows": shape[0] if shape else 0, "cols": shape[1] if shape else 0})
        self._network = shape

    def update(self, data: dict[str, Any]) -> None:
        """What the run says its state is (another viewer may have paused it)."""
        self._paused = bool(data.get("paused", self._paused))
        self._stopped = bool(data.get("stopped", self._stopped))


class RemoteSession:
    """``engine.Session``'s methods for a face (the map now, predictions), answered by the run's process.

    ``dataset`` is the viewer's own copy of the run's data (loaded from the
    same config: playground data is seeded, files are read again), for drawing
    points and images.  The viewer tells it what the run said: ``started``
    (the model exists) and ``note_epoch`` (the epoch its weights belong to).
    """

    def __init__(self, config: Any, dataset: Any = None) -> None:
        self.config = config
        self.dataset = dataset
        self.client: RunClient | None = None
        self.summary: Any = None
        self.task: str | None = None
        self._last_epoch = 0

    def connect(self, client: RunClient) -> None:
        self.client = client

    def load_data(self) -> Any:
        """The viewer's copy of the run's data, loaded from the config the first time."""
        if self.dataset is None:
            from tui_trainer.data import load_dataset

            self.dataset = load_dataset(self.config)
        return self.dataset

    def started(self, summary: Any, task: str) -> None:
        self.summary = summary
        self.task = task

    def note_epoch(self, event: EpochEnded) -> None:
        self._last_epoch = event.epoch

    def has_model(self) -> bool:
        return self.summary is not None

    def last_epoch(self) -> int:
        return self._last_epoch

    def _ask(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.client is None:
            raise RuntimeError("the run's process can't be reached (it has ended)")
        return self.client.ask(data)

    def boundary(self, rows: int, cols: int, epoch: int | None = None) -> BoundaryUpdated | None:
        """The map now; the run's process labels it with its own epoch (``epoch`` is not sent)."""
        reply = self._ask({"cmd": "boundary", "rows": rows, "cols": cols})
        event = reply.get("event")
        return None if event is None else from_json_dict(event)

    def network(self, shape: tuple[int, int], epoch: int | None = None,
                map_shape: tuple[int, int] | None = None) -> tuple[Any, BoundaryUpdated | None]:
        """The network view's per-neuron maps now (and the output map), as ``Session.network`` gives them."""
        reply = self._ask({"cmd": "snapshot", "rows": shape[0], "cols": shape[1],
                           "map": list(map_shape) if map_shape else None})
        event = reply.get("event")
        return from_json_dict(reply["network"]), (None if event is None else from_json_dict(event))

    def predict_points(self, points: np.ndarray) -> np.ndarray:
        import numpy as np

        reply = self._ask({"cmd": "predict", "points": np.asarray(points, dtype=float).tolist()})
        return np.asarray(reply["values"], dtype=np.float64)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """Scores whose argmax is the run's predicted class for the first ``len(x)`` validation samples.

        (The only raw question a viewer asks is the gallery's; the classes cross
        the socket, not the scores.)
        """
        import numpy as np

        classes = np.asarray(self._ask({"cmd": "classes", "count": len(x)})["classes"], dtype=int)
        width = int(classes.max()) + 1 if classes.size else 1
        return np.eye(width)[classes]


def replay(folder: Path, *, offset: int = 0) -> Iterator[tuple[Event, int]]:
    """The events in a run's ``history.jsonl`` from byte ``offset``, with the offset after each.

    A last line without its newline (being written right now) is left for the
    next call.
    """
    path = Path(folder) / "history.jsonl"
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, generator-safe
    except OSError:
        return
    with handle:
        handle.seek(offset)
        position = offset
        for line in handle:
            if not line.endswith(b"\n"):
                break
            position += len(line)
            event = parse_line(line)
            if event is not None:
                yield event, position
