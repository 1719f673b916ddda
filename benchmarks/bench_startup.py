"""What a user waits for at the command line: the whole headless run against the bare framework import.

    python benchmarks/bench_startup.py [--repeat 5] [--backend tensorflow|torch|both] [--cheap-only]

Every measurement is a fresh interpreter (wall clock of the whole process, as
``time`` shows it), interleaved and best-of-N, because the machine is noisy:

* ``python -c "import tensorflow"`` / ``import torch``: the bare import, the reference of the target;
* the same import ended with ``os._exit`` (no teardown of the framework, as a finished headless run
  ends): the floor for the run's own work, printed beside it;
* ``python -m tui_trainer --preset circle --no-ui --backend B``: the textbook run, 100 epochs,
  lines, summary and map (stdout to /dev/null);
* ``--help``, ``--list-presets``, ``--show-config`` and a bad ``--set``: answers that need no framework,
  against a bare interpreter (``python -c pass``) and ``import msgspec`` (the config's validation library).

Targets (issue 14): the whole run <= bare import + 0.5 s on each backend; the
cheap answers < 0.3 s.  ``tests/test_cheap_paths.py`` checks exactly that the
cheap answers import no framework; this prints how long they take.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
IMPORT_TARGET = 0.5  # seconds over the bare import
CHEAP_TARGET = 0.3  # seconds for the answers that need no framework

CHEAP = {
    "--help": ["--help"],
    "--list-presets": ["--list-presets"],
    "--show-config": ["--show-config"],
    "bad --set (exit 2)": ["--no-ui", "--set", "train.optimizer=adamm"],
}


def wall(cmd: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=("tensorflow", "torch", "both"), default="both")
    parser.add_argument("--cheap-only", action="store_true", help="only the answers that need no framework")
    args = parser.parse_args()
    backends = [] if args.cheap_only else ["tensorflow", "torch"] if args.backend == "both" else [args.backend]
    cmds: dict[str, list[str]] = {"bare python": [PY, "-c", "pass"], "import msgspec": [PY, "-c", "import msgspec"]}
    for b in backends:
        cmds[f"import {b}"] = [PY, "-c", f"import {b}"]
        # The import alone, the process then ended without Python's teardown of the framework,
        # as a finished headless run ends: the floor for the run's own work.
        cmds[f"import {b}, no teardown"] = [PY, "-c", f"import os, {b}; os._exit(0)"]
        cmds[f"whole run {b}"] = [PY, "-m", "tui_trainer", "--preset", "circle", "--no-ui", "--backend", b]
    for name, extra in CHEAP.items():
        cmds[name] = [PY, "-m", "tui_trainer", *extra]
    best = {name: float("inf") for name in cmds}
    for _ in range(args.repeat):  # interleaved, so a burst of load hits every command alike
        for name, cmd in cmds.items():
            best[name] = min(best[name], wall(cmd))

    print(f"best of {args.repeat}, fresh interpreter each, wall seconds")
    ok = True
    for b in backends:
        bare, whole = best[f"import {b}"], best[f"whole run {b}"]
        over = whole - bare
        passed = over <= IMPORT_TARGET
        ok &= passed
        print(f"{b:<11} whole run {whole:5.2f} s   bare import {bare:5.2f} s   overhead {over:+5.2f} s "
              f"({whole / bare:4.2f}x the import)   target <= +{IMPORT_TARGET} s   {'PASS' if passed else 'MISS'}")
        floor = best[f"import {b}, no teardown"]
        print(f"{'':<11} (the import then os._exit {floor:5.2f} s: the run's own work {whole - floor:+5.2f} s, "
              f"the framework's teardown {bare - floor:+5.2f} s)")
    bare = best["bare python"]
    print(f"{'bare python':<22}{bare:5.3f} s   {'import msgspec':<15}{best['import msgspec']:5.3f} s (references)")
    for name in CHEAP:
        t = best[name]
        passed = t < CHEAP_TARGET
        ok &= passed
        print(f"{name:<22}{t:5.3f} s   {t / bare:4.1f}x bare python   target < {CHEAP_TARGET} s   "
              f"{'PASS' if passed else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
