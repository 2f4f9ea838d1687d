"""Raw bytes → what a reader sees of a message: a flat list of display blocks and its files.

Pure: bytes in, values out, never an exception for bad mail. Where parse.py reads a message
once for the store (one text, the attachments' names), this reads it again for its page:
each text part by its charset (RFC 2045), flowed text reflowed (RFC 3676), the plain text
of a multipart/alternative shown and its HTML offered (RFC 2046 5.1.4), forwarded messages
(message/rfc822) nested, uuencoded blocks turned into files, the signature of signed mail
(RFC 1847, RFC 3156) listed, a part that cannot be decoded shown raw with a note.

The tree of parts is walked with an explicit stack, never recursion: a hostile message can
nest parts very deeply. Blocks carry a depth; "nested" and "end" blocks open and close a
forwarded message, so a template draws the tree without recursion either.
"""

from __future__ import annotations

import binascii
import dataclasses
import email
import email.utils
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.errors import InvalidBase64CharactersDefect, InvalidBase64PaddingDefect
from email.message import Message

from piperarc import mid as midlib
from piperarc.mail import parse
from piperarc.model import Attachment

# Forwarded messages deeper than this are listed as files, not drawn inside each other.
MAX_NESTING = 8
# The headers shown for a forwarded message, in this order.
NESTED_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_PATCH_TYPES = frozenset({"text/x-diff", "text/x-patch", "text/diff", "text/patch"})
_PATCH_NAME = re.compile(r"\.(?:diff|patch|debdiff)$", re.IGNORECASE)
_SIGNATURE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)
# uuencode (POSIX uuencode(1)): "begin MODE NAME", lines of data, "`" or " ", "end".
_UU_BEGIN = re.compile(r"^begin [0-7]{3,4} ([^\r\n]+?)\r?$", re.MULTILINE)
_UU_END = re.compile(r"^end\r?$", re.MULTILINE)
_UU_HINT = re.compile(rb"^begin [0-7]{3,4} ", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DATE_FIELD = re.compile(rb"^date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_BAD_BASE64 = (InvalidBase64CharactersDefect, InvalidBase64PaddingDefect)


@dataclass(frozen=True, slots=True)
class Block:
    """One thing shown on a message's page, in reading order.

    kinds: "text" (plain text), "diff" (a patch), "html" (HTML to sanitize; `offered` when
    it is the alternative of a text shown above it), "image" (an attachment drawn in
    place), "file" (a uuencoded file, linked where it was), "signature" (the signature
    part of signed mail), "damaged" (a part shown raw,
    `note` says why), "nested" (a forwarded message starts: `headers`), "end" (it ends).
    """

    kind: str
    text: str = ""
    depth: int = 0
    offered: bool = False
    attachment: int = 0  # the attachment's index (1-based) for "image", "file", "signature"
    headers: tuple[tuple[str, str], ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class MailView:
    """A message as its page shows it: blocks in order, its files, what went wrong."""

    blocks: tuple[Block, ...]
    attachments: tuple[Attachment, ...]
    problems: tuple[str, ...] = ()  # one line per part that could not be read properly
    whole: bool = False  # the message could not be read as mail at all: one raw block


@dataclass(slots=True)
class _Walk:
    """State of one walk over a message's parts."""

    blocks: list[Block] = field(default_factory=list)
    # Attachments as parse.py numbers them first (so their URLs never change), then the
    # ones only found here (uuencoded blocks): (order key, attachment without index).
    files: list[tuple[tuple[int, int], Attachment]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    primary: int = 0  # how many files parse.py also counts


def simple_text(raw: bytes) -> bool:
    """Whether `raw` is one plain text part with nothing to unpack, so that the text
    parse.py stored is all its page shows (most list mail; kept fast: bytes scans only)."""
    return _simple(raw) is not None


def _simple(raw: bytes) -> tuple[bool, bool] | None:
    """(flowed, delsp) of a single plain text part (RFC 3676 4.1), None for anything else."""
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\n\r\n", 0, end if end >= 0 else len(raw))  # CRLF mail
    if crlf >= 0:
        end = crlf
    if end < 0:
        return None
    head = raw[:end].lower()
    ctype = _field(head, b"content-type:")
    if ctype is not None and not ctype.startswith(b"text/plain") and ctype.strip():
        return None
    disposition = _field(head, b"content-disposition:")
    if disposition is not None and (
        not disposition.startswith(b"inline") or b"name" in disposition
    ):
        return None
    if b"\nbegin " in raw and _UU_HINT.search(raw, end):
        return None
    if ctype is None or b"flowed" not in ctype:
        return False, False
    params = {
        k.strip(): v.strip().strip(b'"')
        for k, _, v in (p.partition(b"=") for p in ctype.split(b";")[1:])
    }
    return params.get(b"format") == b"flowed", params.get(b"delsp") == b"yes"


def _field(head: bytes, name: bytes) -> bytes | None:
    """The value of header field `name` (lower case, with its colon) in the lower-cased
    header block `head`, unfolded and stripped; None when it has none."""
    at = 0 if head.startswith(name) else head.find(b"\n" + name) + 1
    if at <= 0 and not head.startswith(name):
        return None
    at += len(name)
    stop = head.find(b"\n", at)
    while stop >= 0 and head[stop + 1 : stop + 2] in (b" ", b"\t"):
        stop = head.find(b"\n", stop + 1)
    value = head[at:] if stop < 0 else head[at:stop]
    return b" ".join(value.split())


def header_fields(raw: bytes) -> Callable[[str], object]:
    """A getter of the message's header fields (as parse.py's: the first field of a name,
    unfolded, or None), reading its header block as bytes: for the fields a page shows
    that are not stored (To, Cc, the From as it came). A bytes scan, not the stdlib's
    parser: it runs for every message page."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw
    lowered = head.lower()

    def get(name: str) -> object:
        key = b"\n" + name.lower().encode("ascii") + b":"
        if lowered.startswith(key[1:]):
            start = len(key) - 1
        else:
            at = lowered.find(key)
            if at < 0:
                return None
            start = at + len(key)
        stop = head.find(b"\n", start)
        while stop >= 0 and head[stop + 1 : stop + 2] in (b" ", b"\t"):
            stop = head.find(b"\n", stop + 1)
        value = head[start:] if stop < 0 else head[start:stop]
        return " ".join(value.decode("utf-8", "replace").split())

    return get


def written_date(raw: bytes) -> str:
    """The Date header as the message wrote it (unfolded, at most 200 characters), for a
    page that says why it was not usable; "" when it has none."""
    end = _HEADER_END.search(raw)
    found = _DATE_FIELD.search(raw, 0, end.start() if end else len(raw))
    if found is None:
        return ""
    return " ".join(found[1].decode("utf-8", "replace").split())[:200]


def view(raw: bytes, stored_text: str | None = None) -> MailView:
    """What a reader sees of the message `raw`. `stored_text`, the text parse.py stored,
    is shown as it is (reflowed if flowed) when the message is a single plain text part."""
    if stored_text is not None:
        simple = _simple(raw)
        if simple is not None:
            flowed, delsp = simple
            text = unflow(stored_text, delsp) if flowed else stored_text
            return MailView((Block("text", text),), ())
    try:
        msg = email.message_from_bytes(raw)
    except Exception as err:  # the parser is not ours: whatever it raises, show the bytes
        return _raw_view(raw, f"parser failed: {type(err).__name__}")
    if not msg.keys() or not parse._HEADER_START.match(raw):
        return _raw_view(raw, "no header fields: this is not an email message")
    walk = _Walk()
    try:
        _run(walk, msg)
    except RecursionError:
        return _raw_view(raw, "parts nested too deeply to read")
    except Exception as err:  # a part the standard library chokes on: the bytes, a note
        return _raw_view(raw, f"cannot read: {type(err).__name__}")
    order = sorted(range(len(walk.files)), key=lambda pos: walk.files[pos][0])
    index_of = {pos: rank + 1 for rank, pos in enumerate(order)}
    attachments = tuple(
        dataclasses.replace(walk.files[pos][1], index=index_of[pos]) for pos in order
    )
    blocks = [
        dataclasses.replace(b, attachment=index_of[b.attachment])
        if b.kind in ("image", "signature", "file")
        else b
        for b in walk.blocks
    ]
    return MailView(tuple(blocks), attachments, tuple(walk.problems))


def attachments(raw: bytes) -> tuple[Attachment, ...]:
    """The files of message `raw`, numbered as its page links them."""
    if simple_text(raw):
        return ()
    return view(raw).attachments


def _raw_view(raw: bytes, reason: str) -> MailView:
    text = parse._bytes_text(raw, "utf-8")[0]
    return MailView((Block("damaged", text),), (), (reason,), whole=True)


# A part on the stack: the part, its depth in forwarded messages, and its role in the part
# above: "main", "offered" (HTML alternative of a shown text), "hidden" (a duplicate text).
_Item = tuple[Message, int, str]


def _run(walk: _Walk, msg: Message) -> None:
    # A marker (None) on the stack closes a forwarded message once its parts are done.
    stack: list[_Item | tuple[None, int, str]] = [(msg, 0, "main")]
    while stack:
        part, depth, role = stack.pop()
        if part is None:
            walk.blocks.append(Block("end", depth=depth))
            continue
        ctype = part.get_content_type()
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [c for c in payload if isinstance(c, Message)]
            if ctype in ("message/rfc822", "message/global"):
                inner = children[0] if children else None
                if inner is not None and depth < MAX_NESTING and role != "hidden":
                    walk.blocks.append(Block("nested", depth=depth + 1, headers=_headers(inner)))
                    stack.append((None, depth + 1, role))
                    stack.append((inner, depth + 1, role))
                    continue
                if role != "hidden":
                    note = "forwarded messages nested too deeply: see the original"
                    walk.blocks.append(Block("damaged", "", depth, note=note))
                    walk.problems.append(note)
                stack.extend((c, depth, "hidden") for c in reversed(children))
                continue
            if part.get_content_maintype() == "message":
                # message/delivery-status and kin (RFC 3464): header blocks, shown as text.
                if role not in ("hidden", "offered"):
                    text = "\n".join(c.as_string() for c in children)
                    walk.blocks.append(Block("text", text, depth))
                stack.extend((c, depth, "hidden") for c in reversed(children))
                continue
            roles = _child_roles(ctype, children, role)
            stack.extend(
                (c, depth, r) for c, r in reversed(list(zip(children, roles, strict=True)))
            )
            continue
        _leaf(walk, part, ctype, depth, role)


def _child_roles(ctype: str, children: list[Message], role: str) -> list[str]:
    """Roles of a multipart's children: in multipart/alternative the plain text is shown
    and the richer version (text/html, or multipart/related around it) is offered."""
    if ctype != "multipart/alternative" or role == "hidden":
        return [role] * len(children)
    types = [c.get_content_type() for c in children]
    has_plain = "text/plain" in types
    roles = []
    shown_plain = False
    for t in types:
        if t == "text/plain" and not shown_plain:
            roles.append(role)
            shown_plain = True
        elif t == "text/plain":
            roles.append("hidden")
        elif has_plain and (t == "text/html" or t.startswith("multipart/")):
            roles.append("offered")
        else:
            roles.append(role)
    return roles


def _headers(msg: Message) -> tuple[tuple[str, str], ...]:
    found = []
    for name in NESTED_HEADERS:
        value = parse.header_text(msg.get(name))
        if value:
            found.append((name, value))
    return tuple(found)


def _is_attachment(part: Message, ctype: str) -> bool:
    """Whether parse.py counts this leaf as an attachment (the same rule, so that both
    number a message's files alike and their URLs never change)."""
    filename = parse._part_filename(part)
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    inline_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
    return not (inline_text and not (ctype == "text/plain" and filename and disposition))


def _decoded(part: Message) -> tuple[bytes, str | None]:
    """The part's bytes after its transfer encoding, and why they are not right, if so."""
    data = parse._payload_bytes(part)
    if any(isinstance(d, _BAD_BASE64) for d in getattr(part, "defects", ())):
        return data, "its base64 is damaged"
    return data, None


def _leaf(walk: _Walk, part: Message, ctype: str, depth: int, role: str) -> None:
    filename = parse._part_filename(part)
    data, problem = _decoded(part)
    if _is_attachment(part, ctype):
        walk.primary += 1
        slot = (0, walk.primary)
        name = filename or f"part-{walk.primary}{parse._extension_for(ctype)}"
        cid = midlib.clean(part.get("content-id"))
        walk.files.append((slot, Attachment(0, name, ctype, data, cid)))
        ref = len(walk.files) - 1  # its position until the files are numbered
        if ctype in _SIGNATURE_TYPES:
            walk.blocks.append(Block("signature", depth=depth, attachment=ref, note=ctype))
        elif ctype in _PATCH_TYPES or (
            ctype in ("text/plain", "application/octet-stream")
            and filename
            and _PATCH_NAME.search(filename)
        ):
            text, bad = parse._bytes_text(data, part.get_content_charset())
            walk.blocks.append(Block("diff", text, depth, note=filename or ""))
            if bad:
                walk.problems.append(bad)
        elif part.get_content_maintype() == "image" and role != "offered":
            walk.blocks.append(Block("image", depth=depth, attachment=ref))
        return
    if role == "hidden":
        return
    text, bad = parse._bytes_text(data, _charset(part))
    if problem or bad:
        note = problem or bad or ""
        walk.problems.append(note)
        raw_text = parse._bytes_text(_raw_payload(part), "utf-8")[0]
        walk.blocks.append(Block("damaged", raw_text, depth, note=note))
        return
    if ctype == "text/html":
        walk.blocks.append(Block("html", text, depth, offered=role == "offered"))
        return
    if role == "offered":
        return
    params = {k.lower(): v.lower() for k, v in _params(part)}
    if params.get("format") == "flowed":
        text = unflow(text, delsp=params.get("delsp") == "yes")
    _text_with_uuencode(walk, text, depth)


def _charset(part: Message) -> str | None:
    """The declared charset; None where it is missing or not one Python knows."""
    try:
        return part.get_content_charset()
    except (LookupError, ValueError, UnicodeError):
        return None


def _params(part: Message) -> list[tuple[str, str]]:
    found = part.get_params() or []
    out = []
    for key, value in found:
        text = email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else value
        out.append((str(key), str(text)))
    return out


def _raw_payload(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _text_with_uuencode(walk: _Walk, text: str, depth: int) -> None:
    """A text part; uuencoded blocks in it become files (old mailers and news gateways
    sent attachments so) and the text around them stays."""
    start = 0
    for begin in _UU_BEGIN.finditer(text):
        if begin.start() < start:
            continue
        end = _UU_END.search(text, begin.end())
        if end is None:
            break
        data = _uudecode(text[begin.end() : end.start()])
        if data is None:
            continue
        before = text[start : begin.start()].strip("\n")
        if before.strip():
            walk.blocks.append(Block("text", before + "\n", depth))
        name = begin.group(1).strip().rsplit("/", 1)[-1] or "uuencoded.bin"
        slot = (1, len(walk.files))
        walk.files.append((slot, Attachment(0, name, _guess_type(name), data)))
        kind = "image" if _guess_type(name).startswith("image/") else "file"
        walk.blocks.append(Block(kind, depth=depth, attachment=len(walk.files) - 1))
        start = end.end()
    rest = text[start:].lstrip("\n") if start else text
    if rest.strip() or start == 0:
        walk.blocks.append(Block("text", rest, depth))


def _uudecode(body: str) -> bytes | None:
    out = bytearray()
    for line in body.splitlines():
        if not line or line in ("`", " "):
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad short lines wrongly: decode by the length byte (uuencode(1)).
            try:
                count = ((ord(line[0]) - 32) & 63) * 4 // 3 + 1
                out += binascii.a2b_uu(line[: count + 1])
            except (binascii.Error, IndexError):
                return None
    return bytes(out)


def _guess_type(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "txt": "text/plain",
        "pdf": "application/pdf",
        "zip": "application/zip",
        "gz": "application/gzip",
        "tar": "application/x-tar",
        "diff": "text/x-diff",
        "patch": "text/x-patch",
    }.get(suffix, "application/octet-stream")


def unflow(text: str, delsp: bool = False) -> str:
    """format=flowed text (RFC 3676) as paragraphs: a line ending in a space continues on
    the next line of the same quote depth; space-stuffing is undone; the signature
    separator "-- " is never joined (4.3). With DelSp=yes the joining space goes (4.2)."""
    out: list[str] = []
    para: list[str] = []
    para_depth = -1
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip(">")
        depth = len(line) - len(stripped)
        if stripped.startswith(" "):  # space-stuffed (4.4)
            stripped = stripped[1:]
        if para and depth != para_depth:
            out.append(_joined(para, para_depth))
            para = []
        flowed = stripped.endswith(" ") and stripped != "-- "
        if flowed and delsp:
            stripped = stripped[:-1]
        para.append(stripped)
        para_depth = depth
        if not flowed:
            out.append(_joined(para, depth))
            para = []
    if para:
        out.append(_joined(para, para_depth))
    return "\n".join(out)


def _joined(lines: list[str], depth: int) -> str:
    text = "".join(lines)
    return (">" * depth + " " + text) if depth else text
