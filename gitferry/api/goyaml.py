"""YAML read and written the way Flux's Go code does it (yaml.v2 through sigs.k8s.io/yaml).

Flux never sees the source text of an object: kustomize hands it over as JSON turned back into
YAML, and Flux reads the result with yaml.v2, whose plain scalars follow YAML 1.1 (``yes`` and
``on`` are booleans, ``0755`` is octal). Python's YAML libraries follow 1.2, so the substitution
and the reading of kustomize's output go through here to give the same types Flux gives.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode
from ruamel.yaml.representer import SafeRepresenter

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_INFINITIES = {
    ".inf": 1,
    ".Inf": 1,
    ".INF": 1,
    "+.inf": 1,
    "+.Inf": 1,
    "+.INF": 1,
    "-.inf": -1,
    "-.Inf": -1,
    "-.INF": -1,
}
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def go_scalar(text: str) -> Any:
    """The value of a plain (unquoted) scalar as Flux reads it: Go's yaml.v2, then JSON.

    YAML 1.1 booleans (``yes``, ``on``, ``y``), ``0755`` as octal, ``1_000``; timestamps stay
    strings; an integral float becomes an int, because JSON writes it without a fraction.
    """
    if text in _NULLS:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if text in _INFINITIES:
        return float("inf") * _INFINITIES[text]
    if text in (".nan", ".NaN", ".NAN"):
        return float("nan")
    if text[0] not in "+-.0123456789":
        return text
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        digits = plain.lstrip("+-")
        octal = len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()
        number = int(digits, 8 if octal else 0) * (-1 if plain[0] == "-" else 1)
        if -(2**63) <= number < 2**64:
            return number
    if _GO_FLOAT.fullmatch(plain):
        real = float(plain)
        return int(real) if real.is_integer() and abs(real) < 1e21 else real
    return text


def _construct(node: Any) -> Any:
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node)
            # JSON keys are strings: Go writes true, 1, null for non-string keys.
            out[key if isinstance(key, str) else json.dumps(key)] = _construct(value_node)
        return out
    if isinstance(node, SequenceNode):
        return [_construct(item) for item in node.value]
    return go_scalar(node.value) if node.style is None else node.value


def load(text: str) -> list[Any]:
    """Every document in ``text``, typed as Flux types them (see ``go_scalar``); raises YAMLError.

    Merge keys (``<<``) are not expanded: neither kustomize's output nor a substitution has them.
    """
    reader = YAML(typ="safe", pure=True)
    try:
        return [_construct(node) for node in reader.compose_all(text) if node is not None]
    except RecursionError as e:  # an alias inside its own anchor, or absurd nesting
        raise YAMLError("recursive or too deeply nested YAML") from e


class _PlainAsGoRepresenter(SafeRepresenter):
    """Writes strings plain where Go's YAML would, and quoted where a plain one would change type."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_str(self, data: str) -> Any:
        style = "|" if "\n" in data else None if isinstance(go_scalar(data), str) else '"'
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PlainAsGoRepresenter.add_representer(str, _PlainAsGoRepresenter.represent_str)


def dump(obj: Any) -> str:
    """``obj`` as block YAML with sorted keys, as kustomize hands it to Flux's substitution."""
    writer = YAML(typ="safe", pure=True)
    writer.Representer = _PlainAsGoRepresenter
    writer.default_flow_style = False
    writer.width = 1 << 30  # never fold a line: a fold inside ${...} would change the expression
    stream = io.StringIO()
    writer.dump(obj, stream)
    return stream.getvalue()
