"""Go's ``text/template``, as far as Flux users write it in a commit ``messageTemplate``.

Flux's image-automation-controller renders ``spec.git.commit.messageTemplate`` with Go's
text/template. This package parses and executes that language over Python data:

- text, actions, ``{{-`` / ``-}}`` trim markers, ``{{/* comments */}}``;
- pipelines (``|``, parentheses) of fields, variables, string, raw string, integer, character,
  boolean and nil literals, and the builtins and, or, not, len, index, eq, ne, lt, le, gt, ge,
  print, println and printf (verbs v s d q t x X c, flags ``-+0``, width, precision);
- if / else if / else, with / else with / else, range (slices, maps in sorted key order, ints)
  with one or two variables and else, break, continue; ``$x :=`` and ``$x =`` scoped as in Go.

Not supported: define, template and block; floating-point and complex constants; the builtins
call, html, js, slice and urlquery; sprig's functions (Flux adds its hermetic ones); custom
delimiters; the missingkey option.

Go data is Python data: a struct is a dataclass (Go field ``OldValue`` is its field or property
``OldValue`` or ``old_value``; a class with its own ``__str__`` prints with it, as Go calls a
``String()`` method), a map a dict, a slice a list or tuple, nil None. Output or errors that
differ from Go's are bugs.

Its modules follow Go's own files: ``lexer`` (parse/lex.go), ``parser`` (parse/parse.go),
``values`` (Go's value semantics, fmt and funcs.go's builtins), ``strconv`` (quoting) and
``execute`` (exec.go); only the names below are its interface.
"""

from __future__ import annotations

from gitferry.images.gotemplate.errors import TemplateError
from gitferry.images.gotemplate.execute import Template, parse, render

__all__ = ["Template", "TemplateError", "parse", "render"]
