"""``tui-trainer runs``: list, remove and prune the stored runs.

    tui-trainer runs [--json] [--state STATE]     one row (or JSON object) per run, newest first
    tui-trainer runs rm RUN... [--force]          delete runs (a live one only with --force)
    tui-trainer runs prune [--older-than AGE] [--state STATE] [--dry-run]

RUN is a run id, a unique prefix of one, or a run folder's path.  Reading a
folder never changes it, so ``runs`` is safe beside a run that is writing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from tui_trainer.core.config import Config
from tui_trainer.core.durations import fmt_duration
from tui_trainer.core.errors import UserError
from tui_trainer.core.textsafe import printable
from tui_trainer.faces.arguments import UsageParser
from tui_trainer.runs.store import END_STATES, LIVE_STATES, RunInfo, find_run, list_runs, remove_run, runs_root

STATES = LIVE_STATES + END_STATES
def plain(value: object) -> str:
    """User text for a terminal or a pipe: the one rule, ``textsafe.printable``."""
    return printable(value)


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="tui-trainer runs", description="List, remove and prune stored runs.")
    p.add_argument("--runs-dir", metavar="DIR", default=None,
                   help="the runs folder (default: $TUI_TRAINER_RUNS or ~/.local/share/tui-trainer/runs)")
    p.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    p.add_argument("--state", metavar="STATE", default=None, help=f"only runs in these states ({', '.join(STATES)})")
    sub = p.add_subparsers(dest="command", metavar="{rm,prune}")
    rm = sub.add_parser("rm", help="delete runs", description="Delete runs (their whole folder).")
    rm.add_argument("runs", nargs="+", metavar="RUN", help="run id, unique id prefix, or folder")
    rm.add_argument("--force", action="store_true", help="also delete a run that is still going")
    prune = sub.add_parser("prune", help="delete old runs that have ended",
                           description="Delete runs that have ended and are older than --older-than.")
    prune.add_argument("--older-than", metavar="AGE", default=None,
                       help="minimum age, e.g. 30d, 12h, 90m (default 30d; 0 with --state)")
    prune.add_argument("--state", metavar="STATE", dest="prune_state", default=None,
                       help="only runs in these states, e.g. interrupted,failed")
    prune.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    for sp in (rm, prune):
        sp.error = p.error  # type: ignore[method-assign]  # one-line usage errors, exit 2
    return p


def parse_states(text: str | None, option: str) -> set[str] | None:
    if text is None:
        return None
    states = {s.strip() for s in text.split(",") if s.strip()}
    unknown = sorted(states - set(STATES))
    if unknown or not states:
        raise UserError(f"{option}: {', '.join(unknown) or repr(text)} is not a state; choose from {', '.join(STATES)}")
    return states


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise UserError(f"--older-than: {text!r} is not an age; use a number and a unit, e.g. 30d, 12h, 90m, 0")
    value = float(match.group(1))
    unit = match.group(2) or "d"
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    return timedelta(seconds=seconds)


def best_text(info: RunInfo) -> str:
    epoch = info.get("best_epoch")
    if not epoch:
        return "-"
    for key, label in (("best_val_acc", "val_acc"), ("best_val_mae", "val_mae"), ("best_val_loss", "val_loss")):
        value = info.get(key)
        if isinstance(value, int | float):
            return f"{label} {value:.4f} @{epoch}"
    return f"@{epoch}"


def row(info: RunInfo) -> list[str]:
    preset, dataset = info.get("preset") or "-", info.get("dataset") or "-"
    what = preset if preset == dataset else f"{preset}/{dataset}"
    total = info.get("epochs_total")
    started = info.started
    return [info.id, info.state, what, info.get("backend") or "-", info.get("device") or "-",
            f"{info.get('epochs_done') or 0}/{total if total is not None else '?'}", best_text(info),
            started.strftime("%Y-%m-%d %H:%M") if started else "-", fmt_duration(info.duration())]


HEADER = ["ID", "STATE", "PRESET/DATA", "BACKEND", "DEVICE", "EPOCHS", "BEST", "STARTED", "DURATION"]


def print_table(runs: list[RunInfo]) -> None:
    rows = [HEADER] + [[plain(cell) for cell in row(info)] for info in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for r in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str]) -> int:
    """``argv`` starts with ``runs``."""
    args = build_parser().parse_args(argv[1:])
    root = runs_root(args.runs_dir)
    try:
        if args.command == "rm":
            return remove(root, args.runs, force=args.force)
        if args.command == "prune":
            return prune(root, args)
        states = parse_states(args.state, "--state")
    except UserError as exc:
        sys.stderr.write(f"tui-trainer: error: {plain(exc)}\n")
        return 2
    runs = [r for r in list_runs(root) if states is None or r.state in states]
    if args.json:
        for info in runs:
            print(json.dumps(info.to_json(), allow_nan=False))
        return 0
    if not runs:
        print(f"no runs in {plain(root)}" + (f" in state {args.state}" if states else ""))
        return 0
    print_table(runs)
    return 0


def remove(root: Path, refs: list[str], *, force: bool) -> int:
    infos = [find_run(root, ref) for ref in refs]  # all found before any is deleted
    for info in infos:
        remove_run(info, force=force)
        print(f"removed {plain(info.id)} ({info.state})")
    return 0


def prune(root: Path, args: argparse.Namespace) -> int:
    states = parse_states(args.prune_state, "--state")
    age = parse_age(args.older_than) if args.older_than is not None else (
        timedelta(0) if states else timedelta(days=30))
    now = datetime.now().astimezone()
    doomed = []
    for info in list_runs(root):
        if info.live or (states is not None and info.state not in states):
            continue
        when = info.ended or info.started
        if when is None or now - when >= age:
            doomed.append(info)
    for info in doomed:
        if not args.dry_run:
            remove_run(info)
        print(f"{'would remove' if args.dry_run else 'removed'} {plain(info.id)} ({info.state})")
    if not doomed:
        print("nothing to prune")
    return 0


def attach_main(argv: list[str], open_app: Callable[[Config, str | None, Path, str | None], None]) -> int:
    """``tui-trainer attach [RUN]``: open the app on a run (default: the newest one still going).

    The app itself is handed in by ``cli`` (``open_app(config, preset_name, folder, runs_dir)``): this face
    finds the run and its config, and stays below the app in the layers.
    """
    p = UsageParser(prog="tui-trainer attach",
                description="Open the app on a run: everything so far, then live while it goes "
                            "(F6 pause/resume, F7 stop, F8 step). A run that has ended opens read-only; "
                            "F5 trains a new run from its config.")
    p.add_argument("run", nargs="?", metavar="RUN", help="run id, unique id prefix or folder (default: newest running)")
    p.add_argument("--runs-dir", metavar="DIR", default=None, help="the runs folder")
    args = p.parse_args(argv[1:])
    root = runs_root(args.runs_dir)
    try:
        if args.run:
            info = find_run(root, args.run)
        else:
            live = [r for r in list_runs(root) if r.live]
            if not live:
                raise UserError(f"no run is going in {root}; name one to open it (tui-trainer runs lists them)")
            info = live[0]
        from tui_trainer.core.presets import load_preset

        config = load_preset(str(info.folder / "config.toml"))
    except UserError as exc:
        sys.stderr.write(f"tui-trainer: error: {plain(exc)}\n")
        return 2
    open_app(config, info.get("preset") or None, info.folder.resolve(), args.runs_dir)
    return 0
