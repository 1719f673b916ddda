"""Does the app cost training speed, and does it stay responsive while training?

One command, for both frameworks:

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_app.py [--epochs 800] [--repeats 5] [--backends torch tensorflow]

For each backend it trains the ``circle`` preset headless with ``engine.train``
and then inside the app (headless Textual via ``App.run_test``, started with
F5, same epochs) twice: as shipped (a warm worker process trains and streams
events over the run's control socket) and with the earlier design (a thread in
the app's process, ``create_app(process=False)``), several times in turn.  It
prints epochs per second from the engine's own ``RunFinished.seconds`` (best
and median), the ratio of the bests (target >= 0.95) with the run-by-run
ratios (on a small shared machine single runs vary by +-15%), and the time
from F5 to the first epoch on screen for both designs (target: the worker
process no slower than the thread).  The circle preset's 100 epochs take a
third of a second, too short to time, so runs are ``--epochs`` long (800).

Then, with a long run going, it presses F6 (pause) and F6 again (resume)
several times and prints how long each key took to show on the status line,
and how long the engine went on before it stopped at the pause (target < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tui_trainer import engine, presets  # noqa: E402
from tui_trainer.app import TrainerApp, create_app  # noqa: E402
from tui_trainer.app.app import engine_threads  # noqa: E402
from tui_trainer.app.messages import EpochDone  # noqa: E402
from tui_trainer.config import Config, default_config  # noqa: E402

SIZE = (120, 40)
#: The app must train at this fraction of headless speed or better.
TARGET = 0.95


def circle(backend: str, epochs: int) -> Config:
    try:
        cfg = presets.load_preset("circle")
    except Exception:  # noqa: BLE001 - the built-in presets may not be installed in a bare checkout
        cfg = default_config()
    return cfg.with_updates({"train.backend": backend, "train.epochs": epochs})


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 120.0, poll: float = 0.001) -> float:
    """Seconds until ``predicate`` holds, polling the app's own event loop."""
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(poll)
    return time.perf_counter() - t0


async def ready(pilot, app: TrainerApp, backend: str) -> None:
    await wait_until(pilot, lambda: app.backend_ready(backend) and app.preview_ready())


def headless(cfg: Config, threads: int | None) -> tuple[float, int]:
    _, result = engine.train(cfg, threads=threads)
    if result.finished is None:
        raise RuntimeError(f"headless run failed: {result.failed}")
    return result.finished.seconds, result.finished.epochs_run


async def in_app(cfg: Config, process: bool = True) -> tuple[float, int, int, int, float]:
    """One run started with F5: the engine's seconds, epochs, plot and map draws, and F5 to the first epoch shown.

    ``process=True`` is the app as shipped (a warm worker process trains);
    ``False`` is the earlier design (a thread in the app's process), for comparison.
    """
    app = create_app(cfg, preset_name="circle", process=process)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app, cfg.train.backend)
        await asyncio.sleep(0.3)  # the form settles, as a person would take a moment before F5
        t0 = time.perf_counter()
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.run_state is not None and app.run_state.last is not None)
        first = time.perf_counter() - t0
        await wait_until(pilot, lambda: app.run_state is not None and app.run_state.over, timeout=600)
        run = app.run_state
        if run.finished is None:
            raise RuntimeError(f"app run failed: {run.failed}")
        await pilot.pause(0.2)
        return run.finished.seconds, run.finished.epochs_run, app.plot.draws, app.boundary_map.draws, first


async def key_latency(cfg: Config, presses: int) -> dict[str, list[float]]:
    """F6 while training: time to 'paused' on the status line and until the engine stops."""
    app = create_app(cfg.with_updates({"train.epochs": 1_000_000}), preset_name="circle")
    out: dict[str, list[float]] = {"pause_ui": [], "pause_engine": [], "resume_ui": [], "resume_engine": []}
    epoch_times: list[float] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: epoch_times.append(time.perf_counter())
                            if isinstance(m, EpochDone) else None) as pilot:
        await ready(pilot, app, cfg.train.backend)
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.run_state.last is not None and app.run_state.last.epoch > 20)
        for _ in range(presses):
            await asyncio.sleep(0.5)  # let it train a while at full speed
            t0 = time.perf_counter()
            press = asyncio.create_task(pilot.press("f6"))
            out["pause_ui"].append(await wait_until(pilot, lambda: app.status_text().startswith("paused")))
            await press
            await asyncio.sleep(0.3)  # the engine has long reached its pause by now
            after = [t for t in epoch_times if t > t0]
            out["pause_engine"].append((max(after) - t0) if after else 0.0)
            n_before = len(epoch_times)
            t0 = time.perf_counter()
            press = asyncio.create_task(pilot.press("f6"))
            out["resume_ui"].append(await wait_until(pilot, lambda: app.status_text().startswith("running")))
            await press
            await wait_until(pilot, lambda n=n_before: len(epoch_times) > n)
            out["resume_engine"].append(epoch_times[n_before] - t0)
        await pilot.press("f7")
        await wait_until(pilot, lambda: app.run_state.over)
    return out


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.1f} ms, max {max(values) * 1000:6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=800, help="epochs per timed run (default 800)")
    parser.add_argument("--backends", nargs="+", default=["torch", "tensorflow"], choices=["torch", "tensorflow"])
    parser.add_argument("--presses", type=int, default=5, help="pause/resume presses to time (default 5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per face; the best counts (default 5)")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"tui-trainer app benchmark: circle preset, {args.epochs} epochs, {cores} cores, "
          f"app engine threads {engine_threads()}, terminal {SIZE[0]}x{SIZE[1]} (headless Textual)")
    ok = True
    for backend in args.backends:
        cfg = circle(backend, args.epochs)
        headless(cfg.with_updates({"train.epochs": 3}), None)  # import + first-call compile, untimed
        h_rates, a_rates, t_rates, a_first, t_first = [], [], [], [], []
        draws = maps = 0
        for _ in range(args.repeats):  # interleaved, so all faces see the same machine
            seconds, n = headless(cfg, None)
            h_rates.append(n / seconds)
            seconds, n, draws, maps, first = asyncio.run(in_app(cfg, process=True))
            a_rates.append(n / seconds)
            a_first.append(first)
            seconds, n, _, _, first = asyncio.run(in_app(cfg, process=False))
            t_rates.append(n / seconds)
            t_first.append(first)
        ratio = max(a_rates) / max(h_rates)
        thread_ratio = max(t_rates) / max(h_rates)
        paired = sorted(a / h for a, h in zip(a_rates, h_rates, strict=True))
        ok &= ratio >= TARGET
        first_ratio = statistics.median(a_first) / statistics.median(t_first)
        print(f"\n[{backend}]")
        print(f"  headless engine.train : {max(h_rates):8.1f} epochs/s best of {args.repeats}"
              f"  (median {statistics.median(h_rates):.1f})")
        print(f"  app, worker process   : {max(a_rates):8.1f} epochs/s best of {args.repeats}"
              f"  (median {statistics.median(a_rates):.1f}; last run drew the plot {draws}x, the map {maps}x)")
        print(f"  app, thread (before)  : {max(t_rates):8.1f} epochs/s best of {args.repeats}"
              f"  (median {statistics.median(t_rates):.1f})")
        print(f"  ratio app/headless    : {ratio:8.2f}   (target >= {TARGET:.2f}) "
              f"{'OK' if ratio >= TARGET else 'BELOW TARGET'}   run by run: {', '.join(f'{r:.2f}' for r in paired)}"
              f"   (thread design: {thread_ratio:.2f})")
        print(f"  F5 -> first epoch shown: worker process median {statistics.median(a_first) * 1000:.0f} ms, "
              f"thread median {statistics.median(t_first) * 1000:.0f} ms, ratio {first_ratio:.2f} "
              f"(target: no slower than the thread, <= 1.0 within noise)")
        lat = asyncio.run(key_latency(cfg, args.presses))
        worst = max(lat["pause_ui"] + lat["resume_ui"])
        ok &= worst < 0.1
        print(f"  F6 pause  -> status 'paused'  : {ms(lat['pause_ui'])}")
        print(f"  F6 pause  -> engine's last epoch: {ms(lat['pause_engine'])}")
        print(f"  F6 resume -> status 'running' : {ms(lat['resume_ui'])}")
        print(f"  F6 resume -> next epoch       : {ms(lat['resume_engine'])}")
        print(f"  key handled < 100 ms          : {'OK' if worst < 0.1 else 'NO'} (worst {worst * 1000:.1f} ms)")
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
