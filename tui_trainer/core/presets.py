"""Presets: TOML files that are data, never code.

Built-ins ship in ``presets/`` (copied into the wheel as ``tui_trainer/presets``);
user presets live in ``$XDG_CONFIG_HOME/tui-trainer/presets``.  A preset may set
only what it changes, and may ``extends = "other"`` another preset.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from tui_trainer.core import config as cfgmod
from tui_trainer.core.config import Config
from tui_trainer.core.errors import ConfigError, UserError, did_you_mean

PRESET_SUFFIX = ".toml"
#: At most this many presets in one ``extends`` chain (the preset itself included).
MAX_EXTENDS = 16
#: Largest preset file read (a preset is a few hundred bytes; this stops a mistaken multi-GB path).
MAX_PRESET_BYTES = 1 << 20


def builtin_dir() -> Path:
    """Where the built-in presets are, for both wheel and source-tree installs."""
    here = Path(__file__).resolve().parent.parent  # the tui_trainer package
    packaged = here / "presets"
    if packaged.is_dir():
        return packaged
    return here.parent / "presets"


def user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tui-trainer" / "presets"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    source: str  # "built-in" or "user"
    path: Path
    description: str
    #: Why the file can't be used (not UTF-8, bad TOML, unreadable ...), or None when it reads.
    error: str | None = None


def _read_toml(path: Path) -> dict[str, Any]:
    """A preset file's data; every way a file can be wrong is a one-line UserError naming it."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PRESET_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"preset file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"can't read preset {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PRESET_BYTES:
        raise ConfigError("toml", f"the file is larger than {MAX_PRESET_BYTES // 1024} KiB; a preset is a short "
                          "TOML file", source=str(path))
    try:
        # utf-8-sig: editors on Windows often start a file with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError("toml", f"not UTF-8 text (byte {exc.start + 1}, line {line}); save it as UTF-8",
                          source=str(path)) from None
    return cfgmod.loads(text, source=str(path))


def list_presets() -> list[PresetInfo]:
    """Built-ins first, then user presets; a user preset with a built-in's name shadows it."""
    found: dict[str, PresetInfo] = {}
    for source, folder in (("built-in", builtin_dir()), ("user", user_dir())):
        if not folder.is_dir():
            continue
        try:
            paths = sorted(folder.glob(f"*{PRESET_SUFFIX}"))
        except OSError:
            continue
        for path in paths:
            error = None
            try:
                description = _read_toml(path).get("description", "")
                if not isinstance(description, str):
                    raise ConfigError("description", f"{description!r} is not text", source=str(path))
            except UserError as exc:
                description, error = "", str(exc)
            found[path.stem] = PresetInfo(path.stem, source, path, description, error)
    builtins = [p for p in found.values() if p.source == "built-in"]
    users = [p for p in found.values() if p.source == "user"]
    return builtins + users


def find_preset(name_or_path: str, *, field: str = "--preset", relative_to: Path | None = None) -> Path:
    """A preset name (user folder first, then built-in) or a path to a TOML file.

    ``relative_to`` is the folder of the preset that names this one in
    ``extends``: a relative path there means "next to that preset", not "in the
    current folder".
    """
    if not name_or_path.strip():
        raise UserError(f"{field}: is empty; give a preset name (see --list-presets) or a path to a .toml file")
    looks_like_path = os.sep in name_or_path or name_or_path.endswith(PRESET_SUFFIX)
    if looks_like_path:
        path = Path(name_or_path).expanduser()
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise UserError(f"{field}: file not found: {path}")
        return path
    for folder in (user_dir(), builtin_dir()):
        path = folder / f"{name_or_path}{PRESET_SUFFIX}"
        if path.is_file():
            return path
    names = sorted({p.name for p in list_presets()})
    raise UserError(
        f"{field}: no preset named {name_or_path!r}; available: {', '.join(names)}"
        f"{did_you_mean(name_or_path, names)} (or give a path to a .toml file)"
    )


def _read_chain(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The preset and the presets it extends, nearest first, each as its own raw data.

    Iterative and bounded (``MAX_EXTENDS``), so a long or looping chain is a
    clear message, not a RecursionError.  ``extends`` is resolved against the
    folder of the preset that says it, and so is a relative ``data.path``.
    """
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    while True:
        if path.resolve() in seen:
            names = " -> ".join(p.stem for p in seen + [path])
            raise ConfigError("extends", f"presets extend each other in a loop: {names}", source=str(chain[-1][0]))
        if len(chain) >= MAX_EXTENDS:
            raise ConfigError("extends", f"the chain of presets is longer than {MAX_EXTENDS} "
                              f"({' -> '.join(p.stem for p, _ in chain[:4])} -> ...); extend a preset more directly",
                              source=str(chain[0][0]))
        raw = _read_toml(path)
        _anchor_data_path(raw, path.parent)
        parent = raw.pop("extends", None)
        chain.append((path, raw))
        seen.append(path.resolve())
        if parent is None:
            return chain
        if not isinstance(parent, str):
            raise ConfigError("extends", f"{parent!r} must be a preset name or path", source=str(path))
        try:
            path = find_preset(parent, field="extends", relative_to=path.parent)
        except UserError as exc:
            raise UserError(f"{exc} (in {path})") from None


def _resolve_raw(path: Path) -> dict[str, Any]:
    return _merge_chain(_read_chain(path))


def _merge_chain(chain: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for i, (_, raw) in enumerate(reversed(chain)):
        if i:
            merged.pop("description", None)  # a description belongs to its own file
        merged = cfgmod.merge(merged, raw)
    return merged


def _blame(chain: list[tuple[Path, dict[str, Any]]], field: str) -> Path:
    """The preset in the chain whose value for ``field`` is the one in effect (nearest first)."""
    parts = field.split("[")[0].split(".")
    for path, raw in chain:
        node: Any = raw
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        else:
            return path
    return chain[0][0]


def _anchor_data_path(raw: dict[str, Any], folder: Path) -> None:
    """A relative ``data.path`` in a preset means "next to this preset file"."""
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        path = Path(data["path"]).expanduser()
        if not path.is_absolute():
            data["path"] = str((folder / path).absolute())


def load_preset_data(name_or_path: str) -> tuple[dict[str, Any], Path]:
    path = find_preset(name_or_path)
    return _resolve_raw(path), path


#: Fields that explicit ``[[model.layers]]`` replace; setting them as well would do nothing.
LAYER_REPLACED = ("model.hidden", "model.activation", "model.dropout")


def load_preset(name_or_path: str, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a preset, with dotted overrides applied on top.

    An error is blamed on the preset of the ``extends`` chain that set the
    field, or on the command line for an override.
    """
    path = find_preset(name_or_path)
    chain = _read_chain(path)
    raw = _merge_chain(chain)
    raw.pop("variants", None)  # a study's variants: see tui_trainer.runs.study
    raw.pop("sweep", None)  # what a sweep searches: see tui_trainer.runs.sweep
    try:
        config = cfgmod.from_dict(raw)
    except ConfigError as exc:
        raise exc.with_source(str(_blame(chain, exc.field))) from None
    if not overrides:
        return config
    try:
        updated = cfgmod.from_dict(cfgmod.merge(raw, cfgmod.dotted_to_nested(overrides)))
    except ConfigError as exc:
        raise exc.with_source("command-line options") from None
    replaced = [key for key in LAYER_REPLACED if key in overrides]
    if updated.model.layers and replaced and "model.layers" not in overrides:
        raise ConfigError(replaced[0], f"this preset lists explicit [[model.layers]], which replace "
                          f"{', '.join(LAYER_REPLACED)}; change the layers instead (e.g. --set "
                          "'model.layers=[{type=\"dense\", units=64, activation=\"relu\"}]')",
                          source="command-line options")
    return updated


def dumps(config: Config) -> str:
    return tomli_w.dumps(config.to_dict())


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError("name", f"{name!r}: use letters, digits, '-' and '_' only")
    return name


def save_preset(config: Config, name: str, *, overwrite: bool = False) -> Path:
    """Write a preset to the user folder; refuses to replace a file unless told to.

    Writes to a temporary file first so a failed write never leaves half a preset.
    """
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{valid_name(name)}{PRESET_SUFFIX}"
    if path.exists() and not overwrite:
        raise FileExistsError(path)
    # A temp file of our own (two saves at once never share one), then one atomic step:
    # os.link fails if the name exists, so of several writers exactly one is told "saved".
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(config))
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            _link_exclusive(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _link_exclusive(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s finished content the name ``path`` only if no file has it (FileExistsError otherwise)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: exclusive create, then copy
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(tmp.read_bytes())
