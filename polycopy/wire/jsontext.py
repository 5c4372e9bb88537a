"""Bounded JSON: text from outside -> Python values, or `Malformed`. Never another exception.

Checked before `json.loads` can recurse or build something huge: the size (`max_bytes`) and
the nesting depth (`max_depth`). The depth scan is skipped when the text holds fewer
brackets than the limit (an RTDS frame holds two), so the hot path pays two `str.count`s.
Numbers: floats become `Decimal` (never float) and must be short with a modest exponent, so
"1e999999999" is `Malformed("number")` here instead of `decimal.Overflow` later; integers are
at most 80 digits (a token id is 77); `NaN`/`Infinity` are refused.

A listing (a page of rows) must not be lost to one hostile row: `loads_rows` parses the rows
one by one when the whole fails on depth or a number, so only that row becomes a Malformed.
"""
from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from itertools import accumulate

from polycopy.errors import Malformed

MAX_NUMBER_CHARS = 64
MAX_EXPONENT = 40  # |adjusted exponent| of any decimal we accept: 1e-40 .. 9.99e40
MAX_INT_DIGITS = 80
EXCERPT_CHARS = 120

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def excerpt(text) -> str:
    """A short, printable copy of an input for a log line."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[:EXCERPT_CHARS]).decode("utf-8", "replace")
    return repr(str(text)[:EXCERPT_CHARS])


def row_excerpt(text: str) -> str:
    """`excerpt` and a digest of the whole row: rows alike in their first characters stay apart."""
    return f"{excerpt(text)} #{hashlib.blake2b(text.encode('utf-8', 'replace'), digest_size=4).hexdigest()}"


def bounded_decimal(text: str) -> Decimal:
    """A JSON or wire number as Decimal, within MAX_NUMBER_CHARS and MAX_EXPONENT; else Malformed."""
    if len(text) > MAX_NUMBER_CHARS:
        raise Malformed("number", f"{len(text)} characters")
    try:
        d = Decimal(text)
    except ArithmeticError:
        raise Malformed("number", "not a number") from None
    if not d.is_finite() or (d and abs(d.adjusted()) > MAX_EXPONENT):
        raise Malformed("number", "out of range")
    return d


def _int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise Malformed("number", f"integer of {len(text)} digits")
    return int(text)


def _constant(name: str):
    raise Malformed("number", name)


def depth(text: str) -> int:
    """The deepest bracket nesting outside strings. With escaped backslashes and quotes removed,
    every remaining quote delimits a string: the text between them is dropped (all in C)."""
    outside = "".join(text.replace("\\\\", "").replace('\\"', "").split('"')[::2])
    return max(accumulate(map(_STEP.__getitem__, _NOT_BRACKET.sub("", outside))), default=0)


def loads(text, *, max_bytes: int, max_depth: int = 32):
    """Bounded `json.loads` with Decimal floats. Raises Malformed with kind size, encoding, depth,
    number or json."""
    if len(text) > max_bytes:
        raise Malformed("size", f"{len(text)} > {max_bytes} bytes", excerpt(text))
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("encoding", "not UTF-8", excerpt(text)) from None
    if text.count("[") + text.count("{") > max_depth and depth(text) > max_depth:
        raise Malformed("depth", f"nested deeper than {max_depth}", excerpt(text))
    try:
        return json.loads(text, parse_float=bounded_decimal, parse_int=_int, parse_constant=_constant)
    except Malformed as e:
        e.excerpt = e.excerpt or excerpt(text)
        raise
    except (ValueError, RecursionError, TypeError) as e:
        raise Malformed("json", str(e)[:80], excerpt(text)) from None


def loads_rows(text, key: str | None, *, max_bytes: int, max_depth: int) -> tuple[object, list]:
    """(value, rows): `rows` is `value[key]` (key None: the value itself) when it is a list, else
    None. When the whole fails only on depth or a number, the outer value is rebuilt without
    the rows and each row parses alone: a row that does not is its Malformed in `rows`.
    Raises Malformed when the outer value itself is bad."""
    try:
        value = loads(text, max_bytes=max_bytes, max_depth=max_depth)
    except Malformed as e:
        if e.kind not in ("depth", "number"):
            raise
        return _rows_one_by_one(text, key, max_bytes, max_depth, e)
    rows = value if key is None else value.get(key) if isinstance(value, dict) else None
    return value, rows if isinstance(rows, list) else None


def each_row(rows: list, parse) -> tuple[list, list]:
    """(what `parse(row)` made of each row, the Malformed of each row that did not parse, as
    loads_rows left it or as `parse` raised it, with a row excerpt)."""
    out, bad = [], []
    for row in rows:
        try:
            if isinstance(row, Malformed):
                raise row
            out.append(parse(row))
        except Malformed as e:
            e.excerpt = e.excerpt or row_excerpt(str(row))
            bad.append(e)
    return out, bad


def _rows_one_by_one(text, key, max_bytes, max_depth, first: Malformed) -> tuple[object, list]:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # loads already checked that it decodes
    start = _skip_space(text, 0)
    opener = "[" if key is None else "{"
    if text[start] != opener:
        raise first
    spans = _children(text, start)
    if key is None:
        return None, [_row(text[a:b], max_bytes, max_depth) for a, b in spans]
    outer, rows = {}, None
    for a, b in spans:
        name_m = _STRING.match(text, _skip_space(text, a))
        colon = _skip_space(text, name_m.end()) if name_m else -1
        if colon < 0 or colon >= b or text[colon] != ":":
            raise Malformed("json", "not an object member", excerpt(text[a:b]))
        name = loads(name_m.group(), max_bytes=max_bytes, max_depth=1)
        value_at = _skip_space(text, colon + 1)
        if name == key and text[value_at] == "[":
            rows = [_row(text[x:y], max_bytes, max_depth) for x, y in _children(text, value_at, b)]
        else:
            outer[name] = loads(text[value_at:b], max_bytes=max_bytes, max_depth=max_depth)
    if rows is None:
        raise first
    outer[key] = rows
    return outer, rows


def _row(text: str, max_bytes: int, max_depth: int):
    try:
        return loads(text, max_bytes=max_bytes, max_depth=max_depth)
    except Malformed as e:
        e.excerpt = row_excerpt(text)
        return e


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i >= len(text):
        raise Malformed("json", "ends early", excerpt(text))
    return i


def _children(text: str, start: int, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the direct children of the container opening at `start` (for an object, its
    `"key": value` members). With `end`, the container must close just before it; without, only
    whitespace may follow. Raises Malformed."""
    end = len(text) if end is None else end
    spans, depth, child_at = [], 0, start + 1
    for m in _TOKEN.finditer(text, start, end):
        t = m.group()
        if t == "[" or t == "{":
            depth += 1
        elif t == "]" or t == "}":
            depth -= 1
            if depth == 0:
                if text[m.end():end].strip():
                    raise Malformed("json", "data after the value", excerpt(text))
                if text[child_at:m.start()].strip():
                    spans.append((child_at, m.start()))
                return spans
        elif t == "," and depth == 1:
            spans.append((child_at, m.start()))
            child_at = m.end()
    raise Malformed("json", "unbalanced brackets", excerpt(text))
