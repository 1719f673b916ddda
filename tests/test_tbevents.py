"""TensorBoard event files in a run folder, read back with TensorBoard's own reader."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.framework

pytest.importorskip("tensorboard", reason="the TensorBoard reader is in the dev extra")


def test_every_epoch_and_the_config_read_back(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "run"
    r = run_cli("--preset", "xor", "--no-ui", "--backend", "torch", "--epochs", "6", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    acc = EventAccumulator(str(out))
    acc.Reload()
    with (out / "history.csv").open() as fh:
        history = list(csv.DictReader(fh))
    for tag in ("loss", "val_loss", "acc", "val_acc"):
        scalars = acc.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2, 3, 4, 5, 6], tag
        assert [s.value for s in scalars] == pytest.approx([float(row[tag]) for row in history], rel=1e-5)
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["train.epochs"].number_value == 6
    assert start.hparams["data.dataset"].string_value == "xor"
    assert start.hparams["model.hidden"].string_value == "[8, 8]" or start.hparams["model.hidden"].string_value
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
    assert end.status == 1  # STATUS_SUCCESS
