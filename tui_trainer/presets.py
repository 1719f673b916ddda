"""Presets: TOML files that are data, never code.

Built-ins ship in ``presets/`` (copied into the wheel as ``tui_trainer/presets``);
user presets live in ``$XDG_CONFIG_HOME/tui-trainer/presets``.  A preset may set
only what it changes, and may ``extends = "other"`` another preset.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from tui_trainer import config as cfgmod
from tui_trainer.config import Config
from tui_trainer.errors import ConfigError, UserError, did_you_mean

PRESET_SUFFIX = ".toml"


def builtin_dir() -> Path:
    """Where the built-in presets are, for both wheel and source-tree installs."""
    here = Path(__file__).resolve().parent
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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"preset file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"can't read preset {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("toml", f"not valid TOML: {exc}", source=str(path)) from None


def list_presets() -> list[PresetInfo]:
    """Built-ins first, then user presets; a user preset with a built-in's name shadows it."""
    found: dict[str, PresetInfo] = {}
    for source, folder in (("built-in", builtin_dir()), ("user", user_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{PRESET_SUFFIX}")):
            try:
                description = str(_read_toml(path).get("description", ""))
            except UserError as exc:
                description = f"(unreadable: {exc})"
            found[path.stem] = PresetInfo(path.stem, source, path, description)
    builtins = [p for p in found.values() if p.source == "built-in"]
    users = [p for p in found.values() if p.source == "user"]
    return builtins + users


def find_preset(name_or_path: str) -> Path:
    """A preset name (user folder first, then built-in) or a path to a TOML file."""
    looks_like_path = os.sep in name_or_path or name_or_path.endswith(PRESET_SUFFIX)
    if looks_like_path:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise UserError(f"--preset: file not found: {path}")
        return path
    for folder in (user_dir(), builtin_dir()):
        path = folder / f"{name_or_path}{PRESET_SUFFIX}"
        if path.is_file():
            return path
    names = sorted({p.name for p in list_presets()})
    raise UserError(
        f"--preset: no preset named {name_or_path!r}; available: {', '.join(names)}"
        f"{did_you_mean(name_or_path, names)} (or give a path to a .toml file)"
    )


def _resolve_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        chain = " -> ".join(p.stem for p in seen + (path,))
        raise ConfigError("extends", f"presets extend each other in a loop: {chain}", source=str(path))
    raw = _read_toml(path)
    _anchor_data_path(raw, path.parent)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError("extends", f"{parent!r} must be a preset name or path", source=str(path))
    base = _resolve_raw(find_preset(parent), seen + (path.resolve(),))
    base.pop("description", None)
    return cfgmod.merge(base, raw)


def _anchor_data_path(raw: dict[str, Any], folder: Path) -> None:
    """A relative ``data.path`` in a preset means "next to this preset file"."""
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        path = Path(data["path"]).expanduser()
        if not path.is_absolute() and (folder / path).exists():
            data["path"] = str((folder / path).resolve())


def load_preset_data(name_or_path: str) -> tuple[dict[str, Any], Path]:
    path = find_preset(name_or_path)
    return _resolve_raw(path), path


def load_preset(name_or_path: str, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a preset, with dotted overrides applied on top."""
    raw, path = load_preset_data(name_or_path)
    raw.pop("variants", None)  # a study's variants: see tui_trainer.study
    try:
        config = cfgmod.from_dict(raw)
    except ConfigError as exc:
        raise exc.with_source(str(path)) from None
    if not overrides:
        return config
    try:
        return cfgmod.from_dict(cfgmod.merge(raw, cfgmod.dotted_to_nested(overrides)))
    except ConfigError as exc:
        raise exc.with_source("command-line options") from None


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
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(dumps(config), encoding="utf-8")
    tmp.replace(path)
    return path
