"""Go's text/template as Flux renders an ImageUpdateAutomation's commit ``messageTemplate``.

Every expected string here is what Go's text/template produces for the same template over the
same data (Flux's TemplateData: AutomationObject, Changed, Values); they were checked against
Go's own implementation. The first cases restate the examples in Flux's docs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitferry.images import gotemplate


@dataclass(frozen=True)
class NamespacedName:
    namespace: str
    name: str

    def __str__(self) -> str:  # Go: types.NamespacedName.String()
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ObjectIdentifier:
    api_version: str
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True)
class Change:
    old_value: str
    new_value: str
    setter: str


@dataclass(frozen=True)
class Changed:
    file_changes: dict[str, dict[ObjectIdentifier, list[Change]]]
    objects: dict[ObjectIdentifier, list[Change]]
    changes: list[Change]


@dataclass(frozen=True)
class TemplateData:
    automation_object: NamespacedName
    changed: Changed
    values: dict[str, str]


DEPLOYMENT = ObjectIdentifier("apps/v1", "Deployment", "podinfo", "default")
CRONJOB = ObjectIdentifier("batch/v1", "CronJob", "backup", "default")
PODINFO = Change("ghcr.io/stefanprodan/podinfo:5.0.0", "ghcr.io/stefanprodan/podinfo:5.0.3", "flux-system:podinfo")
PODINFO_TAG = Change("5.0.0", "5.0.3", "flux-system:podinfo:tag")
BUSYBOX = Change("busybox:1.35", "busybox:1.36", "flux-system:busybox")
# Two files, two objects, three changes; dicts deliberately not in Go's sorted order.
DATA = TemplateData(
    automation_object=NamespacedName("flux-system", "podinfo-auto"),
    changed=Changed(
        file_changes={
            "apps/podinfo/deployment.yaml": {DEPLOYMENT: [PODINFO, PODINFO_TAG]},
            "apps/backup/cronjob.yaml": {CRONJOB: [BUSYBOX]},
        },
        objects={CRONJOB: [BUSYBOX], DEPLOYMENT: [PODINFO, PODINFO_TAG]},
        changes=[BUSYBOX, PODINFO, PODINFO_TAG],
    ),
    values={"team": "web", "env": "prod"},
)

FLUX_DOC_TEMPLATE = """Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"""

# Files sorted by path; objects by APIVersion first ("apps/v1" < "batch/v1"). "{{ end -}}" eats
# the blank line before "Objects:"; "{{- range" eats the newline after "Changes:", and each
# change brings its own leading and trailing newline, hence the blank line between two changes.
FLUX_DOC_MESSAGE = """Automated image update

Automation name: flux-system/podinfo-auto

Files:
- apps/backup/cronjob.yaml
- apps/podinfo/deployment.yaml
Objects:
- Deployment podinfo
  Changes:
    - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3

    - 5.0.0 -> 5.0.3
- CronJob backup
  Changes:
    - busybox:1.35 -> busybox:1.36
"""


def test_flux_doc_example_renders_as_go_does() -> None:
    assert gotemplate.render(FLUX_DOC_TEMPLATE, DATA) == FLUX_DOC_MESSAGE


def test_parse_once_execute_many() -> None:
    parsed = gotemplate.parse("{{ .Values.env }}:{{ len .Changed.Changes }}")
    other = TemplateData(DATA.automation_object, Changed({}, {}, []), {"env": "dev"})
    assert [parsed.execute(DATA), parsed.execute(other)] == ["prod:3", "dev:0"]


RENDERS = [
    # The other examples of Flux's docs.
    (
        "{{ range .Changed.Changes }}{{ print .OldValue }} -> {{ println .NewValue }}{{ end }}",
        "busybox:1.35 -> busybox:1.36\n"
        "ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n"
        "5.0.0 -> 5.0.3\n",
    ),
    (
        "[ci skip] {{ range .Changed.Changes }}{{ .NewValue }} {{ end }}",
        "[ci skip] busybox:1.36 ghcr.io/stefanprodan/podinfo:5.0.3 5.0.3 ",
    ),
    ("{{ .Values.env }}", "prod"),
    # Trim markers take all adjacent white space, newlines included; they need the space.
    ("a \n\t {{- .Values.env -}} \n b", "aprodb"),
    ("a {{- 3 }} b", "a3 b"),
    ("a {{-3}} b", "a -3 b"),
    ("a {{ .Values.env -}}\n\n  b", "a prodb"),
    ("x\n {{- /* a comment */ -}}\n y", "xy"),
    ("x {{/* a comment */}} y", "x  y"),
    ("{{ if true -}}\n  yes\n{{- end }}", "yes"),
    (
        "{{- range .Changed.Changes }}\n{{ .NewValue -}}\n{{ end }}",
        "\nbusybox:1.36\nghcr.io/stefanprodan/podinfo:5.0.3\n5.0.3",
    ),
    # print is fmt.Sprint: a space only between two operands that are not strings.
    ('{{ print 1 2 }}|{{ print "a" "b" }}|{{ print 1 "a" 2 }}|{{ print nil true }}', "1 2|ab|1a2|<nil> true"),
    ('{{ println }}{{ println 1 "a" nil }}', "\n1 a <nil>\n"),
    ("{{ print .AutomationObject .AutomationObject }}", "flux-system/podinfo-auto flux-system/podinfo-auto"),
    # printf and the pipe: the piped value is the last argument.
    ('{{ .Values.env | printf "%s-%s" "x" }}', "x-prod"),
    ('{{ printf "%v %s %q %d %t %x" "a" "b" "c" 42 true "hi" }}', 'a b "c" 42 true 6869'),
    ('{{ printf "%5s|%-4d|%03d|%.2s" "ab" 7 -5 "xyz" }}', "   ab|7   |-05|xy"),
    (
        '{{ printf "%d" "s" }}|{{ printf "%s" }}|{{ printf "x" 1 nil }}',
        "%!d(string=s)|%!s(MISSING)|x%!(EXTRA int=1, <nil>)",
    ),
    ('{{ printf "%s" .Values.nope }}|{{ print .Values.nope }}', "%!s(<nil>)|<nil>"),
    # Values print as fmt's %v: structs as {fields}, unless they have a String method; maps sorted.
    ("{{ index .Changed.Changes 0 }}", "{busybox:1.35 busybox:1.36 flux-system:busybox}"),
    ("{{ .AutomationObject }} {{ .AutomationObject.Name }}", "flux-system/podinfo-auto podinfo-auto"),
    ("{{ .Values }}", "map[env:prod team:web]"),
    (
        "{{ .Changed.Objects }}",
        "map[{apps/v1 Deployment podinfo default}:[{ghcr.io/stefanprodan/podinfo:5.0.0 "
        "ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo} {5.0.0 5.0.3 flux-system:podinfo:tag}] "
        "{batch/v1 CronJob backup default}:[{busybox:1.35 busybox:1.36 flux-system:busybox}]]",
    ),
    ("{{ 0x1F }} {{ -7 }} {{ 'a' }} {{ `raw\\n` }} {{ \"tab\\there\" }}", "31 -7 97 raw\\n tab\there"),
    # if / else if / else, with, range / else.
    ("{{ if .Values.nope }}a{{ else if .Values.env }}b{{ else }}c{{ end }}", "b"),
    ('{{ if "" }}a{{ else if 0 }}b{{ else if .Changed.Changes }}c{{ end }}', "c"),
    ("{{ with .Values.env }}[{{ . }}]{{ end }}{{ with .Values.nope }}x{{ else }}none{{ end }}", "[prod]none"),
    ("{{ with .Changed.FileChanges }}{{ len . }}{{ end }}", "2"),
    ("{{ range .Values.nope }}x{{ else }}empty{{ end }}", "empty"),
    (
        "{{ range $i, $c := .Changed.Changes }}{{ if $i }}, {{ end }}{{ $c.Setter }}{{ end }}",
        "flux-system:busybox, flux-system:podinfo, flux-system:podinfo:tag",
    ),
    ("{{ range $c := .Changed.Changes }}{{ $c.NewValue }};{{ break }}{{ end }}", "busybox:1.36;"),
    (
        '{{ range .Changed.Changes }}{{ if eq .Setter "flux-system:busybox" }}{{ continue }}{{ end }}'
        "{{ .NewValue }};{{ end }}",
        "ghcr.io/stefanprodan/podinfo:5.0.3;5.0.3;",
    ),
    # Variables: $ is the data; a variable lives until the end of the control structure declaring it.
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}", "2"),
    ("{{ $v := 0 }}{{ range $i, $v := .Changed.Changes }}{{ end }}{{ $v }}", "0"),
    ('{{ $last := "" }}{{ range .Changed.Changes }}{{ $last = .NewValue }}{{ end }}{{ $last }}', "5.0.3"),
    ("{{ with .Changed }}{{ $.Values.env }}/{{ len .Objects }}{{ end }}", "prod/2"),
    ("{{ $n := len .Changed.Changes }}{{ if gt $n 1 }}{{ $n }} images{{ else }}one image{{ end }}", "3 images"),
    # Map keys in Go's order: strings by bytes, structs field by field in declaration order.
    ("{{ range $k, $v := .Values }}{{ $k }}={{ $v }};{{ end }}", "env=prod;team=web;"),
    (
        "{{ range $o, $_ := .Changed.Objects }}{{ $o.APIVersion }} {{ $o.Kind }};{{ end }}",
        "apps/v1 Deployment;batch/v1 CronJob;",
    ),
    # A missing map key is no value; index gives the element type's zero value instead.
    (
        '{{ .Values.nope }}|{{ .Values.nope.deeper }}|{{ index .Values "nope" }}|{{ index .Values "env" }}',
        "<no value>|<no value>||prod",
    ),
    ('{{ or .Values.nope "default" }}|{{ eq .Values.nope "x" }}|{{ not .Values.nope }}', "default|false|true"),
    # Builtins.
    ('{{ and 1 0 2 }}{{ and 1 2 }}{{ or 0 "" }}{{ or 0 3 }}', "023"),
    ("{{ or 1 (index .Changed.Changes 99) }}", "1"),
    (
        '{{ eq .Values.env "dev" "prod" }} {{ ne 1 2 }} {{ lt "a" "b" }} {{ le 2 1 }} {{ ge 2 2 }}',
        "true true true false true",
    ),
    ("{{ eq (index .Changed.Changes 0) (index .Changed.Changes 0) }}", "true"),
    (
        '{{ len "é" }} {{ len .Changed.Objects }} {{ index .Changed.Changes 1 | print }}',
        "2 2 {ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo}",
    ),
    ("{{ (index .Changed.Changes 2).OldValue }}", "5.0.0"),
]


@pytest.mark.parametrize(("text", "expected"), RENDERS)
def test_renders_as_go(text: str, expected: str) -> None:
    assert gotemplate.render(text, DATA) == expected


def test_struct_map_keys_are_sorted_field_by_field() -> None:
    keys = [
        ObjectIdentifier("batch/v1", "CronJob", "a", "a"),
        ObjectIdentifier("apps/v1", "Deployment", "b", "a"),
        ObjectIdentifier("apps/v1", "Deployment", "a", "z"),
        ObjectIdentifier("apps/v1", "DaemonSet", "z", "z"),
        ObjectIdentifier("apps/v1", "Deployment", "a", "b"),
    ]
    text = "{{ range $o, $_ := . }}{{ $o.Kind }}/{{ $o.Name }}/{{ $o.Namespace }} {{ end }}"
    rendered = gotemplate.render(text, {key: [] for key in keys})
    assert rendered == "DaemonSet/z/z Deployment/a/b Deployment/a/z Deployment/b/a CronJob/a/a "


def test_nil_data_is_no_value() -> None:
    assert gotemplate.render("{{ . }}|{{ .Anything }}", None) == "<no value>|<no value>"


ERRORS = [
    ("Files:\n  {{ join .Changed.Changes }}", 'template line 2, column 6: function "join" not defined'),
    ("Update\n{{ .Values.env", "template line 2, column 1: unclosed action"),
    (
        "Update\n{{ range .Changed.Changes }}\n- {{ .NewValue }}\n",
        "template line 2, column 4: unexpected EOF: {{range}} has no matching {{end}}",
    ),
    (
        "{{ if .Values.env }}a{{ else }}b{{ else }}c{{ end }}",
        "template line 1, column 36: expected {{end}}; found {{else}}",
    ),
    ("x\n{{ end }}", "template line 2, column 4: unexpected {{end}}"),
    ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", 'template line 1, column 39: undefined variable "$y"'),
    ("{{ break }}", "template line 1, column 4: {{break}} outside {{range}}"),
    ("{{/* never closed", "template line 1, column 1: unclosed comment"),
    ('{{ print "a""b" }}', 'template line 1, column 13: unexpected "\\"b\\"" in operand'),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_syntax_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(gotemplate.TemplateError) as caught:
        gotemplate.parse(text)
    assert str(caught.value) == message


# Go accepts these; gitferry refuses them by name rather than render something else.
UNSUPPORTED = [
    (
        "{{ html .Values.env }}",
        'template line 1, column 4: function "html" is a Go builtin that gitferry does not support',
    ),
    ("{{ 1.5 }}", "template line 1, column 4: floating-point and complex constants are not supported: 1.5"),
    ('{{ define "x" }}{{ end }}', "template line 1, column 4: {{define}} is not supported"),
]


@pytest.mark.parametrize(("text", "message"), UNSUPPORTED)
def test_unsupported_go_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(gotemplate.TemplateError) as caught:
        gotemplate.parse(text)
    assert str(caught.value) == message


EXECUTION_ERRORS = [
    (
        "{{ range .Changed.Changes }}\n  {{ .NewVal }}{{ end }}",
        "template line 2, column 6: can't evaluate field NewVal in type Change",
    ),
    ("{{ .Values.env.Foo }}", "template line 1, column 4: can't evaluate field Foo in type string"),
    (
        "{{ .automationObject }}",
        "template line 1, column 4: can't evaluate field automationObject in type TemplateData",
    ),
    ('{{ eq 1 "a" }}', "template line 1, column 4: error calling eq: incompatible types for comparison"),
    ("{{ index .Changed.Changes 5 }}", "template line 1, column 4: error calling index: index out of range: 5"),
    ("{{ len 3 }}", "template line 1, column 4: error calling len: len of type int"),
    ("{{ not }}", "template line 1, column 4: wrong number of args for not: want 1 got 0"),
    ("{{ nil }}", "template line 1, column 4: nil is not a command"),
    ("{{ .Values.env 1 }}", "template line 1, column 4: env is not a method but has arguments"),
    ("{{ range .Values.env }}{{ end }}", "template line 1, column 4: range can't iterate over prod"),
    ("{{ $x = 1 }}", "template line 1, column 9: undefined variable: $x"),
]


@pytest.mark.parametrize(("text", "message"), EXECUTION_ERRORS)
def test_execution_errors_say_where(text: str, message: str) -> None:
    parsed = gotemplate.parse(text)
    with pytest.raises(gotemplate.TemplateError) as caught:
        parsed.execute(DATA)
    assert str(caught.value) == message


def test_template_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="line 1, column 3: missing value for command"):
        gotemplate.render("{{}}", DATA)
