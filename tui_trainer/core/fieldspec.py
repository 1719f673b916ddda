"""Fields described once, as annotated msgspec Struct fields, and read back for every face.

A config field is one line of a Struct::

    noise: Annotated[float, about("share of noisy points", "noise", ge=0.0, le=0.5)] = 0.0

Its type, default, range or choices, unit, help text and form label live there and
nowhere else. msgspec checks data against it; this module reads the same
declarations back (``msgspec.inspect``) for what the faces need: the rows of the
app's form, the CLI's choices, the README's table, and, for a bad value, the
one line users already know (field name, value, what is allowed, "did you mean").

msgspec's own messages ("Expected `int` >= 1 - at `$.model.hidden[1]`") are for
programmers; only their path is used, to find the value and its description.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi

from tui_trainer.core.errors import ConfigError, choice_error, did_you_mean

#: Keywords of ``about`` that are msgspec constraints; the rest describe the field for people.
_CONSTRAINTS = ("gt", "ge", "lt", "le", "min_length", "max_length")


def about(help: str, label: str | None = None, *, unit: str = "", **details: Any) -> msgspec.Meta:
    """One field's description: help text, form label (None: not in the form), unit and constraints.

    Constraints (``ge``, ``gt``, ``le``, ``lt``, ``min_length``) are checked by
    msgspec. Other keywords describe the field to the faces: ``widget="layers"``
    (edited in the layer rows), ``each`` (a per-layer list that a single value
    fills, this being the value for a missing key), ``empty`` (the message for an
    empty list), ``choice_labels``, ``item`` and ``example`` (for lists of tables).
    """
    constraints = {k: details.pop(k) for k in _CONSTRAINTS if k in details}
    extra = {"label": label, "unit": unit, **details}
    return msgspec.Meta(description=help, extra=extra, **constraints)


def _unwrap(t: mi.Type) -> tuple[mi.Type, dict[str, Any]]:
    """The type under any ``Annotated`` metadata, with the field's description merged."""
    extra: dict[str, Any] = {}
    while isinstance(t, mi.Metadata):
        extra = {**(t.extra or {}), **extra}
        if t.extra_json_schema and "description" in t.extra_json_schema:
            extra.setdefault("help", t.extra_json_schema["description"])
        t = t.type
    return t, extra


#: Each Literal's values in the order declared (msgspec.inspect sorts them; messages and menus keep ours).
_DECLARED: dict[frozenset[Any], tuple[Any, ...]] = {}


def _learn_order(annotation: Any) -> None:
    """Note the declared order of every Literal in a Struct's annotations, Structs inside included."""
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        _DECLARED.setdefault(frozenset(values), values)
        return
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        for sub in (annotation, *annotation.__subclasses__()):
            for hint in typing.get_type_hints(sub, include_extras=True).values():
                _learn_order(hint)
        return
    for arg in typing.get_args(annotation):
        _learn_order(arg)


def _values(t: mi.LiteralType) -> tuple[str, ...]:
    return tuple(map(str, _DECLARED.get(frozenset(t.values), t.values)))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- the words for a bad value -----------------------------------------------------------------


def _float_range(t: mi.FloatType) -> str:
    lo = t.gt if t.gt is not None else t.ge
    hi = t.lt if t.lt is not None else t.le
    lo_op = "<" if t.gt is not None else "<="
    hi_op = "<" if t.lt is not None else "<="
    if lo is not None and hi is not None:
        return f"allowed: {float(lo)} {lo_op} value {hi_op} {float(hi)}"
    if lo is not None:
        return f"allowed: value {'>' if t.gt is not None else '>='} {float(lo)}"
    if hi is not None:
        return f"allowed: value {'<' if t.lt is not None else '<='} {float(hi)}"
    return "allowed: any number"


def _int_range(t: mi.IntType) -> str:
    lo = t.gt + 1 if t.gt is not None else t.ge
    hi = t.lt - 1 if t.lt is not None else t.le
    if lo is not None and hi is not None:
        return f"allowed: {lo}..{hi}"
    if lo is not None:
        return f"allowed: a whole number >= {lo}"
    if hi is not None:
        return f"allowed: a whole number <= {hi}"
    return "allowed: a whole number"


def allowed_text(t: mi.Type) -> str:
    """What a field allows, in the words of the messages (for tables and tooltips)."""
    t, extra = _unwrap(t)
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(_values(t))
    if isinstance(t, mi.IntType):
        return _int_range(t).removeprefix("allowed: ")
    if isinstance(t, mi.FloatType):
        return _float_range(t).removeprefix("allowed: ")
    if isinstance(t, mi.StrType):
        return "text"
    if isinstance(t, mi.VarTupleType | mi.ListType):
        least = "non-empty " if t.min_length == 1 else ""
        return f"a {least}list of " + allowed_text(t.item_type).removeprefix("one of ").replace("a whole number", "whole numbers")
    if isinstance(t, mi.UnionType):
        return "tables: " + ", ".join(str(s.tag) for s in t.types if isinstance(s, mi.StructType))
    return ""


def problem(field: str, value: Any, t: mi.Type, extra: Mapping[str, Any] | None = None) -> ConfigError | None:
    """Why ``value`` can't be ``field`` as described by ``t``, or None when it can."""
    t, own = _unwrap(t)
    extra = {**(extra or {}), **own}
    if isinstance(t, mi.LiteralType):
        if isinstance(value, str) and value.lower() in t.values:
            return None
        return choice_error(field, value, _values(t))
    if isinstance(t, mi.IntType):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return ConfigError(field, f"{value!r} is not a whole number; {_int_range(t)}")
        if _outside(value, t):
            return ConfigError(field, f"{value!r} is out of range; {_int_range(t)}")
        return None
    if isinstance(t, mi.FloatType):
        if not _is_number(value) or not math.isfinite(float(value)):
            return ConfigError(field, f"{value!r} is not a number; {_float_range(t)}")
        if _outside(float(value), t):
            return ConfigError(field, f"{value!r} is out of range; {_float_range(t)}")
        return None
    if isinstance(t, mi.StrType):
        return None if isinstance(value, str) else ConfigError(field, f"{value!r} is not text; write it in quotes")
    if isinstance(t, mi.VarTupleType | mi.ListType):
        if not isinstance(value, list | tuple):
            return ConfigError(field, f"{value!r} is not a list; write it like [a, b]")
        if t.min_length and len(value) < t.min_length:
            return ConfigError(field, extra.get("empty") or f"needs at least {t.min_length} values")
        for item in value:
            bad = problem(field, item, t.item_type, extra)
            if bad is not None:
                return bad
        return None
    if isinstance(t, mi.StructType | mi.UnionType) and not isinstance(value, Mapping):
        if "example" in extra:
            return ConfigError(field, f"{value!r} is not a table; write it like {extra['example']}")
        return ConfigError(field, f"must be a table ([{field}]), not {value!r}")
    return None


def _outside(value: float, t: mi.IntType | mi.FloatType) -> bool:
    return (
        (t.ge is not None and value < t.ge)
        or (t.gt is not None and value <= t.gt)
        or (t.le is not None and value > t.le)
        or (t.lt is not None and value >= t.lt)
    )


def check_keys(section: str, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Unknown keys are refused with the keys that are allowed and the nearest one."""
    for key in data:
        if key not in allowed:
            name = f"{section}.{key}" if section else key
            where = f" in [{section}]" if section else ""
            raise ConfigError(name, f"unknown key; allowed keys{where}: {', '.join(allowed)}{did_you_mean(key, allowed)}")


# -- decoding: tidy, let msgspec check, explain ------------------------------------------------


def _child(name: str, part: str | int, item: mi.Type) -> str:
    """The name an error uses: tables in a list keep their index (``model.layers[1]``), values don't."""
    if isinstance(part, int):
        inner, _ = _unwrap(item)
        return f"{name}[{part}]" if isinstance(inner, mi.StructType | mi.UnionType) else name
    return f"{name}.{part}" if name else part


def _tagged(name: str, value: Mapping[str, Any], t: mi.UnionType) -> mi.StructType:
    """The member of a tagged union that a table names in its tag (``type = "dense"``)."""
    members = [s for s in t.types if isinstance(s, mi.StructType)]
    tag_field = members[0].tag_field or "type"
    tag = value.get(tag_field)
    for member in members:
        if isinstance(tag, str) and tag.lower() == member.tag:
            return member
    raise choice_error(f"{name}.{tag_field}", tag, tuple(str(m.tag) for m in members))


def tidy(value: Any, t: mi.Type, name: str = "", extra: Mapping[str, Any] | None = None) -> Any:
    """Input as msgspec expects it, refusing what its own messages would word badly.

    Choices are matched ignoring case, whole floats count as whole numbers
    (``epochs = 5.0``), tables are put in declaration order (so the first bad
    field reported is the first in the description), and unknown keys, missing
    keys and non-finite numbers are refused here with the users' words.
    """
    t, own = _unwrap(t)
    extra = {**(extra or {}), **own}
    if isinstance(t, mi.UnionType) and isinstance(value, Mapping):
        t = _tagged(name, value, t)
    if isinstance(t, mi.StructType) and isinstance(value, Mapping):
        names = tuple(f.name for f in t.fields)
        check_keys(name, value, ((t.tag_field,) if t.tag_field else ()) + names)
        out: dict[str, Any] = {t.tag_field: t.tag} if t.tag_field else {}
        for f in t.fields:
            if f.name in value:
                out[f.name] = tidy(value[f.name], f.type, _child(name, f.name, f.type))
            elif f.required:
                noun = f" for a {t.tag} {extra.get('item', 'table')}" if t.tag else ""
                raise ConfigError(_child(name, f.name, f.type), f"is required{noun}")
        return out
    if isinstance(t, mi.VarTupleType | mi.ListType) and isinstance(value, list | tuple):
        return [tidy(v, t.item_type, _child(name, i, t.item_type), extra) for i, v in enumerate(value)]
    if isinstance(t, mi.LiteralType) and isinstance(value, str) and value.lower() in t.values:
        return value.lower()
    if isinstance(t, mi.IntType) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(t, mi.FloatType) and _is_number(value) and not math.isfinite(value):
        raise problem(name, value, t, extra) or ConfigError(name, f"{value!r} is not a number")
    return value


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def explain(exc: msgspec.ValidationError, data: Any, t: mi.Type) -> ConfigError:
    """msgspec's error as the user's one line: follow its path to the value and its description."""
    text = str(exc)
    path = text.rpartition(" - at `$")[2].rstrip("`") if " - at `$" in text else ""
    name, value = "", data
    extra: dict[str, Any] = {}
    for key, index in _PATH_PART.findall(path):
        t, own = _unwrap(t)
        extra = {**extra, **own}
        if isinstance(t, mi.UnionType) and isinstance(value, Mapping):
            t = _tagged(name, value, t)
        if isinstance(t, mi.StructType):
            f = next(f for f in t.fields if f.name == key)
            name, value, t = _child(name, key, f.type), value[key], f.type
        elif isinstance(t, mi.VarTupleType | mi.ListType):
            name, value, t = _child(name, int(index), t.item_type), value[int(index)], t.item_type
    return problem(name, value, t, extra) or ConfigError(name or "config", text.partition(" - at ")[0])


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in plain data (msgspec lets them through a field with no upper bound)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


def decode(data: Mapping[str, Any], cls: type[Any]) -> Any:
    """Plain data (TOML, ``--set``, the form) as a ``cls`` Struct, or the ConfigError a user reads.

    Data that is already tidy (the usual case: a saved config, a run's config)
    goes straight to msgspec; anything else is tidied first and, if still
    wrong, explained.
    """
    if _finite(data):
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError:
            pass
    t = type_of(cls)
    tidied = tidy(data, t)
    try:
        return msgspec.convert(tidied, cls)
    except msgspec.ValidationError as exc:
        raise explain(exc, tidied, t) from None


_TYPES: dict[type, mi.Type] = {}


def type_of(cls: type[Any]) -> mi.Type:
    """msgspec's description of a Struct (cached: it is read on every check)."""
    if cls not in _TYPES:
        _learn_order(cls)
        _TYPES[cls] = mi.type_info(cls)
    return _TYPES[cls]


# -- the fields, for the faces -----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One config field as the faces see it: everything its one declaration says."""

    key: str  #: dotted, as ``--set`` and presets write it: ``train.epochs``
    section: str  #: ``train``; "" for top-level fields
    name: str
    type: mi.Type  #: msgspec's type, constraints included (for ``problem``)
    default: Any
    help: str
    label: str | None  #: the form's label; None: not in the form
    unit: str
    extra: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """choice, int, float, text, choices (a list of choices), list or tables."""
        t, _ = _unwrap(self.type)
        if isinstance(t, mi.VarTupleType | mi.ListType):
            item, _ = _unwrap(t.item_type)
            if isinstance(item, mi.LiteralType):
                return "choices"
            return "tables" if isinstance(item, mi.StructType | mi.UnionType) else "list"
        return {mi.LiteralType: "choice", mi.IntType: "int", mi.FloatType: "float", mi.StrType: "text"}.get(
            type(t), "other"
        )

    @property
    def choices(self) -> tuple[str, ...]:
        t, _ = _unwrap(self.type)
        if isinstance(t, mi.VarTupleType | mi.ListType):
            t, _ = _unwrap(t.item_type)
        return _values(t) if isinstance(t, mi.LiteralType) else ()

    @property
    def allowed(self) -> str:
        return allowed_text(self.type)

    @property
    def widget(self) -> str | None:
        """How the form edits it: select, input, flags, layers; None: not in the form."""
        if self.label is None:
            return None
        if "widget" in self.extra:
            return str(self.extra["widget"])
        return {"choice": "select", "choices": "flags"}.get(self.kind, "input")

    def problem(self, value: Any) -> ConfigError | None:
        """Why ``value`` can't be this field on its own (cross-field rules aside), or None."""
        return problem(self.key, value, self.type, self.extra)


@dataclass(frozen=True)
class Section:
    """A table of the config (``[train]``) with its title and fields."""

    name: str
    title: str
    help: str
    fields: tuple[Field, ...]


def _field(section: str, f: mi.Field) -> Field:
    _, extra = _unwrap(f.type)
    default = f.default_factory() if f.default_factory is not mi.NODEFAULT else f.default
    return Field(
        key=f"{section}.{f.name}" if section else f.name,
        section=section,
        name=f.name,
        type=f.type,
        default=None if default is mi.NODEFAULT else default,
        help=str(extra.get("help", "")),
        label=extra.get("label"),
        unit=str(extra.get("unit", "")),
        extra=extra,
    )


def describe(cls: type[Any]) -> tuple[tuple[Field, ...], tuple[Section, ...]]:
    """A config Struct's own fields and its sections (fields whose type is a Struct)."""
    top: list[Field] = []
    sections: list[Section] = []
    for f in type_of(cls).fields:  # type: ignore[attr-defined]
        inner, extra = _unwrap(f.type)
        if isinstance(inner, mi.StructType):
            fields = tuple(_field(f.name, g) for g in inner.fields)
            sections.append(Section(f.name, str(extra.get("label") or f.name), str(extra.get("help", "")), fields))
        else:
            top.append(_field("", f))
    return tuple(top), tuple(sections)
