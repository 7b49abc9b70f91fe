"""Lexing: tokens as Go's text/template/parse/lex.go makes them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gitferry.images.gotemplate import strconv
from gitferry.images.gotemplate.errors import error

_SPACE = " \t\r\n"
_KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"})
_WORDS = {"true": "bool", "false": "bool", "nil": "nil"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # text left right space keyword ident bool nil number char string field dot var
    value: str  # declare assign pipe lparen rparen other eof
    pos: int


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or unicodedata.category(ch) == "Nd"


def _space_at(src: str, pos: int) -> bool:
    return src[pos : pos + 1] != "" and src[pos] in _SPACE


def lex(src: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while (start := src.find("{{", pos)) >= 0:
        inner = start + 2
        trim = src[inner : inner + 1] == "-" and _space_at(src, inner + 1)
        if text := src[pos:start].rstrip(_SPACE) if trim else src[pos:start]:
            tokens.append(Token("text", text, pos))
        inner += 2 if trim else 0
        if src.startswith("/*", inner):
            if (close := src.find("*/", inner + 2)) < 0:
                raise error(src, start, "unclosed comment")
            if not _at_right_delim(src, close + 2):
                raise error(src, close + 2, "comment ends before closing delimiter")
            pos = _after_right_delim(src, close + 2)
        else:
            tokens.append(Token("left", "{{", start))
            pos = _lex_action(src, inner, start, tokens)
    if pos < len(src):
        tokens.append(Token("text", src[pos:], pos))
    tokens.append(Token("eof", "", len(src)))
    return tokens


def _at_right_delim(src: str, pos: int) -> bool:
    return src.startswith("}}", pos) or (_space_at(src, pos) and src.startswith("-}}", pos + 1))


def _after_right_delim(src: str, pos: int) -> int:
    if src.startswith("}}", pos):
        return pos + 2
    pos += 4  # " -}}" also trims the white space after it
    while _space_at(src, pos):
        pos += 1
    return pos


def _lex_action(src: str, pos: int, start: int, tokens: list[Token]) -> int:
    depth = 0
    while not _at_right_delim(src, at := pos):
        if pos >= len(src):
            raise error(src, start, "unclosed action")
        ch = src[pos]
        if ch in _SPACE:
            while _space_at(src, pos):
                pos += 1
            pos -= src.startswith("-}}", pos)  # the last space belongs to " -}}"
            kind = "space"
        elif ch in "=|()":
            kind, pos = {"=": "assign", "|": "pipe", "(": "lparen", ")": "rparen"}[ch], pos + 1
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                raise error(src, at, "unexpected right paren")
        elif ch == ":":
            if src[pos + 1 : pos + 2] != "=":
                raise error(src, at, "expected :=")
            kind, pos = "declare", pos + 2
        elif ch in "\"'`":
            kind, pos = ("char" if ch == "'" else "string"), _scan_quote(src, pos)
        elif ch == "$" or (ch == "." and src[pos + 1 : pos + 2] not in tuple("0123456789")):
            pos = _scan_word(src, pos + 1)
            kind = "var" if ch == "$" else "dot" if pos == at + 1 else "field"
        elif ch in "+-.0123456789":
            kind, pos = "number", _scan_number(src, pos)
        elif _alnum(ch):
            pos = _scan_word(src, pos)
            word = src[at:pos]
            kind = "keyword" if word in _KEYWORDS else _WORDS.get(word, "ident")
        elif ch.isascii() and ch.isprintable():
            kind, pos = "other", pos + 1
        else:
            raise error(src, at, f"unrecognized character in action: {strconv.quote(ch)}")
        if pos > at:
            tokens.append(Token(kind, src[at:pos], at))
    if depth:
        raise error(src, pos, "unclosed left paren")
    tokens.append(Token("right", src[pos : pos + 2], pos))
    return _after_right_delim(src, pos)


def _scan_word(src: str, pos: int) -> int:
    while pos < len(src) and _alnum(src[pos]):
        pos += 1
    if pos < len(src) and src[pos] not in _SPACE + ".,|:()" and not src.startswith("}}", pos):
        raise error(src, pos, f"bad character {strconv.quote(src[pos])}")
    return pos


def _scan_quote(src: str, start: int) -> int:
    quote, pos = src[start], start + 1
    while pos < len(src) and src[pos] != quote:
        if quote != "`" and (src[pos] == "\n" or src[pos : pos + 2] in ("\\", "\\\n")):
            break
        pos += 2 if src[pos] == "\\" and quote != "`" else 1
    if pos >= len(src) or src[pos] != quote:
        raise error(src, start, "unterminated character constant" if quote == "'" else "unterminated quoted string")
    return pos + 1


def _scan_number(src: str, start: int) -> int:
    def run(chars: str, i: int) -> int:
        while i < len(src) and src[i] in chars:
            i += 1
        return i

    digits, pos = "0123456789_", start + (src[start] in "+-")
    if src[pos : pos + 2].lower() in ("0x", "0o", "0b"):
        digits, pos = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[src[pos + 1].lower()], pos + 2
    pos = run(digits, pos)
    pos = run(digits, pos + 1) if src[pos : pos + 1] == "." else pos
    exponent = {11: "eE", 23: "pP"}.get(len(digits), "")
    if exponent and src[pos : pos + 1] != "" and src[pos] in exponent:
        pos = run("0123456789_", pos + 1 + (src[pos + 1 : pos + 2] in ("+", "-")))
    pos += src[pos : pos + 1] == "i"
    if pos < len(src) and _alnum(src[pos]):
        raise error(src, start, f"bad number syntax: {strconv.quote(src[start : pos + 1])}")
    return pos
