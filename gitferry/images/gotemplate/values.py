"""Values: Go's truth, field lookup, fmt and builtins over Python data."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from gitferry.images.gotemplate import strconv
from gitferry.images.gotemplate.errors import Fail

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class _Absent:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _Absent()  # Go's invalid reflect.Value: a missing map key, nil data
MISSING = _Absent()  # no value piped in from a previous command


def _is_struct(value: object) -> TypeGuard[DataclassInstance]:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def go_type(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[]" + (go_type(value[0]) if value else "interface {}")
    if isinstance(value, dict):
        key, item = next(iter(value.items()), ("", ""))
        return f"map[{go_type(key)}]{go_type(item)}"
    return {bool: "bool", int: "int", str: "string", type(None): "<nil>"}.get(type(value), type(value).__name__)


def truth(value: object) -> bool | None:
    """Go's truth (empty and zero are false), or None for a value Go cannot test."""
    if value is NO_VALUE or value is None:
        return False
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    if isinstance(value, int):
        return value != 0
    return True if _is_struct(value) else None


def field(receiver: object, name: str, has_args: bool) -> object:
    """receiver.name as Go evaluates it: an exported struct field, or a string-keyed map's entry."""
    if receiver is NO_VALUE:
        return NO_VALUE
    if receiver is None:
        raise Fail(f"nil pointer evaluating {name}")
    if _is_struct(receiver) and name[0].isupper():
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
        fields = {f.name for f in dataclasses.fields(receiver)}
        for attr in (name, snake):
            if attr in fields or isinstance(getattr(type(receiver), attr, None), property | functools.cached_property):
                if has_args:
                    raise Fail(f"{name} has arguments but cannot be invoked as function")
                return getattr(receiver, attr)
    if isinstance(receiver, dict) and all(isinstance(key, str) for key in receiver):
        if has_args:
            raise Fail(f"{name} is not a method but has arguments")
        return receiver.get(name, NO_VALUE)
    raise Fail(f"can't evaluate field {name} in type {go_type(receiver)}")


def _compare(a: object, b: object) -> int:
    """Go's order of map keys (internal/fmtsort): by value; structs field by field."""
    if type(a) is not type(b):
        return (type(a).__name__ > type(b).__name__) - (type(a).__name__ < type(b).__name__)
    if _is_struct(a):
        pairs = [(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)]
        return next((order for x, y in pairs if (order := _compare(x, y))), 0)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return next((order for x, y in zip(a, b, strict=False) if (order := _compare(x, y))), 0)
    return int(a > b) - int(a < b)  # type: ignore[operator]


def sorted_items(value: dict[object, object]) -> list[tuple[object, object]]:
    def by_key(x: tuple[object, object], y: tuple[object, object]) -> int:
        return _compare(x[0], y[0])

    return sorted(value.items(), key=functools.cmp_to_key(by_key))


@dataclass(frozen=True, slots=True)
class _Spec:
    verb: str = "v"
    minus: bool = False
    plus: bool = False
    zero: bool = False
    width: int = 0
    precision: int | None = None


V = _Spec()


def _pad(text: str, spec: _Spec, signed: bool = False) -> str:
    if spec.minus:
        return text.ljust(spec.width)
    if spec.zero and signed and text[:1] in ("-", "+"):
        return text[0] + text[1:].rjust(spec.width - 1, "0")
    return text.rjust(spec.width, "0" if spec.zero else " ")


def fmt(value: object, spec: _Spec) -> str:
    """One operand formatted by Go's fmt with spec's verb, flags, width and precision."""
    verb = spec.verb
    if value is None:
        return _pad("<nil>", spec) if verb == "v" else f"%!{verb}(<nil>)"
    if _is_struct(value) and type(value).__str__ is not object.__str__ and verb in "vsqxX":
        value = str(value)  # a fmt.Stringer
    if isinstance(value, bool) and verb in "vt":
        return _pad("true" if value else "false", spec)
    if isinstance(value, int) and not isinstance(value, bool) and verb in "vdxXqc":
        char = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value < 0xE000 else "\ufffd"
        if verb in "qc":
            return _pad(strconv.quote(char, "'") if verb == "q" else char, spec)
        digits = format(abs(value), "d" if verb == "v" else verb).rjust(spec.precision or 0, "0")
        sign = "-" if value < 0 else "+" if spec.plus and verb != "v" else ""
        return _pad(sign + digits, dataclasses.replace(spec, zero=spec.zero and spec.precision is None), signed=True)
    if isinstance(value, str) and verb in "vsqxX":
        text = value[: spec.precision] if spec.precision is not None else value
        hexed = text.encode().hex()
        return _pad({"q": strconv.quote(text, '"'), "x": hexed, "X": hexed.upper()}.get(verb, text), spec)
    if isinstance(value, bool | int | str):
        return f"%!{verb}({go_type(value)}={fmt(value, dataclasses.replace(spec, verb='v'))})"
    if isinstance(value, list | tuple):
        return "[" + " ".join(fmt(item, spec) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{fmt(k, spec)}:{fmt(v, spec)}" for k, v in sorted_items(value)) + "]"
    if _is_struct(value) and not (spec.plus and verb == "v"):
        return "{" + " ".join(fmt(getattr(value, f.name), spec) for f in dataclasses.fields(value)) + "}"
    raise Fail(f"cannot format {go_type(value)} with %{'+' if spec.plus else ''}{verb}")


def _sprint(*args: object) -> str:
    """fmt.Sprint: a space between two operands when neither is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(fmt(arg, V))
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.?)", re.DOTALL)


def _sprintf(form: object, *args: object) -> str:
    assert isinstance(form, str)
    out, used, pos = [], 0, 0
    while (start := form.find("%", pos)) >= 0 and (match := _VERB.match(form, start)):
        flags, width, precision, verb = match.groups()
        out.append(form[pos:start])
        pos = match.end()
        if verb == "%" or not verb:
            out.append("%" if verb else "%!(NOVERB)")
        elif verb in "TUboOeEfFgGp*[" or " " in flags or "#" in flags:
            raise Fail(f"printf verb %{flags}{verb} is not supported")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            prec = int(precision or "0") if precision is not None else None
            spec = _Spec(verb, "-" in flags, "+" in flags, "0" in flags and "-" not in flags, int(width or "0"), prec)
            out.append(fmt(args[used], spec))
            used += 1
    out.append(form[pos:])
    if used < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type(a)}={fmt(a, V)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _basic(value: object) -> str | None:
    return {bool: "bool", int: "int", str: "string"}.get(type(value))


def is_nil(value: object) -> bool:
    return value is None or value is NO_VALUE


def _comparable(value: object) -> bool:
    """Whether Go's == can compare the value: not a slice or map, nor a struct holding one."""
    if _is_struct(value):
        return all(_comparable(getattr(value, f.name)) for f in dataclasses.fields(value))
    return not isinstance(value, list | tuple | dict)


def _eq(a: object, *others: object) -> bool:
    if not others:
        raise Fail("missing argument for comparison")
    for b in others:
        if _basic(a) != _basic(b):
            if a is not NO_VALUE and b is not NO_VALUE:
                raise Fail("incompatible types for comparison")
            continue
        if _basic(a) is None:  # nil, missing, slices, maps, structs
            kinds = {"struct" if _is_struct(x) else type(x) for x in (a, b) if x is not NO_VALUE}
            if len(kinds) > 1 and kinds != {list, tuple}:
                raise Fail(f"non-comparable types {go_type(a)}, {go_type(b)}")
            if is_nil(a) or is_nil(b):
                if is_nil(a) == is_nil(b):
                    return True
                continue
            if not _comparable(b):
                raise Fail(f"non-comparable type {go_type(b)}")
        if a == b:
            return True
    return False


def _lt(a: object, b: object) -> bool:
    if _basic(a) is None or _basic(b) is None:
        raise Fail("invalid type for comparison")
    if _basic(a) != _basic(b):
        raise Fail("incompatible types for comparison")
    if _basic(a) == "bool":
        raise Fail("invalid type for comparison")
    return bool(a < b)  # type: ignore[operator]


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


def _len(value: object) -> int:
    if is_nil(value):
        raise Fail("len of nil pointer")
    if isinstance(value, str | list | tuple | dict):
        return len(value.encode() if isinstance(value, str) else value)
    raise Fail(f"len of type {go_type(value)}")


def _index(item: object, *indexes: object) -> object:
    if item is NO_VALUE:
        raise Fail("index of untyped nil")
    for index in indexes:
        if item is None:
            raise Fail("index of nil pointer")
        if isinstance(item, str | list | tuple):
            if is_nil(index) or not isinstance(index, int) or isinstance(index, bool):
                raise Fail(f"cannot index slice/array with {'nil' if is_nil(index) else 'type ' + go_type(index)}")
            items = item.encode() if isinstance(item, str) else item
            if not 0 <= index < len(items):
                raise Fail(f"index out of range: {index}")
            item = items[index]
        elif isinstance(item, dict):
            key, sample = next(iter(item.items()), ("", ""))
            if type(index) is not type(key):
                raise Fail(f"value has type {go_type(index)}; should be {go_type(key)}")
            zero = type(sample)() if isinstance(sample, str | int | list | tuple | dict) else NO_VALUE
            item = item.get(index, zero)  # Go: the zero value of the map's element type
        else:
            raise Fail(f"can't index item of type {go_type(item)}")
    return item


# name: (fixed parameters, variadic, Go parameter type: "value" reflect.Value or "any", function)
BUILTINS: dict[str, tuple[int, bool, str, Callable[..., object]]] = {
    "and": (1, True, "value", lambda *a: a),  # both short-circuit: the executor's _State.call evaluates them
    "or": (1, True, "value", lambda *a: a),
    "not": (1, False, "value", lambda a: not truth(a)),
    "len": (1, False, "value", _len),
    "index": (1, True, "value", _index),
    "eq": (1, True, "value", _eq),
    "ne": (2, False, "value", lambda a, b: not _eq(a, b)),
    "lt": (2, False, "value", _lt),
    "le": (2, False, "value", _le),
    "gt": (2, False, "value", lambda a, b: not _le(a, b)),
    "ge": (2, False, "value", lambda a, b: not _lt(a, b)),
    "print": (0, True, "any", _sprint),
    "println": (0, True, "any", lambda *a: " ".join(fmt(x, V) for x in a) + "\n"),
    "printf": (1, True, "any", _sprintf),
}
