"""Vendor naming conventions for threat actors (data in ``data/actors/vendors.toml``).

Vendors name actors by rule: Microsoft's "Volt Typhoon" (Typhoon = China), Mandiant's
``UNC1234``, Unit 42's ``CL-STA-0049``, Trend Micro's "Earth Alux", Symantec's "Jewelbug". The
rules serve three purposes:

* say which vendor an alias belongs to (:meth:`Conventions.vendor_of`);
* infer a suspected origin where the convention encodes one (:meth:`Conventions.origin_of`);
* recognise actor names that no knowledge base has yet (:meth:`Conventions.find`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

__all__ = ["DATA_DIR", "Conventions", "PatternName", "conventions"]


@dataclass(frozen=True)
class PatternName:
    """A name found in text because it follows a vendor's convention."""

    start: int
    end: int
    name: str
    vendor: str
    origin: str | None
    kind: str  # "code" (UNC1234: distinctive), "family" (Volt Typhoon), "suffix" (Jewelbug), "prefix"


@dataclass(frozen=True)
class _Vendor:
    name: str
    mentions: tuple[str, ...]
    codes: tuple[re.Pattern[str], ...]
    code_origins: tuple[tuple[re.Pattern[str], str], ...]
    families: dict[str, str]
    prefixes: dict[str, str]
    suffixes: tuple[str, ...]
    upper_suffixes: tuple[str, ...]
    motives: dict[str, str]


class Conventions:
    """The naming conventions of every vendor in ``vendors.toml``, compiled once."""

    def __init__(self, path: Path | None = None, names_path: Path | None = None) -> None:
        with (path or DATA_DIR / "vendors.toml").open("rb") as fh:
            raw = tomllib.load(fh)
        with (names_path or DATA_DIR / "names.toml").open("rb") as fh:
            names = tomllib.load(fh)
        self.vendors: list[_Vendor] = []
        for v in raw["vendor"]:
            self.vendors.append(_Vendor(
                name=v["name"],
                mentions=tuple(v.get("mentions", ())),
                codes=tuple(re.compile(rf"(?:{c})\Z") for c in v.get("codes", ())),
                code_origins=tuple((re.compile(k), o) for k, o in v.get("code_origins", {}).items()),
                families=dict(v.get("families", {})),
                prefixes=dict(v.get("prefixes", {})),
                suffixes=tuple(v.get("suffixes", ())),
                upper_suffixes=tuple(v.get("upper_suffixes", ())),
                motives=dict(v.get("motives", {})),
            ))
        self.family_stop = frozenset(names.get("family_stop", ()))
        self.prefix_stop = frozenset(names.get("prefix_stop", ()))
        self.suffix_stop = frozenset(w.lower() for w in names.get("suffix_stop", ()))
        self._families: dict[str, tuple[str, str]] = {}
        self._motives = {word: motive for v in self.vendors for word, motive in v.motives.items()}
        self._prefixes: dict[str, tuple[str, str, bool]] = {}
        self._suffixes: list[tuple[str, str]] = []
        self._upper_suffixes: list[tuple[str, str]] = []
        codes: list[str] = []
        for v in self.vendors:
            for fam, origin in v.families.items():
                self._families[fam] = (v.name, origin)
            for pre, origin in v.prefixes.items():
                self._prefixes[pre] = (v.name, origin, pre.isupper())
            self._suffixes += [(s, v.name) for s in v.suffixes]
            self._upper_suffixes += [(s, v.name) for s in v.upper_suffixes]
            codes += [c.pattern[3:-3] for c in v.codes]
        # mentions of vendors, longest first, for "tracked as X by <vendor>"
        self._mention_re = re.compile(
            r"\b(" + "|".join(re.escape(m) for m in sorted(
                {m for v in self.vendors for m in v.mentions}, key=len, reverse=True)) + r")\b")
        self._mention_vendor = {m.lower(): v.name for v in self.vendors for m in v.mentions}
        self._code_re = re.compile(r"(?<![\w-])(?:" + "|".join(codes) + r")(?![\w-])")
        fam = "|".join(sorted(self._families, key=len, reverse=True))
        self._family_re = re.compile(rf"\b([A-Z][a-z]{{2,}}) ({fam})\b")
        pre_title = "|".join(p for p in self._prefixes if not p.isupper())
        pre_upper = "|".join(p for p in self._prefixes if p.isupper())
        self._prefix_re = re.compile(rf"\b(?:({pre_title}) ([A-Z][a-z]{{2,}})|({pre_upper}) ([A-Z]{{3,}}))\b")
        suf = "|".join(s for s, _ in self._suffixes)
        self._suffix_re = re.compile(rf"\b([A-Z][a-z]{{2,}}(?:{suf}))\b")
        usuf = "|".join(s for s, _ in self._upper_suffixes)
        self._upper_suffix_re = re.compile(rf"\b([A-Z]{{3,}}(?:{usuf}))\b")

    # ------------------------------------------------------------------ naming

    def vendor_named(self, mention: str) -> str | None:
        """The vendor's display name for a way of naming it ("Unit 42" -> Palo Alto Networks Unit 42)."""
        return self._mention_vendor.get(mention.strip().lower())

    def vendor_mentions(self) -> list[str]:
        """Every way of naming a vendor that the data knows (used to block them as actors)."""
        return sorted({m for v in self.vendors for m in v.mentions})

    def vendor_at(self, text: str, pos: int) -> str | None:
        """The vendor named at ``pos`` in ``text`` ("Intel 471 is tracking"), as its display name."""
        m = self._mention_re.match(text, pos)
        return self._mention_vendor[m.group(1).lower()] if m else None

    def find_vendor(self, text: str) -> str | None:
        """The first vendor named in ``text``, as its display name."""
        m = self._mention_re.search(text)
        return self._mention_vendor[m.group(1).lower()] if m else None

    def _classify(self, name: str) -> tuple[str, str | None, str] | None:
        """(vendor, origin or None, kind) when ``name`` follows a convention."""
        for v in self.vendors:
            for c in v.codes:
                if c.match(name):
                    origin = next((o for p, o in v.code_origins if p.search(name)), None)
                    return v.name, origin, "code"
        parts = name.split()
        if len(parts) == 2:
            a, b = parts
            if b in self._families and a[:1].isupper() and a not in self.family_stop:
                vendor, origin = self._families[b]
                return vendor, origin or None, "family"
            if a in self._prefixes and b[:1].isupper() and b not in self.prefix_stop:
                vendor, origin, upper = self._prefixes[a]
                if not upper or b.isupper():
                    return vendor, origin or None, "prefix"
            if name.isupper() and b.title() in self._families and a.title() not in self.family_stop:
                vendor, origin = self._families[b.title()]  # the galaxies write "HAZY TIGER" too
                return vendor, origin or None, "family"
        if len(parts) == 1 and name[:1].isupper():
            low = name.lower()
            for s, vendor in self._suffixes:
                if low.endswith(s) and len(low) > len(s) + 2 and low not in self.suffix_stop and not name.isupper():
                    return vendor, None, "suffix"
            if name.isupper():
                for s, vendor in self._upper_suffixes:
                    if name.endswith(s) and len(name) > len(s) + 2:
                        return vendor, None, "upper"
        return None

    def vendor_of(self, name: str) -> str:
        """The vendor whose convention ``name`` follows, or ''."""
        c = self._classify(name)
        return c[0] if c else ""

    def origin_of(self, name: str) -> str | None:
        """The suspected origin encoded in ``name`` by its vendor's convention, if any."""
        c = self._classify(name)
        return c[1] if c else None

    def motive_of(self, name: str) -> str:
        """The motivation a family or prefix word encodes ("Octo Tempest": Financial), or ''."""
        kind = self.kind_of(name)
        if kind not in ("family", "prefix"):
            return ""
        word = name.split()[-1 if kind == "family" else 0]
        return self._motives.get(word) or self._motives.get(word.title(), "")

    def kind_of(self, name: str) -> str | None:
        """"code", "family", "prefix", "suffix" or "upper" when ``name`` follows a convention."""
        c = self._classify(name)
        return c[2] if c else None

    # ------------------------------------------------------------------ finding

    def triggers(self) -> list[tuple[str, str]]:
        """Automaton keys (on lower-cased text, punctuation as spaces) near which a name may be.

        " typhoon " (a family word), " earth " (a prefix), " unc" (a code's start), "bug " (an
        ending): the regexes of :meth:`find` only need to run around these.
        """
        out: dict[str, str] = {}
        for fam in self._families:
            out[f" {fam.lower()} "] = "word"
        for pre in self._prefixes:
            out[f" {pre.lower()} "] = "word"
        for suf, _v in self._suffixes:
            out[f"{suf.lower()} "] = "word"
        for suf, _v in self._upper_suffixes:
            if suf == "ITE":
                out["ite "] = "word"
        for v in self.vendors:
            for c in v.codes:
                m = re.match(r"\(\?:([A-Za-z|]+)\)|([A-Za-z]+)", c.pattern[3:-3])
                if m:
                    for lit in (m.group(1) or m.group(2)).split("|"):
                        out.setdefault(f" {lit.lower()}", "code")
        return sorted(out.items())

    def find(self, text: str) -> Iterator[PatternName]:
        """Every span of ``text`` that follows a vendor convention, unchecked for context."""
        for rx in (self._code_re, self._family_re, self._prefix_re, self._suffix_re, self._upper_suffix_re):
            for m in rx.finditer(text):
                name = m.group(0)
                c = self._classify(name)
                if c is not None:
                    yield PatternName(m.start(), m.end(), name, c[0], c[1], c[2])


@lru_cache(maxsize=1)
def conventions() -> Conventions:
    """The packaged conventions, loaded once."""
    return Conventions()
