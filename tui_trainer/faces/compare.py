"""``tui-trainer compare``: runs side by side in text, one chart per metric, then a table.

Every run gets its own colour; its training curve is a solid (braille) line
and its validation curve a dotted one.  Without colour (a pipe, ``NO_COLOR``)
the charts are plain ASCII: each run has a letter, lower case for training and
upper case for validation, and the legend says which is which.  ``--json``
prints the table as data instead.  The numbers come from
``tui_trainer.runs.comparison``, which the app's overlay uses too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tui_trainer.core.errors import UserError
from tui_trainer.core.textsafe import printable
from tui_trainer.faces.arguments import UsageParser
from tui_trainer.runs.comparison import STUDY_FILE, RunCurves, compare_rows, read_run, unique_labels

#: (plotext colour, rich colour) per run, in order.
COLORS = (("blue", "blue"), ("red", "red"), ("green", "green"), ("orange", "dark_orange"),
          ("magenta", "magenta"), ("cyan", "cyan"), ("yellow", "yellow"), ("gray", "grey50"))
TRAIN_MARKER, VAL_MARKER = "braille", "dot"
_BOX = str.maketrans({"┌": "+", "┐": "+", "└": "+", "┘": "+", "─": "-", "│": "|", "┤": "+", "├": "+",
                      "┬": "+", "┴": "+", "┼": "+"})
def clean(text: str) -> str:
    """User text (names, paths) made safe to print: the one rule, ``textsafe.printable``."""
    return printable(text)


def letters(index: int) -> tuple[str, str]:
    """The plain-text markers of run ``index``: lower case for training, upper case for validation."""
    c = "abcdefghijklmnopqrstuvwxyz"[index % 26]
    return c, c.upper()


def metric_pairs(runs: Sequence[RunCurves]) -> list[tuple[str, str]]:
    """The charts to draw: loss, then accuracy or MAE where the runs have it."""
    pairs = [("loss", "val_loss")]
    for train, val in (("acc", "val_acc"), ("mae", "val_mae")):
        if any(run.series(val)[1] or run.series(train)[1] for run in runs):
            pairs.append((train, val))
    return pairs


def chart(runs: Sequence[RunCurves], train: str, val: str, *, color: bool, width: int, height: int) -> str:
    """One metric's chart: every run's training and validation curve."""
    import plotext as plt

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("pro" if color else "clear")
    for i, run in enumerate(runs):
        pt_color = COLORS[i % len(COLORS)][0]
        lower, upper = letters(i)
        for metric, marker in ((train, TRAIN_MARKER if color else lower), (val, VAL_MARKER if color else upper)):
            xs, ys = run.series(metric)
            if xs:
                plt.plot(xs, ys, marker=marker, color=pt_color if color else None)
    plt.title(f"{train} (solid) and {val} ({'dotted' if color else 'upper case'}) per epoch")
    plt.xlabel("epoch")
    text = plt.build()
    plt.clf()
    if not color:
        text = plt.uncolorize(text).translate(_BOX)
    return "\n".join(line.rstrip() for line in text.splitlines())


def _fmt(value: Any) -> str:
    """A metric: four decimals."""
    return "-" if value is None else f"{value:.4f}"


def _setting(value: Any) -> str:
    """A config value as a preset writes it: 0.001, [512, 512], relu."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return clean(str(value))


def table(rows: Sequence[dict[str, Any]], *, short: bool = False) -> list[list[str]]:
    """The comparison table as text cells, header first (``short`` headers fit 80 columns)."""
    keys = list(rows[0]["differs"]) if rows else []
    last = [k.split(".")[-1] for k in keys]
    names = [s if last.count(s) == 1 and s not in ("run", "epochs") else k for s, k in zip(last, keys, strict=True)]
    metric = rows[0]["best_metric"] if rows else "val_acc"
    if short:
        header = ["run", *names, "epochs", "best val_loss", f"best {metric}", "gap"]
    else:
        header = ["run", *names, "epochs", "best val_loss (epoch)", f"best {metric} (epoch)", "final gap"]
    body = []
    for row in rows:
        body.append([
            clean(row["run"]),
            *(_setting(row["differs"][k]) for k in keys),
            str(row["epochs"]),
            f"{_fmt(row['best_val_loss'])} ({row['best_val_loss_epoch'] or '-'})",
            f"{_fmt(row['best_val_metric'])} ({row['best_val_metric_epoch'] or '-'})",
            "-" if row["final_gap"] is None else f"{row['final_gap']:+.4f}",
        ])
    return [header, *body]


def table_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    cells = table(rows)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def print_comparison(runs: Sequence[RunCurves], stream: IO[str] | None = None, *, color: bool | None = None,
                     width: int | None = None) -> list[dict[str, Any]]:
    """Charts, legend and table on ``stream``; returns the table rows."""
    from tui_trainer.faces.headless import use_color

    stream = stream or sys.stdout
    color = use_color(stream) if color is None else color
    width = width or min(110, max(60, shutil.get_terminal_size((100, 40)).columns - 1))
    rows = compare_rows(runs)
    console = None
    if color:
        from rich.console import Console

        console = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True)
    for train, val in metric_pairs(runs):
        stream.write(chart(runs, train, val, color=color, width=width, height=18) + "\n")
    stream.write("legend:\n")
    for i, run in enumerate(runs):
        label = clean(run.label)
        if console is not None:
            from rich.text import Text

            line = Text("  ")
            line.append("⠉⠉⠉⠉ train  •••• val", style=COLORS[i % len(COLORS)][1])
            line.append(f"  {label}")
            console.print(line)
        else:
            lower, upper = letters(i)
            stream.write(f"  {lower} train  {upper} val  {label}\n")
    stream.write("\n")
    for line in table_lines(rows):
        stream.write(line + "\n")
    stream.flush()
    return rows


# -- finding runs ---------------------------------------------------------------------------


def _run_folders(root: Path) -> list[Path]:
    """Run folders in the run store, newest first."""
    from tui_trainer.runs.store import list_runs

    return [info.folder for info in list_runs(root)]


def _study_info(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STUDY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _study_of(folder: Path) -> str:
    return str(_study_info(folder).get("study", ""))


def _run_order(folder: Path) -> tuple[str, int, str]:
    """Oldest first by start time; a study's variants in the preset's order."""
    from tui_trainer.runs.store import load_run

    info = load_run(folder)
    started = info.get("started") if info is not None else None
    index = _study_info(folder).get("index")
    return str(started or folder.name), index if isinstance(index, int) else 0, folder.name


def resolve_runs(refs: Sequence[str], last: int | None, root: Path) -> list[Path]:
    """Folders for RUN arguments (a folder, a run id or unique prefix, or a study id) and ``--last N``."""
    from tui_trainer.runs.store import find_run

    folders: list[Path] = []
    known = _run_folders(root)
    for ref in refs:
        path = Path(ref).expanduser()
        if path.is_dir() and (any((path / n).is_file() for n in ("history.jsonl", "history.csv"))):
            folders.append(path)
            continue
        study = sorted((p for p in known if _study_of(p) == ref), key=_run_order)
        if study:
            folders.extend(study)
            continue
        try:
            folders.append(find_run(root, ref).folder)
        except UserError as exc:
            if "ambiguous" in str(exc):
                raise
            raise UserError(f"run {clean(ref)!r}: no such run folder, run id or study id in {root} "
                            "(see tui-trainer runs)") from None
    if last is not None:
        if last < 1:
            raise UserError("--last: give a number of runs >= 1")
        newest = known[:last]
        if not newest:
            raise UserError(f"--last: no runs in {root}")
        folders.extend(sorted(newest, key=_run_order))
    unique: list[Path] = []
    for folder in folders:
        if folder.resolve() not in {f.resolve() for f in unique}:
            unique.append(folder)
    return unique


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="tui-trainer compare",
                description="Compare runs side by side: one chart per metric (every run's training and validation "
                            "curve) and a table of what differs, best validation metrics and the final train/val gap.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run folder, run id (or unique prefix), or study id")
    p.add_argument("--last", type=int, metavar="N", help="the N newest runs")
    p.add_argument("--json", action="store_true", help="print the table as JSON (one object per run, one per line)")
    p.add_argument("--runs-dir", metavar="DIR", default=None, help="where runs are stored")
    p.add_argument("--width", type=int, metavar="COLS", default=None, help="chart width (default: the terminal's)")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        if not args.runs and args.last is None:
            raise UserError("compare: name runs (folders, ids or a study id) or use --last N")
        from tui_trainer.runs.store import runs_root

        folders = resolve_runs(args.runs, args.last, runs_root(args.runs_dir))
        runs = [read_run(f) for f in folders]
    except UserError as exc:
        sys.stderr.write(f"tui-trainer: error: {printable(exc)}\n")
        return 2
    unique_labels(runs)
    if args.json:
        for row in compare_rows(runs):
            sys.stdout.write(json.dumps(row, allow_nan=False) + "\n")
        return 0
    print_comparison(runs, width=args.width)
    return 0
