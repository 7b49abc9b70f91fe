"""Execution: Go's text/template/exec.go over the parsed tree, and the Template that callers hold."""

from __future__ import annotations

from collections.abc import Sequence

from gitferry.images.gotemplate.errors import Fail, error
from gitferry.images.gotemplate.parser import Control, Node, Parser, Pipe, Term, describe
from gitferry.images.gotemplate.values import (
    BUILTINS,
    MISSING,
    NO_VALUE,
    V,
    field,
    fmt,
    go_type,
    is_nil,
    sorted_items,
    truth,
)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _State:
    def __init__(self, data: object) -> None:
        self.names, self.values, self.out, self.at = ["$"], [data], list[str](), 0

    def pop(self, mark: int) -> None:
        del self.names[mark:], self.values[mark:]

    def slot(self, name: str) -> int:
        if name not in self.names:
            raise Fail(f"undefined variable: {name}")
        return len(self.names) - 1 - self.names[::-1].index(name)

    def walk(self, dot: object, nodes: Sequence[Node]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif node.kind in ("break", "continue"):
                raise _Break if node.kind == "break" else _Continue
            elif node.kind == "range":
                self.walk_range(dot, node)
            elif node.kind == "print":
                assert node.pipe is not None
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append("<no value>" if value is NO_VALUE else fmt(value, V))
            else:
                self.walk_if(dot, node)

    def walk_if(self, dot: object, node: Control) -> None:
        mark = len(self.names)
        try:
            assert node.pipe is not None
            value = self.pipeline(dot, node.pipe)
            if (is_true := truth(value)) is None:
                raise Fail(f"if/with can't use {fmt(value, V)}")
            if is_true:
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            self.pop(mark)

    def walk_range(self, dot: object, node: Control) -> None:
        outer, pipe = len(self.names), node.pipe
        assert pipe is not None
        try:
            value, decl, inner = self.pipeline(dot, pipe), pipe.decl, len(self.names)
            self.at = node.pos
            items: list[tuple[object, object]] = []
            if isinstance(value, list | tuple):
                items = list(enumerate(value))
            elif isinstance(value, dict):
                items = sorted_items(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                if len(decl) > 1:
                    raise Fail(f"can't use {value} to iterate over more than one variable")
                items = [(i, i) for i in range(value)]
            elif not is_nil(value):
                raise Fail(f"range can't iterate over {fmt(value, V)}")
            for key, elem in items:
                if pipe.is_assign:
                    for name, item in zip(decl, (elem,) if len(decl) == 1 else (key, elem), strict=False):
                        self.values[self.slot(name)] = item
                elif decl:
                    self.values[inner - len(decl) :] = [key, elem][2 - len(decl) :]
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                except _Break:
                    return
                finally:
                    self.pop(inner)
            if not items and node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            self.pop(outer)

    def pipeline(self, dot: object, pipe: Pipe) -> object:
        value: object = MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.values[self.slot(name)] = value
            else:
                self.names.append(name)
                self.values.append(value)
        return value

    def command(self, dot: object, cmd: tuple[Term | Pipe, ...], final: object) -> object:
        first, has_args = cmd[0], len(cmd) > 1 or final is not MISSING
        self.at = first.pos
        if isinstance(first, Term) and first.kind == "func":
            return self.call(dot, first, cmd[1:], final)
        if isinstance(first, Term) and first.kind in ("field", "var", "chain"):
            return self.fields(dot, first, has_args)
        if has_args:
            raise Fail(f"can't give argument to non-function {describe(first)}")
        if isinstance(first, Pipe):
            return self.pipeline(dot, first)
        if first.kind == "nil":
            raise Fail("nil is not a command")
        return dot if first.kind == "dot" else first.value

    def fields(self, dot: object, node: Term, has_args: bool) -> object:
        receiver = dot
        if node.kind == "var":
            receiver = self.values[self.slot(str(node.value))]
            if not node.names and has_args:
                raise Fail(f"can't give argument to non-function {node.value}")
        elif isinstance(node.value, Pipe):
            receiver = self.pipeline(dot, node.value)
        elif isinstance(node.value, Term):
            receiver = self.call(dot, node.value, (), MISSING)
        self.at = node.pos
        for i, name in enumerate(node.names):
            receiver = field(receiver, name, has_args and i == len(node.names) - 1)
        return receiver

    def call(self, dot: object, func: Term, args: Sequence[Term | Pipe], final: object) -> object:
        name = str(func.value)
        fixed, variadic, kind, function = BUILTINS[name]
        count = len(args) + (final is not MISSING)
        if count < fixed or (count > fixed and not variadic):
            raise Fail(f"wrong number of args for {name}: want {'at least ' * variadic}{fixed} got {count}")
        if name in ("and", "or"):
            value: object = NO_VALUE
            for arg in args:
                if bool(truth(value := self.arg(dot, arg, kind))) == (name == "or"):
                    return value
            return final if final is not MISSING else value
        kinds = ["string" if name == "printf" and i == 0 else kind for i in range(count)]
        values = [self.arg(dot, arg, kinds[i]) for i, arg in enumerate(args)]
        if final is not MISSING:
            values.append(self.validate(final, kinds[-1]))
        self.at = func.pos
        try:
            return function(*values)
        except Fail as e:
            raise Fail(f"error calling {name}: {e}") from None

    def arg(self, dot: object, node: Term | Pipe, kind: str) -> object:
        """An argument for a Go parameter of type reflect.Value ("value"), any, or string."""
        self.at = node.pos
        if isinstance(node, Pipe):
            return self.validate(self.pipeline(dot, node), kind)
        if node.kind == "nil" and kind == "string":
            raise Fail("cannot assign nil to string")
        if node.kind == "nil":
            return None if kind == "any" else NO_VALUE
        if node.kind == "literal":
            if kind == "string" and not isinstance(node.value, str):
                raise Fail(f"expected string; found {node.text}")
            return node.value
        if node.kind == "func":
            return self.validate(self.call(dot, node, (), MISSING), kind)
        return self.validate(dot if node.kind == "dot" else self.fields(dot, node, False), kind)

    def validate(self, value: object, kind: str) -> object:
        if value is NO_VALUE and kind == "string":
            raise Fail("invalid value; expected string")
        if kind == "string" and not isinstance(value, str):
            raise Fail(f"wrong type for value; expected string; got {go_type(value)}")
        return None if value is NO_VALUE and kind == "any" else value


class Template:
    """A parsed template, to execute as often as needed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._nodes, _ = Parser(source).item_list(None)

    def execute(self, data: object) -> str:
        """The text the template makes with data as dot; TemplateError says where and why it failed."""
        state = _State(NO_VALUE if data is None else data)
        try:
            state.walk(state.values[0], self._nodes)
        except Fail as e:
            raise error(self.source, state.at, str(e)) from None
        except RecursionError:
            raise error(self.source, state.at, "data nested too deeply") from None
        return "".join(state.out)


def parse(text: str) -> Template:
    """The template in text; TemplateError says where and why if it is not valid."""
    return Template(text)


def render(text: str, data: object) -> str:
    """text parsed, then executed with data as dot."""
    return parse(text).execute(data)
