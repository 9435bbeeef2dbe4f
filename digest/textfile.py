"""Telling a text file from binary data, for the commands that import lists (feeds, subscribers)."""

from __future__ import annotations

__all__ = ["looks_binary"]


def looks_binary(data: bytes) -> bool:
    """Whether these bytes are not text: NUL bytes or many control characters (a UTF-16 text
    with its byte-order mark is text), or not UTF-8 with most bytes high (random data)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    sample = data[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13)) + sample.count(127)
    if controls > max(2, len(sample) // 100):
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return sum(1 for b in sample if b >= 128) > len(sample) // 4
    return False
