"""How long does ``tui-trainer attach`` take to show a long run?

    python benchmarks/bench_attach.py [--epochs 10000] [--repeats 3]

Trains a run of ``--epochs`` epochs headless into a temporary folder (torch,
the circle preset with one batch per epoch so it is quick), then opens the app
on it (headless Textual) and times from the app opening the run to every epoch
being in the app's run state and one redraw done, against the target of 1 s.
The reference in the same run is reading the event log alone (parse every line
into events), the floor for any viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tui_trainer.app import create_app  # noqa: E402
from tui_trainer.core.presets import load_preset  # noqa: E402
from tui_trainer.runs.client import replay  # noqa: E402

TARGET = 1.0


async def attach_once(folder: Path, epochs: int) -> float:
    cfg = load_preset(str(folder / "config.toml"))
    app = create_app(cfg, preset_name="circle", attach=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.run_state is None:
            await asyncio.sleep(0.001)
        t0 = time.perf_counter()
        while not (app.run_state.over and app.run_state.last is not None and app.run_state.last.epoch == epochs):
            await asyncio.sleep(0.001)
        await pilot.pause(0.1)  # the next redraw tick (10 Hz) has drawn it
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        subprocess.run([sys.executable, "-m", "tui_trainer", "--no-ui", "--backend", "torch", "--epochs",
                        str(args.epochs), "--set", "train.batch_size=250", "--set", "data.train_ratio=0.1",
                        "--output", str(folder)], check=True, stdout=subprocess.DEVNULL)
        size = (folder / "history.jsonl").stat().st_size
        parse = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            count = sum(1 for _ in replay(folder))
            parse.append(time.perf_counter() - t0)
        shown = [asyncio.run(attach_once(folder, args.epochs)) for _ in range(args.repeats)]
    best = min(shown)
    print(f"attach to a {args.epochs}-epoch run ({size / 1e6:.1f} MB event log, {count} events)")
    print(f"  read the log alone        : median {statistics.median(parse) * 1000:6.0f} ms")
    print(f"  app shows every epoch     : median {statistics.median(shown) * 1000:6.0f} ms, best {best * 1000:.0f} ms"
          f"  (target < {TARGET * 1000:.0f} ms) {'OK' if statistics.median(shown) < TARGET else 'ABOVE TARGET'}"
          f"  ratio to reading the log {statistics.median(shown) / statistics.median(parse):.1f}x")
    return 0 if statistics.median(shown) < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
