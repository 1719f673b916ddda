"""Mutation score of the core modules: ``python tools/mutation.py`` (from the repository root).

Runs mutmut (configured in pyproject.toml, [tool.mutmut]) against the fast test
tier, then prints killed / total per module and overall, and lists every
mutant that survived so it can be read with ``mutmut show NAME``.  Exits 1 when
the score is under the target.  ``--no-run`` reprints the last run's results.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.85
#: What is mutated (mutmut's names: module.x_function or module.xǁClassǁmethod): the numbers and the
#: exit code a run reports, and the rules that reject a bad config.  Left out on purpose: drawing (maps,
#: class report tables, colour, neuron maps), TOML/--set parsing helpers, the per-field wiring of config
#: sections, and the run store's bookkeeping.
SCOPE = [
    "tui_trainer.core.metrics.*",
    # The engine, less the neuron maps (Session.network, issue 15's drawing data).
    *(f"tui_trainer.engine.session.{name}*" for name in (
        "x_train", "xǁSessionǁ__init__", "xǁSessionǁprepare", "xǁSessionǁpredict_raw", "xǁSessionǁdecision",
        "xǁSessionǁpredict_points", "xǁSessionǁboundary", "xǁSessionǁsave", "xǁSessionǁ_epoch_metrics",
        "xǁSessionǁrun", "xǁSessionǁ_loop", "xǁSessionǁ_emit_boundary")),
    "tui_trainer.faces.exit_codes.*",
    # The history files and summary.json (the run folder's state.json, lock and best-weights bookkeeping
    # came with the run store, issue 12, and are tested by tests/test_runs.py, outside this tier).
    "tui_trainer.runs.export.xǁRunExporterǁ__call__*",
    "tui_trainer.runs.export.xǁRunExporterǁ_log*",
    "tui_trainer.runs.export.xǁRunExporterǁ_epoch*",
    "tui_trainer.runs.export.x__csv_value*",
    "tui_trainer.core.events.x_to_json_dict*",
    "tui_trainer.core.events.x__jsonable*",
    "tui_trainer.core.events.x__fmt*",
    "tui_trainer.core.events.xǁEpochEndedǁline*",
    "tui_trainer.faces.headless.xǁJsonLinesPrinterǁ*",
    "tui_trainer.faces.headless.xǁHeadlessPrinterǁ__call__*",
    "tui_trainer.faces.headless.xǁHeadlessPrinterǁ_summary*",
    "tui_trainer.faces.headless.x__fmt*",
    # Config validation: the rules between fields, and the messages read from each field's description.
    "tui_trainer.core.config.x__spread_per_layer*",
    "tui_trainer.core.config.x__one_value_per_layer*",
    "tui_trainer.core.config.x__features_once*",
    "tui_trainer.core.config.x_from_dict*",
    "tui_trainer.core.config.x_resolve_*",
    "tui_trainer.core.config.x_check_consistency*",
    "tui_trainer.core.fieldspec.x__is_number*",
    "tui_trainer.core.fieldspec.x__float_range*",
    "tui_trainer.core.fieldspec.x__int_range*",
    "tui_trainer.core.fieldspec.x_problem*",
    "tui_trainer.core.fieldspec.x__outside*",
    "tui_trainer.core.fieldspec.x_check_keys*",
    "tui_trainer.core.fieldspec.x__child*",
    "tui_trainer.core.fieldspec.x__tagged*",
    "tui_trainer.core.fieldspec.x_tidy*",
    "tui_trainer.core.fieldspec.x_explain*",
    "tui_trainer.core.fieldspec.x__finite*",
    "tui_trainer.core.fieldspec.x_decode*",
]
#: Detected mutants: the tests failed, hung or crashed the interpreter.
KILLED = {"killed", "timeout", "segfault"}


def mutmut() -> list[str]:
    exe = Path(sys.executable).parent / "mutmut"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mutmut"]


def results() -> dict[str, str]:
    out = subprocess.run([*mutmut(), "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    statuses = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and any(fnmatch.fnmatch(name, pattern) for pattern in SCOPE):
            statuses[name] = status.strip()
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="only print the results of the last run")
    args = parser.parse_args()
    env = {**os.environ, "TUI_TRAINER_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)  # mutmut puts its mutated copy (mutants/) first on the path itself
    seconds = None
    if not args.no_run:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale results from older code or tests
        t0 = time.perf_counter()
        log = ROOT / "mutants.log"
        with open(log, "w", encoding="utf-8") as handle:
            code = subprocess.run([*mutmut(), "run", *SCOPE], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
        seconds = time.perf_counter() - t0
        if code != 0:
            print(f"mutmut run failed (exit {code}); see {log}", file=sys.stderr)
            return 2
    statuses = results()
    if not statuses:
        print("no mutants found; run without --no-run first", file=sys.stderr)
        return 2
    by_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, status in statuses.items():
        module = name.split(".x_")[0].split(".xǁ")[0]
        by_module[module]["killed" if status in KILLED else status] += 1
    width = max(len(m) for m in by_module)
    print(f"{'module':<{width}}  killed  total  score  (other: survived / no tests / ...)")
    for module, counts in sorted(by_module.items()):
        total = sum(counts.values())
        other = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "killed")
        print(f"{module:<{width}}  {counts['killed']:>6}  {total:>5}  {counts['killed'] / total:>5.1%}  {other}")
    killed = sum(1 for s in statuses.values() if s in KILLED)
    score = killed / len(statuses)
    survivors = sorted(name for name, s in statuses.items() if s not in KILLED)
    if survivors:
        print("\nnot killed (mutmut show NAME):")
        for name in survivors:
            print(f"  {name}: {statuses[name]}")
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    print(f"\nmutation score: {killed}/{len(statuses)} = {score:.1%} killed{took} (target {TARGET:.0%})")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
