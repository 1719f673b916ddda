"""TensorBoard event files in every run folder: a consumer of the event stream.

Written with ``tensorboardX``, which needs only numpy and protobuf (TensorFlow
and TensorBoard are not needed to write them, only to view them):
``tensorboard --logdir`` on the runs folder shows every run, and a study's
variants side by side.  Each epoch adds the scalars ``loss``, ``val_loss`` and
``acc``/``val_acc`` (or ``mae``/``val_mae``) at step = epoch, in one event; the resolved
config is written once as hyperparameters (the HParams tab, with the
validation metrics as its metrics).  Nothing here may break a run: a failure to
write turns the writer off (kept in ``error``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import sys
import time
from pathlib import Path
from typing import Any

from tui_trainer.core.events import EpochEnded, Event, RunFailed, RunFinished, RunStarted
from tui_trainer.core.hooks import Face

SCALARS = ("loss", "val_loss", "acc", "val_acc", "mae", "val_mae")
#: Seconds between the writer thread's flushes (and a flush when the run ends).
FLUSH_SECONDS = 2


def hparam_values(config_dict: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The config as flat hyperparameters: numbers and text as they are, lists as text."""
    from tui_trainer.runs.comparison import flatten

    out: dict[str, bool | int | float | str] = {}
    for key, value in flatten(config_dict).items():
        if key == "description":
            continue
        out[key] = value if isinstance(value, bool | int | float | str) else str(value)
    return out


def _light_tensorboardx() -> None:
    """Make ``tensorboardX``'s writer and protos importable without its package ``__init__``.

    That ``__init__`` imports ``SummaryWriter``, which imports PyTorch when it is
    installed: 3 s added to a TensorFlow run, 0.3 s to a PyTorch one, for writing a
    few protobufs.  The package is registered without running it; the first use of
    anything else on it (``tensorboardX.SummaryWriter``, by anyone) runs the real
    ``__init__`` then, so nothing else in the process sees a difference.
    """
    if "tensorboardX" in sys.modules:
        return
    spec = importlib.util.find_spec("tensorboardX")
    if spec is None or spec.loader is None:
        raise ImportError("tensorboardX is not installed")
    package = importlib.util.module_from_spec(spec)

    def complete(name: str) -> Any:
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        if name in package.__dict__:
            return package.__dict__[name]
        raise AttributeError(f"module 'tensorboardX' has no attribute {name!r}")

    package.__getattr__ = complete  # type: ignore[attr-defined]
    sys.modules["tensorboardX"] = package


class TensorBoardWriter(Face):
    """Appends a run's events to ``events.out.tfevents.*`` in its folder.

    It writes synchronously, in the caller's thread, with tensorboardX's own
    ``EventsWriter`` (no background thread whose failure on a full disk would
    leave ``close`` waiting forever), and flushes at most every
    ``FLUSH_SECONDS`` (no fsync: only ``close`` syncs) and at the end, so fast runs don't pay for a sync
    per epoch.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._writer: Any = None
        self._broken = False
        self._flushed = 0.0
        #: What stopped the writer, if anything did.
        self.error: Exception | None = None

    def __call__(self, event: Event) -> None:
        if self._broken:
            return
        try:
            super().__call__(event)
        except Exception as exc:  # noqa: BLE001 - the run matters more than its TensorBoard copy
            # Not printed: in the app stderr is the screen.  A full disk also stops the run's
            # own files, and the exporter reports that.
            self._broken = True
            self.error = exc
            self.close()

    def _write(self, summary: Any, step: int = 0) -> None:
        from tensorboardX.proto.event_pb2 import Event as EventProto

        self._writer.write_event(EventProto(wall_time=time.time(), step=step, summary=summary))

    def on_run_started(self, event: RunStarted) -> None:
        try:
            _light_tensorboardx()
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.summary import hparams
        except ImportError:  # an install without it still trains; the run folder has everything else
            self._broken = True
            return
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer = EventsWriter(str(self.folder / "events"))
        metric = "val_mae" if event.task == "regression" else "val_acc"
        exp, ssi, _ = hparams(hparam_values(event.config.to_dict()), {"val_loss": 0.0, metric: 0.0})
        self._write(exp)
        self._write(ssi)
        self._flush()

    def on_epoch_ended(self, event: EpochEnded) -> None:
        if self._writer is None:
            return
        from tensorboardX.proto.summary_pb2 import Summary

        values = [Summary.Value(tag=tag, simple_value=float(getattr(event, tag))) for tag in SCALARS
                  if getattr(event, tag) is not None and math.isfinite(getattr(event, tag))]
        self._write(Summary(value=values), event.epoch)
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        """Hands the buffered records to the kernel, where TensorBoard reads them.

        ``EventsWriter.flush`` also fsyncs (5-12 ms on a busy disk, in the training
        thread); that is left for ``close``: a reader needs the kernel's copy, not the disk's.
        """
        handle = getattr(getattr(self._writer, "_py_recordio_writer", None), "_writer", None)
        if callable(getattr(handle, "flush", None)):
            handle.flush()
        else:
            self._writer.flush()
        self._flushed = time.monotonic()

    def on_run_end(self, event: RunFinished | RunFailed) -> None:
        if self._writer is None:
            return
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

        ok = isinstance(event, RunFinished) and event.reason in ("completed", "early-stopped")
        content = HParamsPluginData(
            session_end_info=SessionEndInfo(status=Status.Value("STATUS_SUCCESS" if ok else "STATUS_FAILURE")),
            version=0)
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="hparams",
                                                                      content=content.SerializeToString()))
        self._write(Summary(value=[Summary.Value(tag="_hparams_/session_end_info", metadata=meta)]))
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - a failed flush at the end loses only TensorBoard's copy
                # EventsWriter.close flushes first; when that fails, close the file itself.
                with contextlib.suppress(Exception):
                    writer._py_recordio_writer.close()
