"""A strict parser for the STIX 2.1 patterning language (OASIS STIX 2.1, part 9).

It accepts the whole grammar (so a valid pattern is never reported as broken) and builds a small tree;
:func:`equality_groups` then extracts what we can use: patterns made only of ``path = 'string'``
(or ``path = 64500``, an integer) comparisons and ``path IN ('a', 'b')`` sets (read as ``path = 'a' OR
path = 'b'``) joined by ``AND`` / ``OR``, in one or more observations joined by ``AND`` / ``OR``, as a
disjunctive normal form. Qualifiers (``WITHIN``, ``REPEATS``, ``START``/``STOP``) only constrain when and how
often an observation happens, so they are read past. Anything else (other operators, ``NOT``, other
literals, ``FOLLOWEDBY``) is valid but unsupported. Written for this project rather than depending on
``stix2-patterns`` (and its ANTLR runtime) for the small subset we use.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ..errors import BlindmatchError, MalformedFile

__all__ = [
    "Comparison",
    "PatternSyntaxError",
    "PatternTooLarge",
    "UnsupportedPattern",
    "equality_groups",
    "parse_pattern",
]

MAX_PATTERN_CHARS = 64 * 1024
MAX_DEPTH = 64
#: At most this many OR-ed alternatives in a pattern's expansion.
MAX_GROUPS = 256
#: At most this many comparisons in all the alternatives together (counted before they are built).
MAX_COMPARISONS = 4096


class PatternSyntaxError(MalformedFile):
    """The text is not a STIX 2.1 pattern."""


class UnsupportedPattern(BlindmatchError):
    """A valid pattern using more than equality comparisons joined by AND/OR (caught inside this package)."""


class PatternTooLarge(UnsupportedPattern):
    """A pattern whose expansion would exceed ``MAX_GROUPS`` alternatives or ``MAX_COMPARISONS``
    comparisons (refused before it is built, so a hostile pattern costs no more than reading it)."""


_KEYWORDS = {
    "AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS", "IN",
    "START", "STOP", "SECONDS", "WITHIN", "REPEATS", "TIMES", "true", "false",
}  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>[thb]?'(?:[^'\\]|\\['\\])*')
  | (?P<num>[+-]?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<op>==|!=|<>|<=|>=|[=<>])
  | (?P<punct>[:.\[\](),*])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "str", "tstr", "hstr", "bstr", "num", "ident", "kw", "op", "punct", "end"
    text: str
    pos: int


#: What an error says instead of quoting a literal: values (a card number in ``payment-card`` patterns, a
#: password) never reach an error message, only their position.
_LITERAL_NAMES = {
    "str": "a string",
    "tstr": "a timestamp",
    "hstr": "a hex string",
    "bstr": "a binary string",
    "num": "a number",
}


def _tokenize(pattern: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(pattern):
        m = _TOKEN.match(pattern, i)
        if m is None:
            raise PatternSyntaxError(f"unexpected character at position {i}")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "str" and text[0] != "'":
            kind = text[0] + "str"
        elif kind == "ident" and text in _KEYWORDS:
            kind = "kw"
        if kind != "ws":
            out.append(_Tok(kind, text, i))
        i = m.end()
    out.append(_Tok("end", "", len(pattern)))
    return out


@dataclass(frozen=True)
class Comparison:
    path: str  # e.g. "user-account:account_login", "network-traffic:src_ref.value", "file:hashes.'SHA-256'"
    op: str  # "=", "!=", "<", "IN", "LIKE", "MATCHES", "EXISTS", ...
    negated: bool
    value: object  # str for string and integer literals; other literal kinds as _Tok or tuples
    literal: str = "str"  # "int" when ``value`` is an integer literal's decimal text (``number = 64500``)


@dataclass(frozen=True)
class _Bool:
    op: str  # "AND" / "OR" / "FOLLOWEDBY"
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Observation:
    expr: _Node
    qualified: bool


_Node = Comparison | _Bool | _Observation


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _integer_text(text: str) -> str:
    """An integer literal's decimal text: no ``+``, no leading zeros (``+0064500`` -> ``64500``).

    Done on the digits, not with ``int()``: a 5000-digit literal is text, not a ``ValueError``."""
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    return sign + digits if digits != "0" else "0"


def _read_literal(value: object) -> tuple[object, str]:
    """``(value, literal kind)``: a string as itself (``"str"``), an integer as its decimal text
    (``"int"``), any other literal as its token (``"other"``)."""
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, _Tok) and value.kind == "num" and _INTEGER.fullmatch(value.text):
        return _integer_text(value.text), "int"
    return value, "other"


def _unquote(text: str) -> str:
    body = text[1:-1] if text[0] == "'" else text[2:-1]
    return re.sub(r"\\(['\\])", r"\1", body)


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.toks = _tokenize(pattern)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        t = self.take()
        if t.kind != kind or (text is not None and t.text != text):
            want = text or kind
            got = "end of pattern" if t.kind == "end" else _LITERAL_NAMES.get(t.kind, repr(t.text))
            raise PatternSyntaxError(f"expected {want!r} at position {t.pos}, found {got}")
        return t

    def at(self, kind: str, text: str | None = None) -> bool:
        t = self.peek()
        return t.kind == kind and (text is None or t.text == text)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise PatternSyntaxError("pattern nested too deeply")

    # pattern := observationExpressions EOF
    def pattern(self) -> _Node:
        node = self.obs_followed()
        self.expect("end")
        return node

    def _chain(self, op: str, sub: str) -> _Node:
        items = [getattr(self, sub)()]
        while self.at("kw", op):
            self.take()
            items.append(getattr(self, sub)())
        return items[0] if len(items) == 1 else _Bool(op, tuple(items))

    def obs_followed(self) -> _Node:
        return self._chain("FOLLOWEDBY", "obs_or")

    def obs_or(self) -> _Node:
        return self._chain("OR", "obs_and")

    def obs_and(self) -> _Node:
        return self._chain("AND", "obs")

    def obs(self) -> _Node:
        self.enter()
        if self.at("punct", "["):
            self.take()
            expr = self.comp_or()
            self.expect("punct", "]")
        elif self.at("punct", "("):
            self.take()
            expr = self.obs_followed()
            self.expect("punct", ")")
        else:
            t = self.peek()
            raise PatternSyntaxError(f"expected '[' or '(' at position {t.pos}")
        qualified = False
        while self.at("kw", "START") or self.at("kw", "WITHIN") or self.at("kw", "REPEATS"):
            self.qualifier()
            qualified = True
        self.depth -= 1
        return _Observation(expr, qualified)

    def qualifier(self) -> None:
        kw = self.take().text
        if kw == "START":
            self.expect("tstr")
            self.expect("kw", "STOP")
            self.expect("tstr")
        elif kw == "WITHIN":
            self.expect("num")
            self.expect("kw", "SECONDS")
        else:  # REPEATS
            self.expect("num")
            self.expect("kw", "TIMES")

    def comp_or(self) -> _Node:
        return self._chain("OR", "comp_and")

    def comp_and(self) -> _Node:
        return self._chain("AND", "prop_test")

    def prop_test(self) -> _Node:
        self.enter()
        try:
            if self.at("punct", "("):
                self.take()
                inner = self.comp_or()
                self.expect("punct", ")")
                return inner
            if self.at("kw", "EXISTS"):
                self.take()
                return Comparison(self.object_path(), "EXISTS", False, None)
            path = self.object_path()
            negated = False
            if self.at("kw", "NOT"):
                self.take()
                negated = True
            t = self.take()
            if t.kind == "op":
                op = {"==": "=", "<>": "!="}.get(t.text, t.text)
                value, literal = _read_literal(self.literal())
                return Comparison(path, op, negated, value, literal)
            if t.kind == "kw" and t.text == "IN":
                return Comparison(path, "IN", negated, self.set_literal())
            if t.kind == "kw" and t.text in ("LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"):
                return Comparison(path, t.text, negated, _unquote(self.expect("str").text))
            raise PatternSyntaxError(f"expected a comparison operator at position {t.pos}")
        finally:
            self.depth -= 1

    def literal(self) -> object:
        t = self.take()
        if t.kind == "str":
            return _unquote(t.text)
        if t.kind in ("num", "tstr", "hstr", "bstr") or (t.kind == "kw" and t.text in ("true", "false")):
            return t
        raise PatternSyntaxError(f"expected a literal at position {t.pos}")

    def set_literal(self) -> tuple[tuple[object, str], ...]:
        """``(value, literal kind)`` of each member, as :func:`_read_literal` gives them."""
        self.expect("punct", "(")
        vals = [_read_literal(self.literal())]
        while self.at("punct", ","):
            self.take()
            vals.append(_read_literal(self.literal()))
        self.expect("punct", ")")
        return tuple(vals)

    def object_path(self) -> str:
        t = self.expect("ident")
        parts = [t.text, ":"]
        self.expect("punct", ":")
        parts.append(self.path_name())
        while True:
            if self.at("punct", "."):
                self.take()
                parts.append("." + self.path_name())
            elif self.at("punct", "["):
                self.take()
                t = self.take()
                if not (t.kind == "punct" and t.text == "*") and not (t.kind == "num" and t.text.isdigit()):
                    raise PatternSyntaxError(f"expected an index or '*' at position {t.pos}")
                self.expect("punct", "]")
                parts.append(f"[{t.text}]")
            else:
                return "".join(parts)

    def path_name(self) -> str:
        t = self.take()
        if t.kind in ("ident", "kw"):
            return t.text
        if t.kind == "str":
            return t.text
        raise PatternSyntaxError(f"expected a property name at position {t.pos}")


def parse_pattern(pattern: str) -> _Node:
    """Parse a STIX 2.1 pattern; :class:`PatternSyntaxError` (a ``MalformedFile``) if it is not one."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternSyntaxError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    return _Parser(pattern).pattern()


def _check_comparison(node: Comparison) -> None:
    if node.op != "=" or node.negated or not isinstance(node.value, str):
        raise UnsupportedPattern("only '=' comparisons with string or integer values are supported")


def _size(node: _Node) -> tuple[int, int]:
    """``(alternatives, comparisons in all of them)`` of the expansion, counted without building it.

    Raises :class:`PatternTooLarge` as soon as a partial count passes a cap (the counts only grow:
    every part has at least one alternative of at least one comparison), so the numbers stay small.
    """
    if isinstance(node, Comparison) and node.op == "IN":
        n = len(_in_members(node))  # path IN (v1, ..., vn): n alternatives of one comparison
        _check_caps(n, n)
        return n, n
    if isinstance(node, Comparison):
        _check_comparison(node)
        return 1, 1
    if isinstance(node, _Observation):
        # WITHIN, REPEATS and START/STOP only say when and how often the observation happens: what it
        # observes (the comparisons) is the same, so a qualified observation reads as the bare one
        return _size(node.expr)
    if node.op == "OR":
        groups, comps = 0, 0
        for item in node.items:
            g, c = _size(item)
            groups, comps = groups + g, comps + c
            _check_caps(groups, comps)
    elif node.op == "AND":
        groups, comps = 1, 0
        for item in node.items:
            g, c = _size(item)
            # each old alternative is joined with each new one: old comparisons are repeated g times,
            # the new ones once per old alternative
            groups, comps = groups * g, comps * g + c * groups
            _check_caps(groups, comps)
    else:
        raise UnsupportedPattern("FOLLOWEDBY is not supported")
    return groups, comps


def _in_members(node: Comparison) -> list[Comparison]:
    """``path IN (v1, v2)`` as the comparisons ``path = v1``, ``path = v2`` (read as joined by ``OR``)."""
    members = node.value if isinstance(node.value, tuple) else ()
    out = [Comparison(node.path, "=", False, v, lit) for v, lit in members]
    if node.negated or not out:
        raise UnsupportedPattern("only 'IN' sets that are not negated are supported")
    for c in out:
        _check_comparison(c)
    return out


def _check_caps(groups: int, comps: int) -> None:
    if groups > MAX_GROUPS:
        raise PatternTooLarge(f"pattern expands to more than {MAX_GROUPS} alternatives")
    if comps > MAX_COMPARISONS:
        raise PatternTooLarge(f"pattern expands to more than {MAX_COMPARISONS} comparisons in all")


def _dnf(node: _Node) -> list[list[Comparison]]:
    """The expansion; call it only on a tree :func:`_size` accepted (its work is then linear in the
    result: no node's expansion is larger than the whole, and the tree is at most ``MAX_DEPTH`` deep)."""
    if isinstance(node, Comparison) and node.op == "IN":
        return [[c] for c in _in_members(node)]
    if isinstance(node, Comparison):
        return [[node]]
    if isinstance(node, _Observation):
        return _dnf(node.expr)
    if node.op == "OR":
        return [g for item in node.items for g in _dnf(item)]
    parts = [_dnf(item) for item in node.items]  # AND (the size check refused FOLLOWEDBY)
    return [list(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]


def equality_groups(pattern: str) -> list[list[Comparison]]:
    """The pattern as OR-ed groups of AND-ed ``path = 'value'`` comparisons (an ``IN`` set becomes one
    alternative per member; qualifiers are read past; an integer literal's ``value`` is its decimal text).

    Raises :class:`PatternSyntaxError` for text that is not a pattern and :class:`UnsupportedPattern` for a
    valid pattern outside the subset, :class:`PatternTooLarge` (one) when the expansion would hold more
    than ``MAX_GROUPS`` alternatives or ``MAX_COMPARISONS`` comparisons in all of them.
    """
    node = parse_pattern(pattern)
    _size(node)  # refuses an expansion over the caps before any of it is built
    return _dnf(node)
