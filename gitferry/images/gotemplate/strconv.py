"""Go's strconv for template literals: Unquote a string or character literal, Quote for messages and %q."""

from __future__ import annotations

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def unquote(body: str, quote: str) -> bytes:
    """The bytes of a Go string or character literal's body (strconv.Unquote); ValueError if malformed."""
    out, i = bytearray(), 0
    while i < len(body):
        ch, i = body[i], i + 1
        if ch != "\\":
            out += ch.encode()
            continue
        esc, size = body[i], {"x": 2, "u": 4, "U": 8}.get(body[i], 3)
        digits = body[i + 1 : i + 1 + size] if esc in "xuU" else body[i : i + 3]
        if esc in _ESCAPES or esc == quote:
            out += _ESCAPES.get(esc, esc).encode()
            i += 1
        elif esc in "xuU" and len(digits) == size and all(c in "0123456789abcdefABCDEF" for c in digits):
            value, i = int(digits, 16), i + 1 + size
            if esc == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value < 0xE000:
                raise ValueError("escape is not a Unicode character")
            else:
                out += chr(value).encode()
        elif esc in "01234567" and len(digits) == 3 and all(c in "01234567" for c in digits) and int(digits, 8) < 256:
            out.append(int(digits, 8))
            i += 3
        else:
            raise ValueError(f"invalid escape \\{esc}")
    return bytes(out)


_QUOTED = {v: "\\" + k for k, v in _ESCAPES.items()}


def quote(text: str, quote: str = '"') -> str:
    """text as Go's strconv.Quote (or QuoteRune) writes it."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in (quote, "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _QUOTED:
            out.append(_QUOTED[ch])
        else:
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return quote + "".join(out) + quote
