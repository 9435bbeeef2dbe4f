"""Literal prefilters for keyword regexes: skip a regex search when it cannot match.

Python's ``re`` has no fast start for a pattern that opens with ``\\b(?:a|b|...)``: it tries every
alternative at every position. :func:`required_literals` reads such a pattern and returns a set
of plain strings, one of which occurs in any text the pattern matches; a C-level substring test
(``str.__contains__``) for them then decides, exactly, that most patterns need not run at all.

It understands the subset of regex syntax the keyword lists use: literals and escaped literals,
groups (capturing, ``(?:``, ``(?P<n>``), alternation, character classes and the quantifiers
``? * + {m,n}``. Zero-width items (``\\b``, ``^``, ``$``, lookarounds) contribute nothing. Anything
it does not understand makes it answer None ("no prefilter"), never a wrong set.
"""

from __future__ import annotations

import re

__all__ = ["max_width", "might_match", "required_literals"]

_CLASS_ESCAPES = set("dDwWsS")
_ZERO_WIDTH_ESCAPES = set("bBAZ")


class _Unsupported(Exception):
    pass


def required_literals(pattern: str, *, verbose: bool = False) -> tuple[str, ...] | None:
    """Strings one of which occurs in every match of ``pattern`` (case as written), or None.

    ``verbose`` is whether the pattern is compiled with ``re.VERBOSE`` (unescaped whitespace and
    ``#`` comments are then not part of the pattern).
    """
    try:
        parser = _Parser(pattern, verbose)
        alts = parser.alternation()
        if parser.i != len(pattern):
            raise _Unsupported
    except _Unsupported:
        return None
    return tuple(sorted(alts)) if alts else None


def max_width(rx: re.Pattern[str]) -> int | None:
    """The most characters a match of ``rx`` can span, or None when unbounded (or unknown)."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        hi = int(_parser.parse(rx.pattern, rx.flags).getwidth()[1])
    except (ImportError, AttributeError, TypeError, ValueError, re.error):  # a private module: no bound
        return None
    return hi if hi < _parser.MAXREPEAT else None


def might_match(literals: tuple[str, ...] | None, text: str) -> bool:
    """False only when no required literal occurs in ``text`` (so the pattern cannot match)."""
    return literals is None or any(lit in text for lit in literals)


class _Parser:
    """Recursive descent over a regex: each level returns the best anchor set (or None)."""

    def __init__(self, pattern: str, verbose: bool) -> None:
        self.p = pattern
        self.i = 0
        self.verbose = verbose

    def _skip_verbose(self) -> None:
        while self.verbose and self.i < len(self.p):
            ch = self.p[self.i]
            if ch in " \t\n\r\f\v":
                self.i += 1
            elif ch == "#":
                while self.i < len(self.p) and self.p[self.i] != "\n":
                    self.i += 1
            else:
                return

    def alternation(self) -> set[str] | None:
        """Union of the alternatives' anchor sets; None if any alternative has none."""
        result: set[str] | None = set()
        while True:
            seq = self.sequence()
            if seq is None or result is None:
                result = None
            else:
                result |= seq
            if self.i < len(self.p) and self.p[self.i] == "|":
                self.i += 1
                continue
            return result

    def sequence(self) -> set[str] | None:
        """The most selective anchor set among the mandatory items of one alternative."""
        candidates: list[set[str]] = []
        run = ""

        def close_run() -> None:
            nonlocal run
            if run:
                candidates.append({run})
            run = ""

        while True:
            self._skip_verbose()
            if self.i >= len(self.p) or self.p[self.i] in "|)":
                break
            ch = self.p[self.i]
            if ch == "(":
                close_run()
                inner, zero_width = self.group()
                optional = self.quantifier()
                if inner and not zero_width and not optional:
                    candidates.append(inner)
                continue
            if ch == "[":
                close_run()
                self.char_class()
                self.quantifier()
                continue
            if ch in "^$":
                close_run()
                self.i += 1
                continue
            if ch == ".":
                close_run()
                self.i += 1
                self.quantifier()
                continue
            if ch in "*+?{":
                raise _Unsupported  # a quantifier with nothing before it
            if ch == "\\":
                if self.i + 1 >= len(self.p):
                    raise _Unsupported
                esc = self.p[self.i + 1]
                self.i += 2
                if esc in _ZERO_WIDTH_ESCAPES:
                    close_run()
                    continue
                if esc in _CLASS_ESCAPES or esc.isdigit() or esc.isalpha():
                    close_run()  # a class (\w), a backreference or an escape we do not read
                    self.quantifier()
                    continue
                lit = esc
            else:
                lit = ch
                self.i += 1
            quant = self.quantifier(peek_only=True)
            if quant is None:
                run += lit
                continue
            optional = self.quantifier()
            if not optional:
                run += lit  # "s+" or "s{2}": at least one "s" is there
            close_run()
        close_run()
        if not candidates:
            return None
        # most selective: the set whose shortest string is longest
        return max(candidates, key=lambda c: (min(len(s) for s in c), -len(c)))

    def group(self) -> tuple[set[str] | None, bool]:
        """Parse ``( ... )``; return (anchor set, zero-width)."""
        assert self.p[self.i] == "("
        self.i += 1
        zero_width = False
        if self.p.startswith("?:", self.i):
            self.i += 2
        elif self.p.startswith("?P<", self.i):
            end = self.p.find(">", self.i)
            if end < 0:
                raise _Unsupported
            self.i = end + 1
        elif self.p.startswith(("?=", "?!"), self.i):
            self.i += 2
            zero_width = True
        elif self.p.startswith(("?<=", "?<!"), self.i):
            self.i += 3
            zero_width = True
        elif self.p.startswith("?", self.i):
            raise _Unsupported  # inline flags, conditionals, comments
        inner = self.alternation()
        if self.i >= len(self.p) or self.p[self.i] != ")":
            raise _Unsupported
        self.i += 1
        return inner, zero_width

    def char_class(self) -> None:
        assert self.p[self.i] == "["
        self.i += 1
        if self.i < len(self.p) and self.p[self.i] == "^":
            self.i += 1
        if self.i < len(self.p) and self.p[self.i] == "]":
            self.i += 1
        while self.i < len(self.p) and self.p[self.i] != "]":
            self.i += 2 if self.p[self.i] == "\\" else 1
        if self.i >= len(self.p):
            raise _Unsupported
        self.i += 1

    def quantifier(self, peek_only: bool = False) -> bool | None:
        """Consume a quantifier; return True when it allows zero repeats, False when not, None if absent."""
        if not peek_only:
            self._skip_verbose()
        if self.i >= len(self.p):
            return None
        ch = self.p[self.i]
        if ch in "?*+":
            if not peek_only:
                self.i += 1
                if self.i < len(self.p) and self.p[self.i] in "?+":
                    self.i += 1  # lazy or possessive
            return ch != "+"
        if ch == "{":
            end = self.p.find("}", self.i)
            body = self.p[self.i + 1:end] if end > 0 else ""
            lo = body.split(",")[0]
            if end < 0 or not (lo.isdigit() or lo == "") or not all(x.isdigit() or x == "" for x in body.split(",")):
                raise _Unsupported  # a literal "{" is not something we read
            if not peek_only:
                self.i = end + 1
                if self.i < len(self.p) and self.p[self.i] in "?+":
                    self.i += 1
            return lo in ("", "0")
        return None
