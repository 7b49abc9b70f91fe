"""Which tag an ImagePolicy selects: the pure decision of Flux's image-reflector-controller.

Given the tags an ImageRepository scan stored (in the order the registry listed them), Flux:

1. keeps the tags ``filterTags.pattern`` finds a match in (anywhere in the tag, Go regexp), and
   when ``extract`` is set, compares the expansion of the match instead of the tag; two tags
   with the same expansion keep the later one;
2. picks one value: ``semver`` the highest version the range allows, among tags that are strict
   semver (``v`` prefix allowed; equal versions keep the first listed); ``alphabetical`` the
   greatest string in byte order for ``asc`` and the least for ``desc``; ``numerical`` the
   greatest (``asc``) or least (``desc``) number, where equal numbers keep the later one and a
   single tag that is not a number fails the whole policy;
3. answers the original tag of that value.

An invalid range or pattern is the object's fault (InvalidObjectError: Flux stalls); finding
no tag is not (NoTagSelectedError: Flux retries, since the next scan may bring one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gitferry.api import semver
from gitferry.api.images import ImagePolicySpec
from gitferry.errors import GitferryError, InvalidObjectError
from gitferry.images import gosyntax


class NoTagSelectedError(GitferryError):
    """No tag qualifies under the policy: retry after the next scan (Flux: Ready=False, not Stalled)."""


@dataclass(frozen=True)
class Selection:
    """The tag to deploy and the value the policy compared (the tag after ``filterTags.extract``)."""

    tag: str
    value: str


# A chooser takes the candidate values in listing order and returns the winner, or raises.
Chooser = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy checked and compiled once, to be applied to many tag lists."""

    description: str  # "semver range '^1.0'", for messages
    choose: Chooser
    pattern: re.Pattern[str] | None = None
    extract: Callable[[re.Match[str]], str] | None = None

    def select(self, tags: Iterable[str]) -> Selection:
        """The tag this policy selects; NoTagSelectedError when none qualifies."""
        originals = self.filtered(tags)
        if not originals:
            where = f" matching filterTags.pattern '{self.pattern.pattern}'" if self.pattern is not None else ""
            raise NoTagSelectedError(f"no tags{where} to choose from with {self.description}")
        value = self.choose(list(originals))
        return Selection(tag=originals[value], value=value)

    def filtered(self, tags: Iterable[str]) -> dict[str, str]:
        """Compared value -> original tag, in listing order (a dict, as Flux keys its filter by value)."""
        if self.pattern is None:
            return {tag: tag for tag in tags}
        search, extract = self.pattern.search, self.extract
        out: dict[str, str] = {}
        for tag in tags:
            match = search(tag)
            if match is not None:
                out[extract(match) if extract is not None else tag] = tag
        return out


def compile_policy(spec: ImagePolicySpec) -> CompiledPolicy:
    """Check the range and pattern; InvalidObjectError quotes the bad value and names its field."""
    choice = spec.policy
    choose: Chooser
    if choice.semver is not None:
        text = choice.semver.range
        try:
            allowed = semver.parse_range(text)
        except ValueError as e:
            raise InvalidObjectError(f"spec.policy.semver.range '{text}' is not a valid semver range: {e}") from e
        description = f"semver range '{text}'"
        choose = _semver_chooser(allowed, description)
    elif choice.alphabetical is not None:
        description = f"alphabetical order {choice.alphabetical.order}"
        choose = _alphabetical_chooser(choice.alphabetical.order == "asc")
    else:
        assert choice.numerical is not None  # the model requires one of the three
        description = f"numerical order {choice.numerical.order}"
        choose = _numerical_chooser(choice.numerical.order == "asc")
    flt = spec.filter_tags
    if flt is None:
        return CompiledPolicy(description, choose)
    try:
        pattern = gosyntax.compile_pattern(flt.pattern)
    except ValueError as e:
        raise InvalidObjectError(
            f"spec.filterTags.pattern '{flt.pattern}' is not a valid regular expression: {e}"
        ) from e
    extract = gosyntax.compile_template(flt.extract, pattern) if flt.extract else None
    return CompiledPolicy(description, choose, pattern, extract)


def select_latest(spec: ImagePolicySpec, tags: Iterable[str]) -> Selection:
    """The tag ``spec`` selects from ``tags`` (listing order matters only for ties, as in Flux)."""
    return compile_policy(spec).select(tags)


def _semver_chooser(allowed: semver.Range, description: str) -> Chooser:
    def choose(values: Sequence[str]) -> str:
        best: str | None = None
        best_order: semver.VersionOrder | None = None
        parse, allows = semver.parse_version, allowed.allows
        for value in values:
            version = parse(value)
            # Only a strictly higher version replaces the best, so the first of equals stays.
            if version is None or (best_order is not None and version.order <= best_order):
                continue
            if allows(version):
                best, best_order = value, version.order
        if best is None:
            raise NoTagSelectedError(f"none of {len(values)} tags is a version allowed by {description}")
        return best

    return choose


def _alphabetical_chooser(ascending: bool) -> Chooser:
    # Go sorts strings by bytes; Python compares code points, which orders UTF-8 the same way.
    def choose(values: Sequence[str]) -> str:
        return max(values) if ascending else min(values)

    return choose


def _numerical_chooser(ascending: bool) -> Chooser:
    def choose(values: Sequence[str]) -> str:
        latest, latest_number = "", 0.0
        for index, value in enumerate(values):
            number = gosyntax.parse_float(value)
            if number is None:
                raise NoTagSelectedError(
                    f"tag '{value}' is not a number; numerical policies need every tag to be one"
                    " (narrow them with filterTags)"
                )
            # As Flux: a value is skipped only when strictly worse, so the later of equals wins.
            if index and (number < latest_number if ascending else number > latest_number):
                continue
            latest, latest_number = value, number
        return latest

    return choose
