"""Parsing: Go's text/template/parse/parse.go, into a small tree of text, actions and pipelines."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from gitferry.images.gotemplate import strconv
from gitferry.images.gotemplate.errors import TemplateError, error
from gitferry.images.gotemplate.lexer import Token, lex
from gitferry.images.gotemplate.values import BUILTINS


@dataclass(frozen=True, slots=True)
class Term:
    """An operand: a dot, nil, literal (value), field chain on dot (names), variable (value is the
    name), function (value is the name) or chain: fields (names) of a term or pipeline (value)."""

    kind: str
    pos: int
    value: object = None
    names: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True, slots=True)
class Pipe:
    pos: int
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[tuple[Term | Pipe, ...], ...]  # each command: its operands


@dataclass(frozen=True, slots=True)
class Control:
    """An action: kind is print, if, with, range, break or continue."""

    kind: str
    pos: int
    pipe: Pipe | None = None
    body: tuple[str | Control, ...] = ()
    orelse: tuple[str | Control, ...] | None = None


Node = str | Control
_OPERAND_START = frozenset({"bool", "char", "dot", "field", "ident", "number", "nil", "string", "var", "lparen"})
_GO_ONLY = frozenset({"call", "html", "js", "slice", "urlquery"})


def describe(node: Term | Pipe) -> str:
    if isinstance(node, Pipe):
        return "(pipeline)"
    head = {"dot": ".", "nil": "nil", "field": "", "literal": node.text}.get(node.kind)
    head = describe(node.value) if isinstance(node.value, Term | Pipe) else str(node.value) if head is None else head
    return head + "".join("." + name for name in node.names)


class Parser:
    def __init__(self, src: str) -> None:
        self.src, self.tokens, self.i = src, lex(src), 0
        self.vars, self.range_depth = ["$"], 0

    def fail(self, pos: int, message: str) -> TemplateError:
        return error(self.src, pos, message)

    def unexpected(self, token: Token, context: str) -> TemplateError:
        return self.fail(
            token.pos, f"unexpected {'EOF' if token.kind == 'eof' else strconv.quote(token.value)} in {context}"
        )

    def next(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def next_non_space(self) -> Token:
        while (token := self.next()).kind == "space":
            pass
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.i -= 1
        return token

    def item_list(self, opener: Token | None) -> tuple[tuple[Node, ...], Token]:
        """Nodes up to the ``{{else}}`` or ``{{end}}`` of opener, or to the end of the top level."""
        nodes: list[Node] = []
        while (token := self.next()).kind != "eof":
            if token.kind == "text":
                nodes.append(token.value)
                continue
            if token.kind != "left":
                raise self.unexpected(token, "input")
            node = self.action()
            if isinstance(node, Token):
                if opener is None:
                    raise self.fail(node.pos, f"unexpected {{{{{node.value}}}}}")
                return tuple(nodes), node
            nodes.append(node)
        if opener is not None:
            raise self.fail(opener.pos, f"unexpected EOF: {{{{{opener.value}}}}} has no matching {{{{end}}}}")
        return tuple(nodes), token

    def action(self) -> Control | Token:
        token = self.next_non_space()
        word = token.value if token.kind == "keyword" else ""
        if word in ("if", "range", "with"):
            return self.control(token)
        if word == "else" and self.peek_non_space().value in ("if", "with"):
            return token  # "else if": control() takes the pending "if"
        if word in ("else", "end", "break", "continue"):
            if (after := self.next_non_space()).kind != "right":
                raise self.unexpected(after, f"{{{{{word}}}}}")
            if word in ("else", "end"):
                return token
            if not self.range_depth:
                raise self.fail(token.pos, f"{{{{{word}}}}} outside {{{{range}}}}")
            return Control(word, token.pos)
        if word:
            raise self.fail(token.pos, f"{{{{{word}}}}} is not supported")
        self.i -= 1
        return Control("print", token.pos, self.pipeline("command", "right"))

    def control(self, opener: Token) -> Control:
        kind, mark = opener.value, len(self.vars)
        pipe = self.pipeline(kind, "right")
        self.range_depth += kind == "range"
        body, closer = self.item_list(opener)
        self.range_depth -= kind == "range"
        orelse: tuple[Node, ...] | None = None
        if closer.value == "else":
            pending = self.tokens[self.i]
            if kind in ("if", "with") and pending.kind == "keyword" and pending.value == kind:
                orelse = (self.control(self.next()),)
            else:
                orelse, closer = self.item_list(opener)
                if closer.value != "end":
                    raise self.fail(closer.pos, "expected {{end}}; found {{else}}")
        del self.vars[mark:]
        return Control(kind, opener.pos, pipe, body, orelse)

    def pipeline(self, context: str, end: str) -> Pipe:
        start, decl, is_assign = self.peek_non_space(), list[str](), False
        while (var := self.peek_non_space()).kind == "var":
            back = self.i
            self.next_non_space()
            after = self.peek_non_space()
            if after.kind not in ("assign", "declare") and (after.kind, after.value) != ("other", ","):
                self.i = back  # "$x" is an operand, not a declaration
                break
            self.next_non_space()
            decl.append(var.value)
            self.vars.append(var.value)
            if after.value != ",":
                is_assign = after.kind == "assign"
                break
            if context != "range" or len(decl) > 1:
                raise self.fail(after.pos, f"too many declarations in {context}")
            if self.peek_non_space().kind not in ("var", "right", "rparen"):
                raise self.fail(after.pos, "range can only initialize variables")
        cmds: list[tuple[Term | Pipe, ...]] = []
        while (token := self.next_non_space()).kind != end:
            if token.kind not in _OPERAND_START:
                raise self.unexpected(token, context)
            self.i -= 1
            cmds.append(self.command())
        if not cmds:
            raise self.fail(start.pos, f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd[0], Term) and cmd[0].kind in ("literal", "dot", "nil"):
                raise self.fail(cmd[0].pos, f"non executable command in pipeline stage {stage}")
        return Pipe(start.pos, tuple(decl), is_assign, tuple(cmds))

    def command(self) -> tuple[Term | Pipe, ...]:
        args: list[Term | Pipe] = []
        while True:
            self.peek_non_space()
            if (operand := self.operand()) is not None:
                args.append(operand)
            token = self.next()
            if token.kind == "space":
                continue
            if token.kind in ("right", "rparen"):
                self.i -= 1
            elif token.kind != "pipe":
                raise self.unexpected(token, "operand")
            if not args:
                raise self.fail(token.pos, "empty command")
            return tuple(args)

    def operand(self) -> Term | Pipe | None:
        node = self.term()
        names: list[str] = []
        while node is not None and self.tokens[self.i].kind == "field":
            names.append(self.next().value[1:])
        if node is None or not names:
            return node
        if isinstance(node, Term) and node.kind in ("field", "var"):
            return dataclasses.replace(node, names=node.names + tuple(names))
        if isinstance(node, Term) and node.kind in ("literal", "dot", "nil"):
            raise self.fail(node.pos, f"unexpected . after term {strconv.quote(describe(node))}")
        return Term("chain", node.pos, node, tuple(names))

    def term(self) -> Term | Pipe | None:
        token = self.next_non_space()
        kind, text, pos = token.kind, token.value, token.pos
        if kind == "ident" and text in _GO_ONLY:
            raise self.fail(pos, f'function "{text}" is a Go builtin that gitferry does not support')
        if kind == "ident" and text not in BUILTINS:
            raise self.fail(pos, f'function "{text}" not defined')
        if kind == "var" and text not in self.vars:
            raise self.fail(pos, f'undefined variable "{text}"')
        if kind in ("ident", "var"):
            return Term("func" if kind == "ident" else "var", pos, text)
        if kind in ("dot", "nil"):
            return Term(kind, pos)
        if kind == "field":
            return Term("field", pos, names=(text[1:],))
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if kind in ("bool", "number", "string", "char"):
            value = text == "true" if kind == "bool" else self.number(token) if kind == "number" else self.quoted(token)
            return Term("literal", pos, value, text=text)
        self.i -= 1
        return None

    def quoted(self, token: Token) -> str | int:
        quote, body = token.value[0], token.value[1:-1]
        if quote == "`":
            return body.replace("\r", "")
        try:
            raw = strconv.unquote(body, quote)
            if quote == '"':
                return raw.decode()
            if len(raw) == 1 and re.match(r"\\[x0-7]", body):
                return raw[0]
            if len(text := raw.decode()) == 1:
                return ord(text)
            problem = "not one character"
        except (ValueError, UnicodeDecodeError) as e:
            problem = "not UTF-8" if isinstance(e, UnicodeDecodeError) else str(e)
        raise self.fail(token.pos, f"malformed literal {token.value}: {problem}")

    def number(self, token: Token) -> int:
        text = token.value
        try:
            return int(text, 0)
        except ValueError:
            if re.fullmatch(r"[+-]?0[0-7_]+", text):
                return int(text.replace("_", ""), 8)
        if re.fullmatch(r"[+-]?[0-9a-fA-FxXoObBpP._+-]+i?", text) and re.search(r"[.eEpPi]", text):
            raise self.fail(token.pos, f"floating-point and complex constants are not supported: {text}")
        raise self.fail(token.pos, f"illegal number syntax: {strconv.quote(text)}")
