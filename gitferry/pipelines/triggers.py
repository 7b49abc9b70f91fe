"""Which ``.tekton/`` PipelineRuns a push starts, as Pipelines-as-Code decides it. Pure.

A PipelineRun in the repository's ``.tekton/`` folder runs on a push when its annotations say so:
``pipelinesascode.tekton.dev/on-event: "[push]"`` and ``.../on-target-branch: "[main, release-*]"``
(glob patterns; ``refs/heads/main`` works too). ``{{ revision }}``-style placeholders in the file are
filled in before it is parsed. A commit message with ``[skip ci]``, ``[ci skip]``, ``[skip tkn]`` or
``[tkn skip]`` starts nothing, so the image automation's own commits never start a loop.
``.../max-keep-runs: "5"`` keeps the five newest finished runs of that PipelineRun once one succeeds.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gitferry.errors import InvalidObjectError

PAC = "pipelinesascode.tekton.dev/"
ON_EVENT = PAC + "on-event"
ON_TARGET_BRANCH = PAC + "on-target-branch"
ON_CEL_EXPRESSION = PAC + "on-cel-expression"
MAX_KEEP_RUNS = PAC + "max-keep-runs"
SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[skip tkn]", "[tkn skip]")
PUSH = "push"

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


@dataclass(frozen=True)
class PushEvent:
    """A branch that moved: what Pipelines-as-Code offers as ``{{ ... }}`` variables."""

    repo_url: str
    branch: str
    revision: str
    sender: str = ""
    message: str = ""

    def variables(self, custom: Mapping[str, str] | None = None) -> dict[str, str]:
        owner, _, name = self.repo_url.removesuffix(".git").rstrip("/").rpartition("/")
        out = {
            "repo_url": self.repo_url,
            "repo_owner": owner.rpartition("/")[2].rpartition(":")[2],
            "repo_name": name,
            "revision": self.revision,
            "source_branch": self.branch,
            "target_branch": self.branch,
            "sender": self.sender,
            "event_type": PUSH,
            "source_url": self.repo_url,
            "git_auth_secret": "",
        }
        return {**out, **(custom or {})}


def skips_ci(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in SKIP_MARKERS)


def annotation_list(value: str) -> list[str]:
    """``"[push, pull_request]"`` or ``"push"``: the items, trimmed."""
    inner = value.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("\"'") for item in inner.split(",") if item.strip()]


def runs_on_push(annotations: Mapping[str, str], branch: str) -> bool:
    """Whether a PipelineRun with these annotations runs for a push to ``branch``."""
    events = annotation_list(annotations.get(ON_EVENT, ""))
    if PUSH not in events:
        return False
    patterns = annotation_list(annotations.get(ON_TARGET_BRANCH, ""))
    return any(fnmatch.fnmatchcase(branch, p.removeprefix("refs/heads/")) for p in patterns)


def max_keep_runs(annotations: Mapping[str, str], where: str) -> int | None:
    """How many finished runs of this PipelineRun to keep (PaC's ``max-keep-runs``); None keeps all."""
    text = annotations.get(MAX_KEEP_RUNS)
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise InvalidObjectError(f"{where}: field metadata.annotations[{MAX_KEEP_RUNS}]: {text!r} is not a number >= 1")
    return int(text)


def fill(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``{{ name }}`` placeholders that have a value; leave the others as written (as PaC does)."""
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
