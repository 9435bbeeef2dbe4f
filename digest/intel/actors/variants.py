"""Variant spellings of the knowledge base's names: a name without its generic last word ("INC" of "INC
Ransom", taken only beside a group cue) and a name of capitalised words written as one CamelCase word
("BlackNevas" of "Black Nevas", taken only in exactly that spelling), and a gang's name that the ransomware
galaxy writes as one lower-case word, written as two capitalised words ("World Leaks" of "worldleaks")."""

from __future__ import annotations

from collections import defaultdict

#: last words that a group's name may go without ("INC Ransom" is "INC", "Tonto Team" "Tonto")
_VARIANT_TAIL = frozenset({"group", "team", "gang", "crew", "ransom", "ransomware", "apt"})
def add_variants(names: dict[str, list[str]], forms: dict[str, set[str]], ransomware_keys: set[str],
                  other_keys: set[str]) -> set[str]:
    """Add the short form of every name that ends in a generic word ("INC Ransom" -> "INC"); return their keys.

    A short form that is some actor's name already is left alone (it names that actor); one that two
    names share ("Retefe Gang", "Retefe Group") points at their actors, ambiguous if they differ.
    """
    short_of: dict[str, list[str]] = defaultdict(list)
    for k in names:
        words = k.split()
        if len(words) < 2 or words[-1] not in _VARIANT_TAIL or words[0] in ("the", "a", "an"):
            continue
        short = " ".join(words[:-1])
        if short in names or len(short) < 3 or short.replace(" ", "").isdigit():
            continue
        short_of[short].append(k)
    for short, fulls in short_of.items():
        ids: list[str] = []
        for k in fulls:
            ids += [i for i in names[k] if i not in ids]
            forms.setdefault(short, set()).update(f.rsplit(None, 1)[0] for f in forms.get(k, ()) if " " in f.strip())
            if k in ransomware_keys:
                ransomware_keys.add(short)
            if k in other_keys:
                other_keys.add(short)
        names[short] = ids
    return set(short_of)


def add_joined(names: dict[str, list[str]], forms: dict[str, set[str]], ransomware_keys: set[str],
               other_keys: set[str]) -> set[str]:
    """Add each name of two or three capitalised words written as one word ("Black Nevas" -> "BlackNevas").

    Return their keys; such a key is a name only in its CamelCase spelling (see ``rules``).
    """
    joined: dict[str, list[str]] = defaultdict(list)
    spelled: dict[str, set[str]] = defaultdict(set)
    for k, fs in forms.items():
        for f in fs:
            words = f.split()
            if not 2 <= len(words) <= 3 or not all(w.isalpha() and (w[:1].isupper() or f.islower()) for w in words):
                continue  # the ransomware galaxy writes names in lower case ("black nevas")
            camel = "".join(w[:1].upper() + w[1:] for w in words)
            key = camel.lower()
            if key in names or len(key) < 6:
                continue
            joined[key].append(k)
            spelled[key].add(camel)
    for key, fulls in joined.items():
        ids: list[str] = []
        for k in fulls:
            ids += [i for i in names[k] if i not in ids]
            if k in ransomware_keys:
                ransomware_keys.add(key)
            if k in other_keys:
                other_keys.add(key)
        names[key] = ids
        forms[key] = spelled[key]
    return set(joined)


def add_split(names: dict[str, list[str]], forms: dict[str, set[str]], ransomware_keys: set[str],
              other_keys: set[str]) -> set[str]:
    """Add every two-word spelling of a gang's name that the ransomware galaxy writes as one lower-case word
    ("worldleaks" -> "World Leaks", "Worl Dleaks", ...); return their keys.

    Only the spellings of two capitalised words are forms (see ``rules``: such a key is a name only in
    exactly that spelling), so the splits that are no words never match a text.
    """
    split: dict[str, list[str]] = defaultdict(list)
    for k in sorted(ransomware_keys - other_keys):
        fs = forms.get(k, set())
        if len(k) < 8 or not k.isalpha() or not fs or not all(f.islower() and f.isalpha() for f in fs):
            continue
        for i in range(3, len(k) - 2):
            key = f"{k[:i]} {k[i:]}"
            if key not in names:
                split[key].append(k)
    out: set[str] = set()
    for key, fulls in split.items():
        if len(fulls) > 1:
            continue  # two gangs' names split alike: neither
        names[key] = list(names[fulls[0]])
        forms[key] = {" ".join(w[:1].upper() + w[1:] for w in key.split())}
        ransomware_keys.add(key)
        out.add(key)
    return out
