"""The threat-actor knowledge base: canonical actors built from the MISP galaxies.

Sources, in order of trust for the canonical name and the details:

1. ``threat-actor`` (the MISP threat-actor galaxy),
2. ``mitre-intrusion-set`` and ``mitre-enterprise-attack-intrusion-set``,
3. ``microsoft-activity-group``,
4. the named gangs of ``ransomware`` (entries with leak-site ``links``),
5. ``data/actors/curated.toml``: identities vendors have stated, and actors the galaxies lack.

The clusters come from the data shipped inside ``pymispgalaxies`` (read as plain JSON, which is much
faster than its API); a folder of newer galaxy files (``digest actors update-kb``) overrides them
file by file.

Merging is conservative. Entries are one actor when they have the same primary name, when each
lists the other's primary name, when an entry of another galaxy has exactly one matching actor by
its primary name (or else by its unambiguous synonyms), or when ``curated.toml`` says so. A name
that two actors list (the galaxy puts "Grizzly Steppe" under both APT28 and APT29) stays
*ambiguous*: it is kept under both and is never a reason to merge them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.intel.actors.variants import add_joined, add_split, add_variants
from digest.intel.actors.vendors import DATA_DIR, Conventions, conventions
from digest.models import Alias

__all__ = [
    "GALAXIES",
    "Actor",
    "KnowledgeBase",
    "load_galaxy_file",
    "name_keys",
    "norm",
    "packaged_galaxy_dir",
    "slug",
    "validate_galaxy",
]

#: the galaxies read, in order of trust
GALAXIES = (
    "threat-actor",
    "mitre-intrusion-set",
    "mitre-enterprise-attack-intrusion-set",
    "microsoft-activity-group",
    "ransomware",
)

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_LETTERS_DIGITS = re.compile(r"^([a-z]+) ?(\d+)$")
_MITRE_SUFFIX = re.compile(r"\s+-\s+G\d{4}$")
_JUNK_NAME = re.compile(r"^(?:G\d{4}|S\d{4}|Subgroup:.*)$")


@lru_cache(maxsize=65536)
def norm(name: str) -> str:
    """The matching key of a name: lower case, every run of non-alphanumerics one space."""
    return _NON_ALNUM.sub(" ", name.lower()).strip()


def name_keys(name: str) -> set[str]:
    """Every key a name is matched under: ``APT29`` also as ``apt 29`` and ``APT 29`` as ``apt29``."""
    k = norm(name)
    keys = {k} if k else set()
    m = _LETTERS_DIGITS.match(k)
    if m:
        keys |= {f"{m.group(1)}{m.group(2)}", f"{m.group(1)} {m.group(2)}"}
    return keys


def slug(name: str) -> str:
    """A stable identifier from a name: ``Midnight Blizzard`` -> ``midnight-blizzard``."""
    return _NON_ALNUM.sub("-", name.lower()).strip("-") or "actor"


@lru_cache(maxsize=1)
def packaged_galaxy_dir() -> Path:
    """The folder of cluster files shipped inside the installed ``pymispgalaxies``.

    Found without importing the package (its import pulls in jsonschema: 0.2 s of a poll's start).
    """
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("pymispgalaxies is not installed")
    return Path(spec.origin).resolve().parent / "data" / "misp-galaxy" / "clusters"


def validate_galaxy(data: Any) -> str | None:
    """Why ``data`` is not a MISP galaxy cluster file, or None when it is one."""
    if not isinstance(data, dict):
        return "not a MISP galaxy cluster file (expected a JSON object)"
    if not isinstance(data.get("values"), list):
        return "not a MISP galaxy cluster file (no 'values' list)"
    if "version" not in data:
        return "not a MISP galaxy cluster file (no 'version')"
    if not all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data["values"]):
        return "not a MISP galaxy cluster file (a value without a 'value' name)"
    return None


def load_galaxy_file(path: Path) -> dict[str, Any]:
    """Read and validate one cluster file; ValueError with a one-line reason when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read JSON: {exc}") from None
    why = validate_galaxy(data)
    if why:
        raise ValueError(f"{path}: {why}")
    return data


@dataclass
class Actor:
    """One canonical actor with every name it goes by."""

    id: str
    name: str
    aliases: tuple[Alias, ...]
    country: str | None = None
    description: str = ""
    refs: tuple[str, ...] = ()
    motivation: str = ""
    kind: str = "apt"  # apt, ransomware, extortion, hacktivist
    sources: tuple[str, ...] = ()


@dataclass
class _Record:
    galaxy: str
    value: str
    names: list[str]
    meta: dict[str, Any]
    description: str = ""
    kind: str = "apt"
    ordinary: bool = False


@dataclass
class KnowledgeBase:
    """Canonical actors and the index of their names."""

    actors: dict[str, Actor]
    #: matching key -> ids of the actors that use the name (more than one: ambiguous)
    names: dict[str, tuple[str, ...]]
    #: matching key -> id of the actor whose *primary* name it is, in some galaxy
    primary: dict[str, str]
    #: matching key -> the spellings the sources use
    forms: dict[str, set[str]]
    #: matching keys used only by ransomware-gang entries
    ransomware_keys: frozenset[str]
    #: matching keys that curated data marks as ordinary words
    ordinary_keys: frozenset[str]
    #: matching keys that are also malware or tool names (and no actor's primary name), or that only
    #: ransomware entries use: such a name is an actor only where the text treats it as one
    malware_keys: frozenset[str] = frozenset()
    #: matching keys of every malware family and tool the galaxies list (actor or not)
    malware_names: frozenset[str] = frozenset()
    #: short forms of names that end in a generic word ("inc" of "INC Ransom", "tonto" of "Tonto
    #: Team"): names no source lists on their own, taken only beside a group cue
    variant_keys: frozenset[str] = frozenset()
    #: names of capitalised words written as one ("blacknevas" of "Black Nevas"): only in that spelling
    joined_keys: frozenset[str] = frozenset()
    #: galaxy type -> version used
    versions: dict[str, int] = field(default_factory=dict)
    #: a short digest of every input, for caches
    fingerprint: str = ""

    # ------------------------------------------------------------------ queries

    def candidates(self, name: str) -> list[Actor]:
        """Every actor that uses ``name`` (several when the name is ambiguous)."""
        ids: list[str] = []
        for k in name_keys(name):
            for i in self.names.get(k, ()):
                if i not in ids:
                    ids.append(i)
        return [self.actors[i] for i in ids]

    def get(self, actor_id: str) -> Actor | None:
        """The actor with this id."""
        return self.actors.get(actor_id)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, kb_dir: Path | None = None, conv: Conventions | None = None) -> KnowledgeBase:
        """Build from the packaged galaxies, overridden file by file by ``kb_dir``'s."""
        conv = conv or conventions()
        galaxies: dict[str, dict[str, Any]] = {}
        h = hashlib.sha256()
        for g in GALAXIES:
            path = packaged_galaxy_dir() / f"{g}.json"
            if kb_dir is not None and (Path(kb_dir) / f"{g}.json").is_file():
                path = Path(kb_dir) / f"{g}.json"
            try:
                galaxies[g] = load_galaxy_file(path)
            except (ValueError, FileNotFoundError):
                if path.parent == packaged_galaxy_dir():
                    continue
                galaxies[g] = load_galaxy_file(packaged_galaxy_dir() / f"{g}.json")
            h.update(f"{g}:{galaxies[g].get('version')}:{path}".encode())
        with (DATA_DIR / "curated.toml").open("rb") as fh:
            curated = tomllib.load(fh)
        h.update((DATA_DIR / "curated.toml").read_bytes())
        mapping: list[tuple[str, str, list[str]]] = []
        if kb_dir is not None and (Path(kb_dir) / MS_MAPPING_FILE).is_file():
            raw = (Path(kb_dir) / MS_MAPPING_FILE).read_bytes()
            h.update(raw)
            mapping = parse_ms_mapping(json.loads(raw.decode("utf-8")))
        return _Builder(galaxies, curated, conv, mapping).build(h.hexdigest()[:16])


MALWARE_GALAXIES = ("mitre-malware", "mitre-tool", "malpedia", "rat", "stealer", "botnet", "banker", "backdoor")


def _malware_keys() -> set[str]:
    """Matching keys of every malware family and tool the packaged galaxies list."""
    out: set[str] = set()
    for g in MALWARE_GALAXIES:
        try:
            data = json.loads((packaged_galaxy_dir() / f"{g}.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        for v in data.get("values", []):
            value = re.sub(r"\s+-\s+S\d{4}$", "", v.get("value", ""))
            for n in [value, *((v.get("meta") or {}).get("synonyms") or [])]:
                if isinstance(n, str):
                    out.add(norm(n))
    return out


def _country_names() -> dict[str, str]:
    path = packaged_galaxy_dir() / "country.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    out = {}
    for v in data.get("values", []):
        iso = (v.get("meta") or {}).get("ISO")
        if iso and v.get("description"):
            out[iso.upper()] = v["description"]
    out.update({"PS": "Palestine", "US": "United States", "KP": "North Korea", "KR": "South Korea"})
    return out


MS_MAPPING_FILE = "microsoft-mapping.json"


def parse_ms_mapping(data: Any) -> list[tuple[str, str, list[str]]]:
    """Rows (Microsoft name, origin, other vendors' names) of Microsoft's actor-name map.

    The map is a JSON list of objects with "Threat actor name", "Origin/Threat" and "Other names"
    (comma-separated). Raises ValueError with a one-line reason when ``data`` is not that.
    """
    if not isinstance(data, list) or not data:
        raise ValueError("not Microsoft's actor-name map (expected a JSON list of actors)")
    rows = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict) or not isinstance(item.get("Threat actor name"), str):
            raise ValueError(f"entry {n} has no \"Threat actor name\"")  # noqa: TRY004 - bad input, one-line message
        others = [o.strip() for o in str(item.get("Other names") or "").split(",") if o.strip()]
        rows.append((item["Threat actor name"].strip(), str(item.get("Origin/Threat") or "").strip(), others))
    return rows


class _Builder:
    def __init__(self, galaxies: dict[str, dict[str, Any]], curated: dict[str, Any], conv: Conventions,
                 mapping: list[tuple[str, str, list[str]]] | None = None):
        self.mapping = mapping or []
        self.ms_origin: dict[int, str] = {}
        self.mapped_names: dict[int, list[str]] = defaultdict(list)
        self.galaxies = galaxies
        self.curated = curated
        self.conv = conv
        self.records: list[_Record] = []
        self.parent: list[int] = []

    # union-find
    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # lower index (more trusted source) is the root

    def add(self, rec: _Record) -> int:
        self.records.append(rec)
        self.parent.append(len(self.parent))
        return len(self.records) - 1

    @staticmethod
    def _names(value: str, meta: dict[str, Any]) -> list[str]:
        names = [value] + [s for s in meta.get("synonyms", []) or [] if isinstance(s, str)]
        out: list[str] = []
        seen: set[str] = set()
        for n in names:
            n = n.strip()
            k = norm(n)
            if len(k) < 3 or _JUNK_NAME.match(n) or k in seen:
                continue
            seen.add(k)
            out.append(n)
            if k.endswith(" ransomware") and len(k) > 15:
                base = n[: -len(" ransomware")].strip()
                if norm(base) not in seen:
                    seen.add(norm(base))
                    out.append(base)
        return out

    def _load_records(self) -> dict[str, list[int]]:
        by_galaxy: dict[str, list[int]] = defaultdict(list)
        for g, data in self.galaxies.items():
            for v in data["values"]:
                meta = v.get("meta") or {}
                value = _MITRE_SUFFIX.sub("", v["value"]).strip()
                if g == "ransomware":
                    if "links" not in meta:
                        continue  # a malware family, not a named gang
                    if value.lower().endswith(" ransomware"):
                        value = value[: -len(" ransomware")].strip()
                names = self._names(value, meta)
                if not names:
                    continue
                kind = "ransomware" if g == "ransomware" else "apt"
                rec = _Record(g, names[0], names, meta, v.get("description", "") or "", kind)
                by_galaxy[g].append(self.add(rec))
        for a in self.curated.get("actor", []):
            names = [a["name"], *a.get("aliases", [])]
            rec = _Record("digest", a["name"], names, {"country": a.get("country", "")},
                          a.get("description", ""), a.get("kind", "apt"), bool(a.get("ordinary")))
            by_galaxy["digest"].append(self.add(rec))
        return by_galaxy

    def build(self, fingerprint: str) -> KnowledgeBase:
        by_galaxy = self._load_records()
        # 1. within a galaxy: same primary name, or each lists the other's primary name
        for idxs in by_galaxy.values():
            first: dict[str, int] = {}
            for i in idxs:
                k = norm(self.records[i].value)
                if k in first:
                    self.union(first[k], i)
                else:
                    first[k] = i
            keysets = {i: {norm(n) for n in self.records[i].names} for i in idxs}
            holders: dict[str, list[int]] = defaultdict(list)
            for i in idxs:
                for k in keysets[i]:
                    holders[k].append(i)
            for i in idxs:
                for j in holders.get(norm(self.records[i].value), []):
                    if j != i and norm(self.records[j].value) in keysets[i]:
                        self.union(i, j)
        # 2. across galaxies, in order of trust: join the one actor the entry's names point at
        index: dict[str, set[int]] = defaultdict(set)
        order = [g for g in (*GALAXIES, "digest") if g in by_galaxy]
        for g in order:
            pending = []
            for i in by_galaxy[g]:
                rec = self.records[i]
                if g != order[0]:
                    prim = {self.find(j) for j in index.get(norm(rec.value), ())}
                    if len(prim) == 1:
                        cands = prim
                    elif not prim:
                        cands = set()
                        for n in rec.names[1:]:
                            roots = {self.find(j) for j in index.get(norm(n), ())}
                            if len(roots) == 1:
                                cands |= roots
                    else:
                        cands = set()
                    if len(cands) == 1:
                        pending.append((i, next(iter(cands))))
            for i, root in pending:
                self.union(root, i)
            for i in by_galaxy[g]:
                for n in self.records[i].names:
                    index[norm(n)].add(i)
        # 3. curated identities
        extra_names: dict[int, list[str]] = defaultdict(list)
        for group in self.curated.get("same", []):
            roots = set()
            for n in group["names"]:
                roots |= {self.find(j) for j in index.get(norm(n), ())}
            if not roots:
                continue
            roots_l = sorted(roots)
            for r in roots_l[1:]:
                self.union(roots_l[0], r)
            extra_names[roots_l[0]] += group["names"]
        # 4. Microsoft's name map (when installed with `actors update-kb`): Microsoft states these
        # identities. A name that points at several actors proves nothing and is skipped; a name
        # no source knows is added only when a vendor convention vouches for it ("Storm-0558"),
        # never a bare word from the list ("UPS").
        for ms_name, origin, others in self.mapping:
            roots = set()
            new_names = []
            for n in (ms_name, *others):
                found = {self.find(j) for j in index.get(norm(n), ())}
                if len(found) == 1:
                    roots |= found
                elif not found and self.conv.vendor_of(n):
                    new_names.append(n)
            if not roots:
                continue
            roots_l = sorted(roots)
            for r in roots_l[1:]:
                self.union(roots_l[0], r)
            self.mapped_names[roots_l[0]] += new_names
            if origin:
                self.ms_origin[roots_l[0]] = origin.split(",")[0].strip()
        return self._finish(fingerprint, extra_names)

    def _finish(self, fingerprint: str, extra_names: dict[int, list[str]]) -> KnowledgeBase:
        countries = _country_names()
        comps: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.records)):
            comps[self.find(i)].append(i)
        extra_by_root: dict[int, list[str]] = defaultdict(list)
        curated_by_root: dict[int, list[str]] = defaultdict(list)
        preferred: dict[int, str] = {}
        for r, names in extra_names.items():
            curated_by_root[self.find(r)] += names
            preferred.setdefault(self.find(r), names[0])
        for r, names in self.mapped_names.items():  # Microsoft's map adds names, never the canonical one
            extra_by_root[self.find(r)] += names
        vendor_aliases: dict[str, str] = {norm(k): v for k, v in self.curated.get("aliases", {}).items()}
        rank = {g: n for n, g in enumerate((*GALAXIES, "digest"))}
        motivations: dict[str, str] = {norm(k): v for k, v in self.curated.get("motivation", {}).items()}

        actors: dict[str, Actor] = {}
        names: dict[str, list[str]] = defaultdict(list)
        primary: dict[str, str] = {}
        forms: dict[str, set[str]] = defaultdict(set)
        ransomware_keys: set[str] = set()
        other_keys: set[str] = set()
        ordinary_keys: set[str] = set()
        used_ids: set[str] = set()
        for root in sorted(comps):
            recs = sorted((self.records[i] for i in comps[root]),
                          key=lambda r: (rank.get(r.galaxy, 9), -len(r.names)))
            best = recs[0]
            canonical = preferred.get(root) or best.value
            if canonical.isupper() and not any(ch.isdigit() for ch in canonical):
                # "MUSTANG PANDA" -> "Mustang Panda" when some source spells it so
                nicer = [nm for r in recs for nm in r.names if norm(nm) == norm(canonical) and not nm.isupper()]
                if nicer:
                    canonical = nicer[0]
            if canonical.islower():
                # "radiant group" -> "Radiant Group": a source's capitals, else each word's first letter
                nicer = [nm for r in recs for nm in r.names if norm(nm) == norm(canonical) and not nm.islower()]
                canonical = nicer[0] if nicer else " ".join(w[:1].upper() + w[1:] for w in canonical.split(" "))
            aid = slug(canonical)
            n = 2
            while aid in used_ids:
                aid = f"{slug(canonical)}-{n}"
                n += 1
            used_ids.add(aid)
            all_names: list[str] = []
            seen: set[str] = set()
            # the curated identity's names first: they are the names vendors use today, so the aka
            # line's one name per vendor is Microsoft's "Diamond Sleet" for Lazarus, not an older
            # or narrower one the galaxies list first ("Citrine Sleet")
            for nm in curated_by_root.get(root, []):
                if norm(nm) not in seen:
                    seen.add(norm(nm))
                    all_names.append(nm)
            for r in recs:
                for nm in r.names:
                    if norm(nm) not in seen:
                        seen.add(norm(nm))
                        all_names.append(nm)
            for nm in extra_by_root.get(root, []):
                if norm(nm) not in seen:
                    seen.add(norm(nm))
                    all_names.append(nm)
            ms_values = {norm(r.value) for r in recs if r.galaxy == "microsoft-activity-group"}
            aliases = []
            for nm in all_names:
                vendor = vendor_aliases.get(norm(nm)) or self.conv.vendor_of(nm)
                if not vendor and norm(nm) in ms_values:
                    vendor = "Microsoft"
                aliases.append(Alias(nm, vendor))
            country = None
            for r in recs:
                c = r.meta.get("country") if isinstance(r.meta.get("country"), str) else None
                if c:
                    country = countries.get(c.upper(), c) if len(c) == 2 else c
                    break
                sponsor = r.meta.get("cfr-suspected-state-sponsor")
                if isinstance(sponsor, str) and sponsor:
                    country = sponsor
                    break
            if country is None:
                country = next((o for r0, o in self.ms_origin.items() if self.find(r0) == root), None)
            if country is None:
                for nm in all_names:
                    country = self.conv.origin_of(nm)
                    if country:
                        break
            kind = "ransomware" if all(r.kind == "ransomware" for r in recs) else best.kind
            motive = ""
            for r in recs:
                m = r.meta.get("cfr-type-of-incident") or r.meta.get("motive")
                if isinstance(m, list):
                    m = ", ".join(str(x) for x in m)
                if m:
                    motive = str(m)
                    break
            if not motive and kind in ("ransomware", "extortion"):
                motive = "Financial"
            desc0 = next((r.description for r in recs if r.description), "")
            if not motive and (kind == "hacktivist" or re.search(r"\bhacktivis", desc0, re.IGNORECASE)):
                motive = "Hacktivism"  # an origin is where they are, not a state that backs them
            motive = motivations.get(norm(canonical), motive)
            refs: list[str] = []
            for r in recs:
                for ref in r.meta.get("refs", []) or []:
                    if isinstance(ref, str) and ref not in refs:
                        refs.append(ref)
            desc = next((r.description for r in recs if r.description), "")
            actors[aid] = Actor(aid, canonical, tuple(aliases), country, desc, tuple(refs[:20]), motive,
                                kind, tuple(sorted({r.galaxy for r in recs})))
            for r in recs:
                primary.setdefault(norm(r.value), aid)
            for nm in all_names:
                for k in name_keys(nm):
                    if aid not in names[k]:
                        names[k].append(aid)
                    forms[k].add(nm)
                    (ransomware_keys if kind == "ransomware" else other_keys).add(k)
            for r in recs:
                if r.ordinary:
                    ordinary_keys |= {k for nm in r.names for k in name_keys(nm)}
        variant_keys = add_variants(names, forms, ransomware_keys, other_keys)
        joined_keys = add_joined(names, forms, ransomware_keys, other_keys)
        joined_keys |= add_split(names, forms, ransomware_keys, other_keys)
        malware = _malware_keys()
        non_ransom_primary = {norm(r.value) for r in self.records if r.kind != "ransomware"}
        malware_like = {k for k in names if k in malware and k not in non_ransom_primary}
        malware_like |= ransomware_keys - other_keys
        versions = {g: int(d.get("version", 0) or 0) for g, d in self.galaxies.items()}
        return KnowledgeBase(
            actors=actors,
            names={k: tuple(v) for k, v in names.items()},
            primary=primary,
            forms=dict(forms),
            ransomware_keys=frozenset(ransomware_keys - other_keys),
            ordinary_keys=frozenset(ordinary_keys),
            malware_keys=frozenset(malware_like),
            malware_names=frozenset(malware - set(names).difference(malware_like)),
            variant_keys=frozenset(variant_keys),
            joined_keys=frozenset(joined_keys),
            versions=versions,
            fingerprint=fingerprint,
        )

