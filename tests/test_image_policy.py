"""ImagePolicy tag selection, table-driven, against what Flux's image-reflector-controller does.

The tables restate the cases of Flux's own tests (internal/policy/*_test.go) plus the cases
where Go and Python differ: Masterminds' per-alternative prereleases, RE2 against Python's
``re``, ``Regexp.Expand`` against ``Match.expand``, ``strconv.ParseFloat`` against ``float``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gitferry.api.images import (
    DEFAULT_EXCLUSION_LIST,
    ImagePolicySpec,
    parse_image_policy,
    parse_image_repository,
    parse_image_update_automation,
)
from gitferry.cli.main import app
from gitferry.errors import InvalidObjectError
from gitferry.images import gosyntax, policy

runner = CliRunner()


def spec(choice: dict[str, Any], pattern: str | None = None, extract: str = "") -> ImagePolicySpec:
    raw: dict[str, Any] = {"imageRepositoryRef": {"name": "app"}, "policy": choice}
    if pattern is not None:
        raw["filterTags"] = {"pattern": pattern, "extract": extract}
    return ImagePolicySpec.model_validate(raw)


def select(choice: dict[str, Any], tags: list[str], pattern: str | None = None, extract: str = "") -> str | None:
    try:
        return policy.select_latest(spec(choice, pattern, extract), tags).tag
    except policy.NoTagSelectedError:
        return None


def semver(text: str) -> dict[str, Any]:
    return {"semver": {"range": text}}


# --- semver ------------------------------------------------------------------------------------

FLUX_TAGS = ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"]
MIXED = ["v1.0.0", "v1.0.9", "v1.1.0", "v1.4.2", "1.10.0", "v2.0.0", "v2.1.0-rc.1", "0.9.0", "latest", "v1.5"]


@pytest.mark.parametrize(
    ("range_text", "tags", "expected"),
    [
        # Flux's table: junk around strict versions, a "v" prefix kept in the answer, no match.
        ("1.0.x", FLUX_TAGS, "1.0.1"),
        ("1.0.x", ["v1.2.3", "v1.0.0", "v0.1.0"], "v1.0.0"),
        ("1.0.x", ["b1.2.3", "b1.0.0", "b0.1.0"], None),
        ("1.0.x", [], None),
        ("1.0.x", ["1.2.0"], None),
        # The range forms Flux's docs and tests use.
        ("^1.0", MIXED, "1.10.0"),
        ("~1.0", MIXED, "v1.0.9"),
        (">=1.0 <2.0", MIXED, "1.10.0"),
        (">0,<2.0", MIXED, "1.10.0"),
        ("=1.0.0", MIXED, "v1.0.0"),
        (">=1.0", MIXED, "v2.0.0"),
        ("*", MIXED, "v2.0.0"),
        ("<1.0.0 || >=2.0.0", MIXED, "v2.0.0"),
        ("1.1.0 - 1.4.2", MIXED, "v1.4.2"),
        # Prereleases: only an alternative that names one considers them (Masterminds 3.4+).
        (">=2.0.0", MIXED, "v2.0.0"),
        (">=2.0.0-0", MIXED, "v2.1.0-rc.1"),
        (">=2.0.0-0 <3.0.0", MIXED, "v2.1.0-rc.1"),
        ("<1.0.0 || >=2.0.0-0 <3.0.0", MIXED, "v2.1.0-rc.1"),
        ("^2.0.0-0 || <1.0.0", ["v2.1.0-rc.1", "v2.0.5"], "v2.1.0-rc.1"),
        (">=1.0.0-0", ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1"], "1.0.0-rc.1"),
        # Only strict semver counts: leading zeros, partial versions, a double "v" are skipped.
        ("*", ["01.0.0", "1.0", "vv1.0.0", "1.0.0-01", "V1.0.0", "1.0.0 "], None),
        # Equal versions: the first listed stays, as Flux keeps its best unless a later one is greater.
        ("1.0.0", ["1.0.0", "v1.0.0"], "1.0.0"),
        ("1.0.0", ["v1.0.0", "1.0.0"], "v1.0.0"),
        ("^1", ["1.0.0+build.2", "1.0.0+build.1"], "1.0.0+build.2"),
    ],
)
def test_semver(range_text: str, tags: list[str], expected: str | None) -> None:
    assert select(semver(range_text), tags) == expected


@pytest.mark.parametrize("range_text", ["1.0.0p", "1x", "x1", "-1", "a", "", "*-*", ">= 1.0 <"])
def test_invalid_semver_range_names_field_and_value(range_text: str) -> None:
    with pytest.raises(InvalidObjectError, match=re.escape("spec.policy.semver.range")) as caught:
        policy.compile_policy(spec(semver(range_text)))
    assert f"'{range_text}'" in str(caught.value)


# --- alphabetical ------------------------------------------------------------------------------

UBUNTU = ["16.04", "16.04.1", "16.10", "20.04", "20.10"]
CODENAMES = ["xenial", "yakkety", "zesty", "artful", "bionic"]
UNIX = ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"]
RFC3339 = ["2021-01-08T21-18-21Z", "2020-05-08T21-18-21Z", "2021-01-08T19-20-00Z", "1990-01-08T00-20-00Z"]
MINIO = ["RELEASE.2023-01-01T00-00-00Z", "RELEASE.2023-11-20T22-40-07Z", "RELEASE.2022-12-31T23-59-59Z"]


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        ("asc", UBUNTU, "20.10"),
        ("desc", UBUNTU, "16.04"),
        ("asc", CODENAMES, "zesty"),
        ("desc", CODENAMES, "artful"),
        ("asc", UNIX, "1606364286"),
        ("desc", UNIX, "1606234201"),
        ("asc", ["rel-" + t for t in UNIX], "rel-1606364286"),
        ("asc", RFC3339, "2021-01-08T21-18-21Z"),
        ("desc", RFC3339, "1990-01-08T00-20-00Z"),
        ("asc", MINIO, "RELEASE.2023-11-20T22-40-07Z"),
        ("desc", MINIO, "RELEASE.2022-12-31T23-59-59Z"),
        # Byte order, not natural order: upper case sorts before lower, "9" after "10".
        ("asc", ["9", "10", "Zed", "apple"], "apple"),
        ("desc", ["9", "10", "Zed", "apple"], "10"),
        ("asc", [], None),
    ],
)
def test_alphabetical(order: str, tags: list[str], expected: str | None) -> None:
    assert select({"alphabetical": {"order": order}}, tags) == expected


def test_alphabetical_order_defaults_to_asc() -> None:
    assert select({"alphabetical": {}}, CODENAMES) == "zesty"


# --- numerical ---------------------------------------------------------------------------------

INTS = ["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"]
FLOATS = ["47.40896403322944", "-27.8520927455902", "53.47333823144817", "-50.41072694704882", "3.2008658570411086"]


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        ("asc", INTS, "73"),
        ("desc", INTS, "-91"),
        ("asc", list(reversed(INTS)), "73"),
        ("asc", FLOATS, "53.47333823144817"),
        ("desc", FLOATS, "-50.41072694704882"),
        ("asc", UNIX, "1606364286"),
        ("desc", UNIX, "1606234201"),
        ("asc", ["1"], "1"),
        ("desc", ["1"], "1"),
        # Equal numbers: the later one wins, as Flux replaces its best unless strictly worse.
        ("asc", ["1", "1.0", "01"], "01"),
        ("desc", ["1.0", "1"], "1"),
        # Go's float syntax: underscores between digits, exponents, hex with a "p" exponent.
        ("asc", ["1_000", "999", "1e3", "0x1p3"], "1e3"),
        ("desc", ["1_000", "999", "-Inf"], "-Inf"),
        ("asc", [], None),
        # One tag that is not a number fails the whole policy (Flux: "failed to parse").
        ("asc", ["0", "1a", "b"], None),
        ("asc", ["1", "latest"], None),
    ],
)
def test_numerical(order: str, tags: list[str], expected: str | None) -> None:
    assert select({"numerical": {"order": order}}, tags) == expected


def test_numerical_names_the_tag_that_is_not_a_number() -> None:
    with pytest.raises(policy.NoTagSelectedError, match="tag 'latest' is not a number"):
        policy.select_latest(spec({"numerical": {}}), ["1", "latest"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42.0),
        ("-1.5", -1.5),
        ("1_000.5", 1000.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e-3", 0.001),
        ("0x1p-2", 0.25),
        ("0x_1.8p1", 3.0),
        ("+Inf", math.inf),
        ("infinity", math.inf),
        # Python's float() takes these; Go's ParseFloat does not.
        (" 1", None),
        ("1 ", None),
        ("\u0663", None),
        ("+nan", None),
        ("0x10", None),
        ("1e400", None),
        ("1__0", None),
        ("_1", None),
        ("1_", None),
        ("1_.5", None),
        ("", None),
        (".", None),
        ("1e", None),
        ("infinit", None),
    ],
)
def test_go_parse_float(text: str, expected: float | None) -> None:
    assert gosyntax.parse_float(text) == expected


def test_go_parse_float_nan() -> None:
    assert math.isnan(gosyntax.parse_float("NaN") or 0.0)


# --- filterTags --------------------------------------------------------------------------------

DEBUG = ["123-123.123.abcd123-debug", "123-123.123.abcd123", "123-123.123.abcd456-debug", "123-123.123.abcd456"]


@pytest.mark.parametrize(
    ("tags", "pattern", "extract", "expected"),
    [
        # Flux's filter table: what survives the filter, as {compared value: original tag}.
        (["a"], "", "", {"a": "a"}),
        (["ver1", "ver2", "ver3", "rel1"], "^ver", "", {"ver1": "ver1", "ver2": "ver2", "ver3": "ver3"}),
        (["ver1", "ver2", "ver3", "rel1"], r"ver(\d+)", "$1", {"1": "ver1", "2": "ver2", "3": "ver3"}),
        (DEBUG, r"^(123-[0-9]+\.[0-9]+\.[a-z0-9]+-debug)", "", {DEBUG[0]: DEBUG[0], DEBUG[2]: DEBUG[2]}),
        # Both "-debug" and plain tags expand to the plain name; the later (plain) original is kept.
        (DEBUG, r"^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+[^-debug])", "$tag", {DEBUG[1]: DEBUG[1], DEBUG[3]: DEBUG[3]}),
        (DEBUG, r"^(?P<tag>123-[0-9]+\.[0-9]+\.[a-z0-9]+$)", "$tag", {DEBUG[1]: DEBUG[1], DEBUG[3]: DEBUG[3]}),
        # The match may be anywhere in the tag; Go's (?<name>) spelling works too.
        (["x-main-1", "main-2"], "main-(?<n>[0-9])", "${n}", {"1": "x-main-1", "2": "main-2"}),
        # Two tags with the same expansion: the later one is kept.
        (["a-1", "b-1"], "-(?P<n>[0-9])$", "$n", {"1": "b-1"}),
    ],
)
def test_filter_tags(tags: list[str], pattern: str, extract: str, expected: dict[str, str]) -> None:
    compiled = policy.compile_policy(spec({"alphabetical": {}}, pattern, extract))
    assert compiled.filtered(tags) == expected


MAIN = ["main-1a2b3c4-1700000300", "main-ffee001-1700000100", "main-abcdef0-900", "feature-aaaa-1800000000", "latest"]


@pytest.mark.parametrize(
    ("choice", "pattern", "extract", "expected"),
    [
        ({"numerical": {"order": "asc"}}, r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts", "main-1a2b3c4-1700000300"),
        ({"numerical": {"order": "desc"}}, r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts", "main-abcdef0-900"),
        # Without extract, numerical would fail on "main-..."; alphabetical compares whole tags.
        ({"alphabetical": {}}, r"^main-", "", "main-ffee001-1700000100"),
        ({"numerical": {}}, r"^main-", "", None),
        ({"semver": {"range": "^1"}}, r"^app-(?P<v>.+)$", "$v", "app-v1.2.0"),
        ({"alphabetical": {}}, r"^nothing$", "", None),
    ],
)
def test_filter_then_policy(choice: dict[str, Any], pattern: str, extract: str, expected: str | None) -> None:
    tags = [*MAIN, "app-v1.2.0", "app-1.1.0", "app-v2.0.0"]
    assert select(choice, tags, pattern, extract) == expected


def test_selection_reports_the_compared_value() -> None:
    chosen = policy.select_latest(spec({"numerical": {}}, r"-(?P<ts>[0-9]+)$", "$ts"), MAIN)
    assert (chosen.tag, chosen.value) == ("feature-aaaa-1800000000", "1800000000")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?=main)", "not RE2 syntax"),
        ("(?<=v)1", "not RE2 syntax"),
        ("(?P=x)", "not RE2 syntax"),
        ("(?#note)x", "not RE2 syntax"),
        ("(?x) a", "not RE2 syntax"),
        ("(a)\\1", "backreferences"),
        ("a\\Z", "invalid escape"),
        ("a*+", "nested repetition"),
        ("a{1001}", "repeat count"),
        ("a(?i)b", "flags"),
        ("\\pL", "not supported yet"),
        ("[a-", "missing closing ]"),
        ("(unclosed", "missing ), unterminated subpattern"),
    ],
)
def test_invalid_pattern_names_field_and_value(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidObjectError, match=re.escape("spec.filterTags.pattern")) as caught:
        policy.compile_policy(spec({"alphabetical": {}}, pattern))
    assert f"'{pattern}'" in str(caught.value)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("pattern", "python"),
    [
        ("(?<ts>[0-9]+)\\z", "(?P<ts>[0-9]+)\\Z"),
        ("a{,3}", "a\\{,3}"),
        ("[[:alpha:]_]+", "[A-Za-z_]+"),
        ("\\Qv1.0\\E", "v1\\.0"),
        ("\\x{41}", "\\U00000041"),
        ("[a&&b]", "[a\\&\\&b]"),
        ("(?i)main-(?s:.)*?", "(?i)main-(?s:.)*?"),
    ],
)
def test_re2_translation(pattern: str, python: str) -> None:
    assert gosyntax.translate(pattern) == python


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$ts", "42"),
        ("${ts}x", "42x"),
        ("$tsx", ""),  # the longest name wins, as in Go: "tsx" is no group
        ("$1", "ab"),
        ("$2", "42"),
        ("$01", ""),  # Go reads "01" as a name, not a number
        ("$0", "main-ab-42"),
        ("$9", ""),
        ("$$ts", "$ts"),
        ("v$", "v$"),
        ("${", "${"),
        ("$sha-$ts", "ab-42"),
    ],
)
def test_extract_expands_like_go(template: str, expected: str) -> None:
    pattern = gosyntax.compile_pattern("^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)")
    match = pattern.search("main-ab-42")
    assert match is not None
    assert gosyntax.compile_template(template, pattern)(match) == expected


# --- the models --------------------------------------------------------------------------------


def policy_doc(**spec_fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "^1"}}}
    body.update(spec_fields)
    return {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": "apps"},
        "spec": body,
    }


def test_image_policy_parses_with_flux_defaults() -> None:
    obj = parse_image_policy(policy_doc(policy={"alphabetical": {}}), "p.yaml")
    assert obj.spec.policy.kind == "alphabetical"
    assert obj.spec.policy.alphabetical is not None and obj.spec.policy.alphabetical.order == "asc"
    assert obj.spec.digest_reflection_policy == "Never"
    assert str(obj.repository_key()) == str(obj.key).replace("ImagePolicy", "ImageRepository")
    assert obj.interval_seconds is None


def test_several_policies_are_accepted_and_semver_wins_as_in_flux() -> None:
    obj = parse_image_policy(policy_doc(policy={"numerical": {}, "semver": {"range": "^1"}}))
    assert obj.spec.policy.kind == "semver"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"policy": {}}, "field spec.policy: Value error, one of semver, alphabetical or numerical is required"),
        ({"policy": {"alphabetical": {"order": "ASC"}}}, "field spec.policy.alphabetical.order"),
        ({"policy": {"semver": {}}}, "field spec.policy.semver.range: Field required"),
        ({"policy": {"semver": {"range": "^1", "ranges": "x"}}}, "field spec.policy.semver.ranges: unknown field"),
        ({"filterTags": {"pattern": "x", "extrakt": "$1"}}, "field spec.filterTags.extrakt: unknown field"),
        ({"interval": "5m"}, "spec.interval applies only with spec.digestReflectionPolicy: Always"),
        ({"digestReflectionPolicy": "Always"}, "spec.digestReflectionPolicy: Always needs spec.interval"),
        ({"digestReflectionPolicy": "Always", "interval": "5x"}, "invalid duration '5x'"),
        ({"imageRepositoryRef": {}}, "field spec.imageRepositoryRef.name: Field required"),
    ],
)
def test_invalid_image_policy_names_file_and_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidObjectError, match=re.escape("ImagePolicy app in p.yaml")) as caught:
        parse_image_policy(policy_doc(**fields), "p.yaml")
    assert message in str(caught.value)


def test_digest_reflection_always_has_its_own_interval() -> None:
    obj = parse_image_policy(policy_doc(digestReflectionPolicy="Always", interval="10m"))
    assert obj.interval_seconds == 600.0


def test_image_repository_defaults_and_unsupported_fields() -> None:
    raw = {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": {"name": "app"},
        "spec": {"image": "127.0.0.1:5000/app", "interval": "1m", "insecure": True},
    }
    repo = parse_image_repository(raw)
    assert repo.spec.exclusion_list == DEFAULT_EXCLUSION_LIST == ["^.*\\.sig$"]
    assert (repo.spec.timeout_seconds, repo.spec.provider, repo.unsupported_fields()) == (60.0, "generic", [])
    raw["spec"] |= {"provider": "aws", "certSecretRef": {"name": "ca"}, "timeout": "30s"}
    assert parse_image_repository(raw).unsupported_fields() == ["spec.certSecretRef", "spec.provider=aws"]
    raw["spec"] |= {"timeout": "1h"}  # Flux's CRD allows no hours in a timeout
    with pytest.raises(InvalidObjectError, match=re.escape("field spec.timeout")):
        parse_image_repository(raw)
    raw["spec"] = {"image": "https://ghcr.io/app", "interval": "1m"}
    with pytest.raises(InvalidObjectError, match="without a URL scheme"):
        parse_image_repository(raw)


def test_image_update_automation_parses_flux_docs_example() -> None:
    raw = {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageUpdateAutomation",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "interval": "30m",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "git": {
                "checkout": {"ref": {"branch": "main"}},
                "commit": {
                    "author": {"email": "fluxcdbot@users.noreply.github.com", "name": "fluxcdbot"},
                    "messageTemplate": "{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}",
                },
                "push": {"branch": "image-updates"},
            },
            "update": {"path": "./clusters/my-cluster", "strategy": "Setters"},
        },
    }
    auto = parse_image_update_automation(raw)
    assert auto.spec.git is not None and auto.spec.git.checkout is not None
    assert auto.spec.git.checkout.ref.branch == "main"
    assert auto.spec.git.push is not None and auto.spec.git.push.branch == "image-updates"
    assert (auto.spec.update.path, auto.spec.interval_seconds, auto.unsupported_fields()) == (
        "./clusters/my-cluster",
        1800.0,
        [],
    )
    assert str(auto.source_key()).startswith("GitRepository")
    raw["spec"]["git"]["commit"]["signingKey"] = {"secretRef": {"name": "gpg"}}
    raw["spec"]["git"]["push"]["options"] = {"ci.skip": ""}
    assert parse_image_update_automation(raw).unsupported_fields() == [
        "spec.git.commit.signingKey",
        "spec.git.push.options",
    ]
    raw["spec"]["update"] = {"strategy": "Regex"}
    with pytest.raises(InvalidObjectError, match=re.escape("field spec.update.strategy")):
        parse_image_update_automation(raw)


# --- the CLI -----------------------------------------------------------------------------------

POLICY_YAML = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
"""


def run_policy_test(tmp_path: Path, policy_yaml: str, tags: str, *extra: str) -> tuple[int, str, str]:
    (tmp_path / "policy.yaml").write_text(policy_yaml)
    (tmp_path / "tags.txt").write_text(tags)
    args = ["image", "policy", "test", "--policy", str(tmp_path / "policy.yaml"), "--tags", str(tmp_path / "tags.txt")]
    result = runner.invoke(app, [*args, *extra], env={"COLUMNS": "300"})
    return result.exit_code, result.stdout, result.stderr


def test_cli_prints_the_selected_tag(tmp_path: Path) -> None:
    tags = "# scanned 2024-01-01\nmain-1a2b-1700000100\n\nmain-ffee-1700000300\n  latest  \nmain-0000-900\n"
    code, out, _ = run_policy_test(tmp_path, POLICY_YAML, tags)
    assert (code, out) == (0, "main-ffee-1700000300\n")


def test_cli_exits_1_when_no_tag_qualifies(tmp_path: Path) -> None:
    code, out, err = run_policy_test(tmp_path, POLICY_YAML, "latest\nv1.0.0\n")
    assert (code, out) == (1, "")
    assert "ImagePolicy app in" in err and "no tags matching filterTags.pattern" in err
    assert "'^main-[a-f0-9]+-(?P<ts>[0-9]+)'" in err  # brackets survive the console markup


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("numerical:\n      order: asc", "semver:\n      range: '>= 1.0 <'"), "spec.policy.semver.range '>= 1.0 <'"),
        (("(?P<ts>", "(?=<ts>"), "spec.filterTags.pattern '^main-[a-f0-9]+-(?=<ts>[0-9]+)'"),
        (("order: asc", "order: up"), "field spec.policy.numerical.order"),
        (("extract:", "extrakt:"), "field spec.filterTags.extrakt: unknown field"),
        (("kind: ImagePolicy", "kind: ImageRepository"), "no ImagePolicy in"),
    ],
)
def test_cli_names_file_and_field_of_an_invalid_policy(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    code, out, err = run_policy_test(tmp_path, POLICY_YAML.replace(*edit), "main-a-1\n")
    assert (code, out) == (1, "")
    assert message in err and "policy.yaml" in err


def test_cli_asks_which_policy_when_the_file_holds_several(tmp_path: Path) -> None:
    two = POLICY_YAML + "---\n" + POLICY_YAML.replace("name: app\n  namespace", "name: other\n  namespace")
    code, _, err = run_policy_test(tmp_path, two, "main-a-1\n")
    assert code == 1 and "several ImagePolicies (app, other): choose one with --name" in err
    assert run_policy_test(tmp_path, two, "main-a-1\n", "--name", "other")[:2] == (0, "main-a-1\n")


def test_cli_reads_tags_from_stdin(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY_YAML)
    args = ["image", "policy", "test", "--policy", str(tmp_path / "policy.yaml"), "--tags", "-"]
    result = runner.invoke(app, args, input="main-a-5\nmain-b-7\n")
    assert (result.exit_code, result.stdout) == (0, "main-b-7\n")


def test_cli_help() -> None:
    result = runner.invoke(app, ["image", "policy", "test", "--help"])
    assert result.exit_code == 0 and "--tags" in result.output
