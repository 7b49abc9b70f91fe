"""Go's regular expressions and float syntax, as Flux applies them to image tags.

Flux compiles ``filterTags.pattern`` with Go's ``regexp`` (RE2 syntax), expands ``extract`` with
``Regexp.ExpandString`` and parses numerical tags with ``strconv.ParseFloat``. Python's ``re`` and
``float`` accept more, and some of it means something else, so a pattern is translated here and
anything RE2 would reject is rejected with the reason, rather than quietly matching other tags.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

# Escapes RE2 and Python read the same way.
_SHARED_ESCAPES = frozenset("afnrtvdDsSwWbBA")
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_GROUP_NAME = re.compile(r"(?:P?<)([A-Za-z0-9_]+)>")
_FLAGS = re.compile(r"([imsU]*)(?:-([imsU]*))?([:)])")
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_MAX_REPEAT = 1000  # RE2's limit on a counted repetition


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` (RE2 syntax) compiled for Python's re; ValueError says what RE2 would not accept."""
    try:
        return re.compile(translate(pattern), re.ASCII)
    except re.error as e:
        raise ValueError(str(e)) from e


def translate(pattern: str) -> str:
    """The Python spelling of an RE2 pattern (named groups, ``\\z``, ``\\Q..\\E``, POSIX classes)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    repeated = lazy_taken = False  # RE2 allows one repetition per atom, optionally made lazy by "?"
    while i < n:
        char, was_repeated = pattern[i], repeated
        repeated = False
        if char == "\\":
            text, i = _escape(pattern, i)
        elif char == "[":
            text, i = _char_class(pattern, i)
        elif char == "(":
            text, i = _group_open(pattern, i, at_start=not out)
        elif char == "?" and was_repeated and not lazy_taken:
            text, i, repeated, lazy_taken = "?", i + 1, True, True
        elif char in "*+?" or (char == "{" and _REPEAT.match(pattern, i)):
            if was_repeated:
                raise ValueError(f"invalid nested repetition operator at offset {i} of {pattern!r}")
            text, i = _repeat(pattern, i)
            repeated, lazy_taken = True, False
        elif char == "{":
            text, i = "\\{", i + 1  # not a repetition: a literal brace in RE2 ("{,3}" included)
        else:
            text, i = char, i + 1
        out.append(text)
    return "".join(out)


def _escape(pattern: str, i: int) -> tuple[str, int]:
    if i + 1 >= len(pattern):
        raise ValueError("trailing backslash at end of expression")
    char = pattern[i + 1]
    if char == "z":
        return "\\Z", i + 2  # RE2's end of text is Python's \Z; RE2 has no \Z
    if char == "Q":
        end = pattern.find("\\E", i + 2)
        literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
        return re.escape(literal), len(pattern) if end < 0 else end + 2
    if char == "x" and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i + 3)
        if end < 0 or not re.fullmatch(r"[0-9A-Fa-f]{1,6}", pattern[i + 3 : end]):
            raise ValueError(f"invalid escape sequence: {pattern[i : end + 1]!r}")
        return f"\\U{int(pattern[i + 3 : end], 16):08x}", end + 1
    if char in _SHARED_ESCAPES or (char == "x" and re.match(r"[0-9A-Fa-f]{2}", pattern[i + 2 : i + 4])):
        return pattern[i : i + 2], i + 2
    if char == "0":
        return "\\0", i + 2
    if char in "pP":
        raise ValueError(f"Unicode class {pattern[i : i + 3]!r} is not supported yet; use an ASCII class")
    if char.isascii() and not char.isalnum():
        return pattern[i : i + 2], i + 2  # escaped punctuation is a literal in both
    raise ValueError(f"invalid escape sequence: {pattern[i : i + 2]!r} (RE2 has no backreferences, \\Z or \\G)")


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    out = ["["]
    i += 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if char == "[" and pattern[i : i + 2] == "[:":
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2 : end] if end > 0 else ""
            if name not in _POSIX_CLASSES:
                raise ValueError(f"invalid character class range: {pattern[i : end + 2]!r}")
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        elif char == "\\":
            if pattern[i + 1 : i + 2] in ("z", "Q", "b", "B", "A"):
                raise ValueError(f"invalid escape in character class: {pattern[i : i + 2]!r}")
            text, i = _escape(pattern, i)
            out.append(text)
        elif char in "[&~|":
            out.append("\\" + char)  # literal in RE2; Python reserves them for set operations
            i += 1
        else:
            out.append(char)
            i += 1
    raise ValueError(f"missing closing ]: {pattern[pattern.rfind('[') :]!r}")


def _group_open(pattern: str, i: int, at_start: bool) -> tuple[str, int]:
    if pattern[i + 1 : i + 2] != "?":
        return "(", i + 1
    rest = pattern[i + 2 :]
    named = _GROUP_NAME.match(rest)
    if named:
        return f"(?P<{named.group(1)}>", i + 2 + named.end()
    flags = _FLAGS.match(rest)
    if flags and (flags.group(1) or flags.group(2) or flags.group(3) == ":"):
        if "U" in flags.group(0):
            raise ValueError("the ungreedy flag (?U) is not supported yet")
        if flags.group(3) == ")" and not at_start:
            raise ValueError("flags are supported only at the start of the pattern or as (?flags:...)")
        return "(?" + flags.group(0), i + 2 + flags.end()
    raise ValueError(
        f"{pattern[i : i + 4]!r}... is not RE2 syntax (RE2 has no lookaround, atomic groups, conditionals,"
        " comments, backreferences or the x/a/L/u flags)"
    )


def _repeat(pattern: str, i: int) -> tuple[str, int]:
    if pattern[i] != "{":
        return pattern[i], i + 1
    match = _REPEAT.match(pattern, i)
    assert match is not None  # the caller checked
    low, high = int(match.group(1)), match.group(3)
    if low > _MAX_REPEAT or (high and (int(high) > _MAX_REPEAT or int(high) < low)):
        raise ValueError(f"invalid repeat count: {match.group(0)!r}")
    return match.group(0), match.end()


_REFERENCE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def compile_template(template: str, pattern: re.Pattern[str]) -> Callable[[re.Match[str]], str]:
    """A function filling ``template`` from a match as Go's ``Regexp.Expand`` does.

    ``$1``, ``$name``, ``${name}`` name a group (the longest run of letters, digits and ``_``,
    so ``$1x`` is the group "1x"), ``$$`` is a dollar. A group that did not take part or does not
    exist expands to nothing; a ``$`` that starts no reference stays. Parsed once, because a
    policy expands it for every tag of a registry.
    """
    parts: list[str | int] = []  # literal text, or the number of the group to insert
    i = 0
    while (dollar := template.find("$", i)) >= 0:
        parts.append(template[i:dollar])
        reference = _REFERENCE.match(template, dollar)
        if reference is None:
            parts.append("$")
            i = dollar + 1
            continue
        i = reference.end()
        name = reference.group(1) or reference.group(2)
        if name is None:
            parts.append("$")
        elif name.isdigit() and (name == "0" or not name.startswith("0")):  # Go reads "$01" as a name
            parts.append(int(name) if int(name) <= pattern.groups else "")
        else:
            parts.append(pattern.groupindex.get(name, ""))
    parts.append(template[i:])
    pieces = tuple(part for part in parts if part != "")

    def fill(match: re.Match[str]) -> str:
        return "".join(piece if isinstance(piece, str) else (match.group(piece) or "") for piece in pieces)

    return fill


_GO_DECIMAL = re.compile(
    r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?", re.ASCII
)
# A hex mantissa needs at least one digit and, unlike Python's float.fromhex, a "p" exponent.
_GO_HEX = re.compile(
    r"[+-]?0[xX](?=_?[0-9a-fA-F]|\.[0-9a-fA-F])(?:_?[0-9a-fA-F])*(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?"
    r"[pP][+-]?\d(?:_?\d)*",
    re.ASCII,
)
_GO_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)


def parse_float(text: str) -> float | None:
    """The number ``strconv.ParseFloat(text, 64)`` reads, or None where Go reports an error.

    Go rejects what Python's ``float`` forgives: surrounding spaces, non-ASCII digits, ``+nan``,
    hex without a ``p`` exponent, and values too large for a float64 (Go's ErrRange).
    """
    if _GO_SPECIAL.fullmatch(text):
        return float(text)
    if _GO_DECIMAL.fullmatch(text):
        value = float(text.replace("_", ""))
    elif _GO_HEX.fullmatch(text):
        try:
            value = float.fromhex(text.replace("_", ""))
        except OverflowError:
            return None
    else:
        return None
    return None if math.isinf(value) else value
