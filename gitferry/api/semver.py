"""Semantic versions and ranges with the semantics of Go's Masterminds/semver v3.5, which Flux uses.

Two Flux controllers pick a tag this way: source-controller for a GitRepository's
``spec.ref.semver`` and image-reflector-controller for an ImagePolicy's ``spec.policy.semver``.
A tag must parse as a strict semantic version (an optional leading ``v`` allowed) to be
considered. Range syntax is Masterminds': ``||`` between alternatives, spaces or commas between
comparisons that must all hold, ``1.2 - 1.4.5`` hyphen ranges, ``x``/``X``/``*`` wildcards, ``~``
and ``^``. Prereleases are decided per alternative (Masterminds 3.4 and later): a prerelease
version is only considered by an alternative in which some comparison names a prerelease, so
``>=1.0.0`` never picks ``1.1.0-rc.1`` while ``>=1.0.0-0 <2.0.0`` does.

No I/O here: ``parse_range`` and ``Range.allows`` are the whole decision, tested with tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

# Strict semver 2.0.0 (no leading zeros in numbers or numeric prerelease identifiers).
_NUMBER = r"0|[1-9]\d*"
_PRERELEASE_ID = r"0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*"
_STRICT_VERSION = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>(?:{_PRERELEASE_ID})(?:\.(?:{_PRERELEASE_ID}))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)

# The version inside a range may be partial (``1``, ``1.2``) or hold wildcards (``1.x``).
_RANGE_VERSION = (
    r"v?(?:[0-9xX*]+)(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
# Order matters as in the Go original: alternatives are tried left to right with backtracking.
_OPERATORS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_ONE_COMPARISON = re.compile(rf"^\s*(?P<op>{_OPERATORS})\s*(?P<ver>{_RANGE_VERSION})\s*$")
_FIND_COMPARISON = re.compile(rf"({_OPERATORS})\s*({_RANGE_VERSION})")
_VALID_GROUP = re.compile(
    rf"^\s*(?:{_OPERATORS})\s*(?:{_RANGE_VERSION})\s*(?:(?:\s+|,\s*)(?:{_OPERATORS})\s*(?:{_RANGE_VERSION})\s*)*$"
)
_HYPHEN_RANGE = re.compile(rf"\s*({_RANGE_VERSION})\s+-\s+({_RANGE_VERSION})\s*")
_PARTS = re.compile(r"^v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_WILDCARDS = ("x", "X", "*")


# Precedence as a tuple: (major, minor, patch, (is_release, prerelease identifiers)).
VersionOrder = tuple[int, int, int, tuple[int, tuple[tuple[int, int, str], ...]]]


_RELEASE: tuple[int, tuple[tuple[int, int, str], ...]] = (1, ())


def _order(major: int, minor: int, patch: int, prerelease: str) -> VersionOrder:
    """Sort key in semver precedence; build metadata is ignored, a release sorts after its prereleases."""
    if not prerelease:
        return (major, minor, patch, _RELEASE)
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in prerelease.split("."))
    return (major, minor, patch, (0, ids))


class Version(NamedTuple):
    """A parsed version. A named tuple, not a dataclass: policies build one per tag, thousands at a time."""

    major: int
    minor: int
    patch: int
    prerelease: str
    original: str
    order: VersionOrder

    @classmethod
    def of(cls, major: int, minor: int, patch: int, prerelease: str = "", original: str = "") -> Version:
        return cls(major, minor, patch, prerelease, original, _order(major, minor, patch, prerelease))


def parse_version(tag: str) -> Version | None:
    """The version a tag names, or None when it is not strict semver (``v1.2.3`` is accepted)."""
    match = _STRICT_VERSION.match(tag, 1) if tag[:1] == "v" else _STRICT_VERSION.match(tag)
    if match is None:
        return None
    # Positional groups and an inlined release order: this runs once per tag of a whole registry.
    major_text, minor_text, patch_text, pre, _ = match.groups()
    major, minor, patch = int(major_text), int(minor_text), int(patch_text)
    if pre is None:
        return Version(major, minor, patch, "", tag, (major, minor, patch, _RELEASE))
    return Version(major, minor, patch, pre, tag, _order(major, minor, patch, pre))


_CHECKS = {
    "": "_equal",
    "=": "_equal",
    "!=": "_not_equal",
    ">": "_greater",
    "<": "_less",
    ">=": "_greater_equal",
    "=>": "_greater_equal",
    "<=": "_less_equal",
    "=<": "_less_equal",
    "~": "_tilde",
    "~>": "_tilde",
    "^": "_caret",
}


@dataclass(frozen=True)
class _Comparison:
    operator: str
    version: Version
    dirty: bool  # some part was a wildcard or left out
    minor_dirty: bool
    patch_dirty: bool

    def allows(self, v: Version) -> bool:
        """Whether ``v`` passes; the caller has already decided whether a prerelease may be considered."""
        check: Callable[[Version], bool] = getattr(self, _CHECKS[self.operator])
        return check(v)

    def _equal(self, v: Version) -> bool:
        return self._tilde(v) if self.dirty else v.order == self.version.order

    def _greater(self, v: Version) -> bool:
        con = self.version
        if not self.dirty:
            return v.order > con.order
        if v.major != con.major:
            return v.major > con.major
        if self.minor_dirty:
            return False
        return v.minor > con.minor if self.patch_dirty else v.order > con.order

    def _less(self, v: Version) -> bool:
        return v.order < self.version.order

    def _greater_equal(self, v: Version) -> bool:
        return v.order >= self.version.order

    def _less_equal(self, v: Version) -> bool:
        con = self.version
        if not self.dirty:
            return v.order <= con.order
        # A partial bound includes everything inside it (<=1.2 allows 1.2.9).
        if v.major > con.major:
            return False
        return not (v.major == con.major and v.minor > con.minor and not self.minor_dirty)

    def _not_equal(self, v: Version) -> bool:
        con = self.version
        if self.dirty:
            if con.major != v.major:
                return True
            if self.minor_dirty:
                return False
            if con.minor != v.minor:
                return True
            if self.patch_dirty:
                return (v.prerelease or con.prerelease) != "" and v.order[3] != con.order[3]
        return v.order != con.order

    def _tilde(self, v: Version) -> bool:
        con = self.version
        if v.order < con.order:
            return False
        if (con.major, con.minor, con.patch) == (0, 0, 0) and not self.minor_dirty and not self.patch_dirty:
            return True
        if v.major != con.major:
            return False
        return v.minor == con.minor or self.minor_dirty

    def _caret(self, v: Version) -> bool:
        con = self.version
        if v.order < con.order:
            return False
        if con.major > 0 or self.minor_dirty:
            return v.major == con.major
        if v.major > 0:
            return False
        if con.minor > 0 or self.patch_dirty:
            return v.minor == con.minor
        if v.minor > 0:
            return False
        return v.patch == con.patch


@dataclass(frozen=True)
class Range:
    """A parsed range: any alternative whose comparisons all allow the version."""

    text: str
    alternatives: tuple[tuple[_Comparison, ...], ...]

    # Masterminds 3.4+: one comparison naming a prerelease lets its whole alternative consider them.
    prerelease_wanted: tuple[bool, ...]

    def allows(self, version: Version) -> bool:
        is_prerelease = bool(version.prerelease)
        for group, wants_prerelease in zip(self.alternatives, self.prerelease_wanted, strict=True):
            if is_prerelease and not wants_prerelease:
                continue
            for comparison in group:
                if not comparison.allows(version):
                    break
            else:
                return True
        return False


def parse_range(text: str) -> Range:
    """Parse a Masterminds range; raise ValueError naming the part that is not understood."""
    rewritten = _HYPHEN_RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(2)} ", text)
    groups = []
    for group in rewritten.split("||"):
        if not _VALID_GROUP.match(group):
            raise ValueError(f"improper constraint: {group.strip() or text!r}")
        groups.append(tuple(_comparison(op + ver) for op, ver in _FIND_COMPARISON.findall(group)))
    wanted = tuple(any(c.version.prerelease for c in group) for group in groups)
    return Range(text, tuple(groups), wanted)


def _comparison(text: str) -> _Comparison:
    match = _ONE_COMPARISON.match(text)
    parts = _PARTS.match(match["ver"]) if match else None
    if match is None or parts is None:
        raise ValueError(f"improper constraint: {text}")
    major, minor, patch, pre = parts.group(1), (parts.group(2) or "")[1:], (parts.group(3) or "")[1:], parts.group(4)
    minor_dirty = patch_dirty = False
    if major in _WILDCARDS:
        numbers = (0, 0, 0)
    elif minor in _WILDCARDS or not minor:
        minor_dirty, numbers = True, (_number(major, text), 0, 0)
    elif patch in _WILDCARDS or not patch:
        patch_dirty, numbers = True, (_number(major, text), _number(minor, text), 0)
    else:
        numbers = (_number(major, text), _number(minor, text), _number(patch, text))
    dirty = major in _WILDCARDS or minor_dirty or patch_dirty
    return _Comparison(match["op"], Version.of(*numbers, prerelease=pre or ""), dirty, minor_dirty, patch_dirty)


def _number(part: str, text: str) -> int:
    if not part.isdigit():
        raise ValueError(f"improper constraint: {text}")
    return int(part)


def highest_matching(tags: Iterable[str], range_text: str) -> str | None:
    """The tag holding the highest version the range allows, or None when no tag matches.

    Tags that are not semantic versions are skipped. Equal versions (``v1.0.0`` and ``1.0.0``, or
    build metadata only) tie-break on the tag name, so the answer never depends on listing order.
    """
    allowed = parse_range(range_text)
    best: Version | None = None
    for tag in tags:
        version = parse_version(tag)
        if version is None or not allowed.allows(version):
            continue
        if best is None or (version.order, version.original) > (best.order, best.original):
            best = version
    return best.original if best else None


def order_of(tag: str) -> VersionOrder | None:
    """The precedence of the version a tag names, or None when it is not strict semver.

    Cheaper than ``parse_version``: a policy scanning a whole registry orders every tag but checks
    the range only for those that could beat the best so far.
    """
    match = _STRICT_VERSION.match(tag, 1) if tag[:1] == "v" else _STRICT_VERSION.match(tag)
    if match is None:
        return None
    major, minor, patch, pre, _ = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), _RELEASE)
    return _order(int(major), int(minor), int(patch), pre)
