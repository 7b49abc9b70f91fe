"""Flux's post-build variable substitution (``spec.postBuild``), without I/O.

Expressions as fluxcd/pkg ``envsubst`` reads them: ``${var}``; ``${var:=default}``, ``:-``, ``:?``,
``:+`` and ``=`` (all: the default when the value is empty); ``${#var}``; ``${var:offset[:length]}``;
``${var,}`` ``,,`` ``^`` ``^^``; ``${var/pattern/replacement}`` ``//`` ``/#`` ``/%``; ``${var#glob}``
``##`` ``%`` ``%%``. ``$$`` writes one ``$`` (``$${var}`` leaves ``${var}``); ``$var`` is plain text.

Flux substitutes on each object as kustomize serialises it, through JSON: the source's quotes are
gone, so ``value: "${PORT}"`` becomes the number ``8080`` (Flux's docs suggest ``${quote}``
variables). ``substitute_object`` does the same through ``goyaml``, with Go's yaml.v2 scalar rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from ruamel.yaml.error import YAMLError

from gitferry.api import goyaml
from gitferry.api.keys import ObjectKey
from gitferry.api.kustomizations import SUBSTITUTE_ANNOTATION, Kustomization
from gitferry.api.manifests import Resource
from gitferry.errors import DependencyNotReadyError, RenderError

VARIABLE_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
DISABLED = "disabled"

_NAME = re.compile(r"\w+")
_GLOB_TOKEN = re.compile(
    r"\\(?P<escaped>.)|(?P<star>\*)|(?P<one>\?)|\[(?P<negate>\^?)(?P<chars>(?:\\.|[^\]\\])+)\]|(?P<other>.)", re.DOTALL
)


class _SyntaxProblem(Exception):
    def __init__(self, reason: str, start: int) -> None:
        super().__init__(reason)
        self.start = start  # where the ${ of the expression is, to quote it in the error


class _UnsetVariable(Exception):
    """Raised in strict mode; ``args[0]`` is the variable's name."""


@lru_cache(maxsize=16)
def _special_characters(characters: str) -> re.Pattern[str]:
    return re.compile("[" + re.escape(characters) + "]")


class _Expander:
    """One pass over the text, expanding each ``${...}`` as it is read."""

    def __init__(self, text: str, lookup: Callable[[str], str | None]) -> None:
        self.text, self.pos, self.lookup = text, 0, lookup

    def expand(self, stop: str = "", escapes: str = "$") -> str:
        """Text up to a character in ``stop`` (left unread), with nested expressions expanded."""
        text, out = self.text, []
        special = _special_characters(stop + "$" + escapes)
        while True:
            match = special.search(text, self.pos)
            end = match.start() if match else len(text)
            out.append(text[self.pos : end])
            self.pos = end
            if match is None or text[end] in stop:
                return "".join(out)
            pair = text[end : end + 2]
            if pair == "${":
                self.pos = end + 2
                out.append(self._expression(end))
            elif pair in ("$$", "\\/", "\\\\") and pair[0] in escapes:
                out.append(pair[1])
                self.pos = end + 2
            else:
                out.append(text[end])
                self.pos = end + 1

    def _expression(self, start: int) -> str:
        text = self.text
        if text.startswith("#", self.pos):
            self.pos += 1
            name = self._name(start)
            self._close(start)
            return str(len(self._value(name).encode()))
        name = self._name(start)
        op = text[self.pos : self.pos + 2]
        head = op[:1]
        if head == "}":
            self.pos += 1
            return self._value(name)
        if op in (":=", ":-", ":?", ":+") or head == "=":
            self.pos += 2 if head == ":" else 1
            default = self.expand("}", escapes="")
            self._close(start)
            return self._value(name, has_default=True) or default
        if head == ":":
            self.pos += 1
            offset = self._argument(":}", start)
            length = None
            if text.startswith(":", self.pos):
                self.pos += 1
                length = self._argument("}", start)
            self._close(start)
            return _substring(self._value(name), offset, length)
        if head in (",", "^"):
            kind = op if op[1:] in (",", "^") else head
            self.pos += len(kind)
            self._close(start)
            return _change_case(self._value(name), kind)
        if head == "/":
            kind = op if op[1:] in ("/", "#", "%") else head
            self.pos += len(kind)
            pattern = self._argument("/}", start, escapes="$\\")
            if not text.startswith("/", self.pos):
                raise _SyntaxProblem("bad substitution", start)
            while text.startswith("/", self.pos):
                self.pos += 1
            replacement = None if text.startswith("}", self.pos) else self._argument("}", start, escapes="$\\")
            self._close(start)
            return _replace(self._value(name), kind, pattern, replacement)
        if head in ("#", "%"):
            kind = op if op[1:] == head else head
            self.pos += len(kind)
            pattern = self._argument("}", start)
            self._close(start)
            return _trim(self._value(name), kind, pattern)
        raise _SyntaxProblem("missing closing brace", start)

    def _name(self, start: int) -> str:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise _SyntaxProblem("unable to parse variable name", start)
        self.pos = match.end()
        return match.group()

    def _argument(self, stop: str, start: int, escapes: str = "") -> str:
        begin = self.pos
        value = self.expand(stop, escapes)
        if self.pos == begin:
            raise _SyntaxProblem("unable to parse substitution within function", start)
        return value

    def _close(self, start: int) -> None:
        if not self.text.startswith("}", self.pos):
            raise _SyntaxProblem("missing closing brace", start)
        self.pos += 1

    def _value(self, name: str, has_default: bool = False) -> str:
        value = self.lookup(name)
        if value is None:
            if has_default:
                return ""
            raise _UnsetVariable(name)
        return value


def _substring(value: str, offset: str, length: str | None) -> str:
    # Go slices bytes, and an offset or length that is not an integer leaves the value alone.
    if not all(re.fullmatch(r"[-+]?[0-9]+", arg) for arg in (offset, length or "0")):
        return value
    data, pos, count = value.encode(), int(offset), None if length is None else int(length)
    pos = max(len(data) + pos, 0) if pos < 0 else pos
    if count is not None and count < 0:
        return ""
    return data[pos : None if count is None else pos + count].decode(errors="replace")


def _change_case(value: str, kind: str) -> str:
    if kind in (",,", "^^"):
        return value.lower() if kind == ",," else value.upper()
    if kind in (",", "^"):
        return (value[:1].lower() if kind == "," else value[:1].upper()) + value[1:]
    return value  # a mix such as ",^" parses but changes nothing, as in Flux


def _replace(value: str, kind: str, pattern: str, replacement: str | None) -> str:
    if replacement is None:
        if kind in ("/#", "/%"):
            return value
        replacement = ""
    if kind == "/#":
        return replacement + value[len(pattern) :] if value.startswith(pattern) else value
    if kind == "/%":
        return value[: -len(pattern)] + replacement if value.endswith(pattern) else value
    return value.replace(pattern, replacement, 1 if kind == "/" else -1)


def _trim(value: str, kind: str, pattern: str) -> str:
    glob = _glob(pattern)
    if glob is None:
        return value
    if kind[0] == "#":
        prefixes = range(len(value), 0, -1) if kind == "##" else range(1, len(value) + 1)
        return next((value[cut:] for cut in prefixes if glob.fullmatch(value[:cut])), value)
    suffixes = range(len(value)) if kind == "%%" else range(len(value) - 1, -1, -1)
    return next((value[:cut] for cut in suffixes if glob.fullmatch(value[cut:])), value)


def _glob(pattern: str) -> re.Pattern[str] | None:
    """Go's path.Match as a regex: ``*`` and ``?`` stop at ``/``; None when the pattern cannot compile."""
    parts = []
    for token in _GLOB_TOKEN.finditer(pattern):
        kind = token.lastgroup or "other"
        if kind in ("star", "one"):
            parts.append("[^/]*" if kind == "star" else "[^/]")
        elif kind == "chars":
            body = re.sub(r"\\(.)|([^-])", lambda m: re.escape(m.group(1) or m.group(2)), token["chars"])
            parts.append("[" + token["negate"] + body + "]")
        else:
            parts.append(re.escape(token[kind]))
    try:
        return re.compile("".join(parts))
    except re.error:
        return None


def substitute(text: str, variables: Mapping[str, str], *, strict: bool, origin: str) -> str:
    """Expand the expressions in ``text``; RenderError names ``origin`` and the variable or expression.

    Without ``strict`` an unset variable becomes the empty string, as in Flux; with it, an unset
    variable without a default is an error.
    """
    _check_names(variables, origin)
    if "$" not in text:
        return text

    def lookup(name: str) -> str | None:
        return variables.get(name, None if strict else "")

    try:
        return _Expander(text, lookup).expand()
    except _UnsetVariable as e:
        raise RenderError(
            f"{origin}: variable {e.args[0]!r} is not set and has no default (strict substitution)"
        ) from e
    except _SyntaxProblem as e:
        near = text[e.start : e.start + 60].split("\n", 1)[0]
        raise RenderError(f"{origin}: variable substitution failed: {e} in {near!r}") from e


def substitute_object(obj: Resource, variables: Mapping[str, str], *, strict: bool, origin: str) -> Resource:
    """``obj`` with its variables substituted, unless it is labelled or annotated ``substitute: disabled``."""
    meta = obj.get("metadata")
    marks = [meta.get("labels"), meta.get("annotations")] if isinstance(meta, dict) else []
    if any(isinstance(m, dict) and m.get(SUBSTITUTE_ANNOTATION) == DISABLED for m in marks):
        return obj
    where = f"{ObjectKey.of(obj)} in {origin}"
    _check_names(variables, where)
    if not _mentions_dollar(obj):
        return obj  # nothing to expand: skip the YAML round trip, the slow part for large sets
    result = substitute(goyaml.dump(obj), variables, strict=strict, origin=where)
    try:
        docs = goyaml.load(result)
    except YAMLError as e:
        raise RenderError(f"{where}: the substituted object is not valid YAML: {str(e).splitlines()[0]}") from e
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise RenderError(f"{where}: the substituted object is no longer one YAML mapping")
    return docs[0]


def _check_names(variables: Mapping[str, str], origin: str) -> None:
    for name in variables:
        if not VARIABLE_NAME.fullmatch(name):
            raise RenderError(f"{origin}: variable name {name!r} is invalid: it must match {VARIABLE_NAME.pattern}")


def _mentions_dollar(value: object) -> bool:
    if isinstance(value, dict):
        return any(_mentions_dollar(k) or _mentions_dollar(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_mentions_dollar, value))
    return isinstance(value, str) and "$" in value


def merge_variables(
    kustomization: Kustomization, lookups: Mapping[tuple[str, str], Mapping[str, str] | None]
) -> dict[str, str]:
    """The variables Flux substitutes: ``substituteFrom`` in order (later wins), then ``substitute``.

    ``lookups`` maps ``(kind, name)`` to the ConfigMap's ``data`` or the Secret's decoded ``data``,
    or to None when the object does not exist in the Kustomization's namespace. Newlines are
    removed from values, as Flux does.
    """
    post_build = kustomization.spec.post_build
    if post_build is None:
        return {}
    namespace, variables = kustomization.metadata.namespace, {}
    for index, ref in enumerate(post_build.substitute_from):
        data = lookups.get((ref.kind, ref.name))
        if data is None:
            if ref.optional:
                continue
            # Retryable, as in Flux: the ConfigMap may be applied by another Kustomization shortly.
            raise DependencyNotReadyError(
                f"Kustomization {namespace}/{kustomization.metadata.name}: field spec.postBuild.substituteFrom"
                f"[{index}]: {ref.kind} {namespace}/{ref.name} not found (set optional: true to allow that)"
            )
        variables.update({key: value.replace("\n", "") for key, value in data.items()})
    variables.update({key: value.replace("\n", "") for key, value in post_build.substitute.items()})
    return variables
