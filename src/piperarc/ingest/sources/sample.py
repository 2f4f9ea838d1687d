"""A sample list the project makes itself, for the demo archive and for tests.

Deterministic: the same mbox every time. Several months, a few authors, threads with
replies (one arriving before its parent, one months later), an attachment, a non-ASCII
subject (RFC 2047), a message with no Message-ID and one with a broken Date.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

AUTHORS = (
    ("Ada Lovelace", "ada@example.org"),
    ("Grace Hopper", "grace@example.net"),
    ("José Ñúñez", "jose@example.com"),
    ("Margaret Hamilton", "margaret@example.org"),
)

_TOPICS = (
    (
        "Welcome to the salon",
        "Hello all,\n\nThis list is for talk about early computing.\n"
        "Introduce yourselves! The archive is at https://example.org/salon/ .\n",
    ),
    (
        "Notes on the Analytical Engine",
        "I have written notes on Menabrea's paper.\n"
        "Note G has an algorithm for Bernoulli numbers.\n",
    ),
    (
        "Compilers: are they worth it?",
        "Some say a machine cannot write programs.\nI say it can, and should.\n",
    ),
    (
        "Apollo guidance software review",
        "The priority scheduler held up under overload.\nDetails attached.\n",
    ),
    ("Réunion à Paris — café ☕", "Qui vient à la réunion de mars ?\n"),
)


def _message(
    number: int,
    subject: str,
    author: int,
    when: datetime,
    body: str,
    parent: int | None = None,
    ancestors: tuple[int, ...] = (),
    attachment: tuple[str, bytes] | None = None,
    mid: bool = True,
    date_header: str | None = None,
) -> bytes:
    name, addr = AUTHORS[author]
    encoded_name = (
        name if name.isascii() else "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="
    )
    encoded_subject = (
        subject
        if subject.isascii()
        else "=?utf-8?q?"
        + "".join(
            c if c.isascii() and c.isalnum() else "".join(f"={b:02X}" for b in c.encode())
            for c in subject
        )
        + "?="
    )
    lines = [
        f"From: {encoded_name} <{addr}>",
        "To: salon@example.org",
        f"Subject: [salon] {encoded_subject}",
        f"Date: {date_header or format_datetime(when)}",
    ]
    if mid:
        lines.append(f"Message-ID: <sample-{number}@example.org>")
    if parent is not None:
        lines.append(f"In-Reply-To: <sample-{parent}@example.org>")
        refs = " ".join(f"<sample-{a}@example.org>" for a in (*ancestors, parent))
        lines.append(f"References: {refs}")
    lines.append("MIME-Version: 1.0")
    if attachment is None:
        lines += [
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            body,
        ]
        return "\n".join(lines).encode("utf-8")
    filename, data = attachment
    boundary = f"=-sample-{number}"
    lines += [
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
        f"--{boundary}",
        f'Content-Type: text/plain; name="{filename}"',
        f'Content-Disposition: attachment; filename="{filename}"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(data).decode().rstrip(),
        f"--{boundary}--",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def sample_messages() -> list[bytes]:
    """The sample list's messages, in the order they 'arrived' (not date order)."""
    start = datetime(2024, 1, 8, 9, 30, tzinfo=UTC)
    out: list[bytes] = []
    roots: list[int] = []
    number = 0
    for t, (subject, body) in enumerate(_TOPICS):
        root_when = start + timedelta(days=23 * t, hours=t)
        number += 1
        root = number
        roots.append(root)
        attach = ("apollo-report.txt", b"1202 alarm: executive overflow\n") if t == 3 else None
        root_msg = _message(root, subject, t % len(AUTHORS), root_when, body, attachment=attach)
        replies = []
        parent, ancestors = root, tuple[int, ...]()
        for r in range(1, 4 + t % 3):
            number += 1
            when = root_when + timedelta(hours=5 * r, minutes=7 * r)
            quote = "\n".join("> " + line for line in body.splitlines())
            text = (
                f"On {format_datetime(root_when)}, {AUTHORS[t % 4][0]} wrote:\n{quote}\n\n"
                f"Reply {r}: I agree with much of this.\n\n-- \n{AUTHORS[(t + r) % 4][0]}\n"
            )
            replies.append(
                _message(
                    number,
                    "Re: " + subject,
                    (t + r) % len(AUTHORS),
                    when,
                    text,
                    parent=parent,
                    ancestors=ancestors,
                )
            )
            if r % 2:
                parent, ancestors = number, (*ancestors, parent)
        if t == 1:
            out.extend(replies[:1])  # a reply that arrives before its parent
            out.append(root_msg)
            out.extend(replies[1:])
        else:
            out.append(root_msg)
            out.extend(replies)
    number += 1
    late = start + timedelta(days=130)
    out.append(
        _message(
            number,
            "Re: Notes on the Analytical Engine",
            2,
            late,
            "Months later: did anyone run Note G?\n",
            parent=roots[1],
        )
    )
    number += 1
    out.append(
        _message(
            number,
            "A message without a Message-ID",
            3,
            late + timedelta(days=1),
            "My mail client forgot the Message-ID.\n",
            mid=False,
        )
    )
    number += 1
    out.append(
        _message(
            number,
            "A message with a broken Date",
            0,
            late,
            "The Date header below is nonsense.\n",
            date_header="yesterday-ish",
        )
    )
    return out


def sample_mbox() -> bytes:
    """The sample list as one mboxrd file."""
    chunks = []
    for raw in sample_messages():
        quoted = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line
            for line in raw.split(b"\n")
        )
        chunks.append(b"From sample@example.org Mon Jan  1 00:00:00 2024\n" + quoted + b"\n\n")
    return b"".join(chunks)
