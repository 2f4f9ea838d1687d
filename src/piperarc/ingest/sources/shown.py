"""Names and bytes from a source, made safe to print: a file name or a first line is
whatever its author put there, and raw control bytes (an escape sequence, a bell, a
carriage return) would drive the terminal the message is shown on."""

from __future__ import annotations

# Bytes that text files hold: tab, newline, form feed, carriage return, escape.
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1b")


def printable(text: str) -> str:
    """`text` with every unprintable character escaped as Python writes it (\\x1b,
    \\u202e); an undecodable byte of a file name (a surrogate escape) as \\xNN."""
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":  # os.fsdecode's stand-in for a byte that is not UTF-8
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return ascii(ch)[1:-1]


def is_binary(head: bytes) -> bool:
    """True when the first bytes of a file are not text: a NUL, or more than one byte in
    twenty a control character no text file has (as file(1) and git guess)."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    return controls * 20 > len(head)


def hex_head(head: bytes, count: int = 8) -> str:
    """The first bytes as hex ("89 50 4e 47 ..."), the way to show what a binary file is."""
    more = " ..." if len(head) > count else ""
    return " ".join(f"{byte:02x}" for byte in head[:count]) + more
