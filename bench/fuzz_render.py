"""Fuzzing parse and render: mutated messages through parse.parse and Pages.message.

    python bench/fuzz_render.py                 # 60 seconds
    python bench/fuzz_render.py --seconds 300   # longer
    python bench/fuzz_render.py --show 3        # print the first inputs of each finding

Seeds are the edge corpus (../shared/corpus/edge/, when present) and the hostile-mail suite
(tests/mail/hostile/). Hypothesis draws the mutations: flipped, inserted, deleted and
spliced bytes; headers replaced, repeated, dropped or folded; MIME boundaries broken,
removed or nested; charsets and transfer encodings swapped for odd or unknown ones; HTML
vectors dropped into bodies. Each input is parsed (fast path and full parser), stored as
a StoredMessage would be, and rendered as its page. Any exception is a finding; so is a
rendered page holding a script, an event handler attribute, a javascript:/vbscript:/data:
URL, a frame, object, form, base or meta of the message's making. Prints how many inputs
ran and each distinct finding (exception type and place, or what the page held) with a
count; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

from piperarc import mid
from piperarc.config import ListConfig
from piperarc.ingest.deliver import digest_of
from piperarc.ingest.sources import read_source
from piperarc.mail import parse
from piperarc.model import Summary
from piperarc.pages import ListPlan, Pages

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.storedmail import as_stored

ROOT = Path(__file__).resolve().parents[1]
EDGE = ROOT.parent / "shared" / "corpus" / "edge"
HOSTILE = ROOT / "tests" / "mail" / "hostile"
LIST = ListConfig(name="fuzz", title="Fuzz", obfuscate="at")

CHARSETS = [
    b"utf-8", b"utf-7", b"utf-16", b"utf-32", b"iso-2022-jp", b"shift_jis", b"euc-kr", b"big5",
    b"gb18030", b"windows-1252", b"iso-8859-1", b"koi8-r", b"x-unknown", b"", b"\"", b"utf-8''",
    b"unicode-1-1-utf-7", b"x-user-defined", b"idna", b"rot13", b"base64", b"zlib", b"hex",
    b"uu", b"punycode", b"raw-unicode-escape", b"unicode_escape",
]  # fmt: skip
ENCODINGS = [
    b"base64", b"quoted-printable", b"8bit", b"7bit", b"binary", b"x-uuencode", b"uuencode",
    b"x-gzip", b"bogus", b"",
]  # fmt: skip
TYPES = [
    b"text/plain", b"text/html", b"multipart/mixed", b"multipart/alternative",
    b"multipart/related", b"message/rfc822", b"multipart/signed", b"application/pgp-encrypted",
    b"image/svg+xml", b"text/x-diff", b"multipart/digest", b"message/partial", b"text/enriched",
]  # fmt: skip
HEADERS = [
    b"Subject", b"From", b"To", b"Cc", b"Date", b"Message-ID", b"In-Reply-To", b"References",
    b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"MIME-Version",
]  # fmt: skip
VECTORS = [
    b"<script>alert(1)</script>", b"<img src=x onerror=alert(1)>", b"<svg/onload=alert(1)>",
    b'<a href="javascript:alert(1)">x</a>', b'<a href="&#106;avascript:alert(1)">x</a>',
    b'<iframe srcdoc="<script>alert(1)</script>">', b"<scr<script>ipt>alert(1)</script>",
    b'<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">', b"<base href=//e>",
    b'<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', b"<form action=//e>",
    b"=?UTF-8?B?PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==?=", b"=?x?q?=3Cscript=3E?=",
    b'<object data="data:text/html,<script>alert(1)</script>">', b"<!--><img src=x onerror=a>",
    b'<div style="background:url(javascript:alert(1))">', b"<a href=vbscript:msgbox(1)>v</a>",
    b"\x00", b"\r", b"\n\n", b"\xff\xfe", b"\xe2\x80\xae", b"--", b"begin 644 x.html\n",
]  # fmt: skip
ACTIVE_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form",
    "meta", "link", "style", "svg", "math", "template", "portal",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "srcset"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")
SLOW_SECONDS = 2.0  # one message's parse and page taking longer is a finding (a DoS)
HANG_SECONDS = 20  # ... and one taking this long is stopped and counted as a hang


class _Hang(Exception):
    """Raised by the alarm when one input runs over HANG_SECONDS."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang


class _ActiveMarkup(HTMLParser):
    """What a rendered page holds that could run or fetch, beyond the page's own markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.head = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.head = False
        values = {name: value or "" for name, value in attrs}
        ours = (self.head and tag in ("meta", "link")) or (
            tag == "form" and values.get("class") == "search"
        )
        if tag in ACTIVE_TAGS and not ours:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= attribute")
            if name in URL_ATTRIBUTES and value:
                squeezed = "".join(c for c in value if c > " ").lower()
                image = tag == "img" and squeezed.startswith(("data:image/png", "data:image/jpeg"))
                if squeezed.startswith(BAD_SCHEMES) and not image:
                    self.found.append(f"{name}={squeezed.split(':')[0]}: URL")


def seeds() -> list[bytes]:
    """The edge corpus's messages (when present) and the hostile suite's."""
    found: list[bytes] = []
    if EDGE.is_dir():
        for path in sorted(EDGE.rglob("*")):
            if path.is_file() and path.suffix != ".md":
                try:
                    found += [mail.raw for mail in read_source(path)]
                except Exception:  # a source the readers reject is no seed
                    continue
    found += [path.read_bytes() for path in sorted(HOSTILE.glob("*.eml"))]
    return [s for s in found if s]


def _mutations(seed_list: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed with one to four mutations drawn by Hypothesis."""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seed_list)))
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(_KINDS))
            data = bytearray(kind(draw, bytes(data), seed_list))
        return bytes(data)

    return mutated()


def _spot(draw: st.DrawFn, data: bytes) -> int:
    return draw(st.integers(0, max(0, len(data))))


def _flip(draw: st.DrawFn, data: bytes, _: list[bytes]) -> bytes:
    if not data:
        return data
    at = _spot(draw, data) % len(data)
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


def _insert(draw: st.DrawFn, data: bytes, _: list[bytes]) -> bytes:
    at = _spot(draw, data)
    piece = draw(st.one_of(st.binary(min_size=1, max_size=32), st.sampled_from(VECTORS)))
    return data[:at] + piece + data[at:]


def _delete(draw: st.DrawFn, data: bytes, _: list[bytes]) -> bytes:
    at = _spot(draw, data)
    return data[:at] + data[at + draw(st.integers(1, 200)) :]


def _splice(draw: st.DrawFn, data: bytes, seed_list: list[bytes]) -> bytes:
    other = draw(st.sampled_from(seed_list))
    start = _spot(draw, other)
    return data[: _spot(draw, data)] + other[start : start + draw(st.integers(1, 2000))]


def _header(draw: st.DrawFn, data: bytes, _: list[bytes]) -> bytes:
    """A header replaced, repeated, dropped or folded oddly."""
    name = draw(st.sampled_from(HEADERS))
    value = draw(st.one_of(st.sampled_from(VECTORS), st.binary(max_size=80)))
    head, sep, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    action = draw(st.sampled_from(["replace", "repeat", "drop", "fold", "long"]))
    hits = [i for i, line in enumerate(lines) if line.lower().startswith(name.lower() + b":")]
    if action == "drop":
        lines = [line for i, line in enumerate(lines) if i not in hits]
    elif action == "fold" and hits:
        lines[hits[0]] = lines[hits[0]] + b"\n \t" + value + b"\n" + b" " * 3
    elif action == "long":
        lines.append(name + b": " + value * draw(st.integers(100, 5000)))
    elif action == "replace" and hits:
        lines[hits[0]] = name + b": " + value
    else:
        lines.insert(draw(st.integers(0, len(lines))), name + b": " + value)
    return b"\n".join(lines) + (sep or b"\n\n") + body


def _parameter(draw: st.DrawFn, data: bytes, _: list[bytes]) -> bytes:
    """A charset, transfer encoding, content type or boundary swapped for another."""
    kind = draw(st.sampled_from(["charset", "encoding", "type", "boundary", "nest"]))
    lower = data.lower()
    if kind == "charset" and b"charset=" in lower:
        at = lower.index(b"charset=") + len(b"charset=")
        end = at + len(data[at:].split(b"\n", 1)[0].split(b";", 1)[0])
        return data[:at] + draw(st.sampled_from(CHARSETS)) + data[end:]
    if kind == "encoding" and b"content-transfer-encoding:" in lower:
        at = lower.index(b"content-transfer-encoding:") + len(b"content-transfer-encoding:")
        end = at + len(data[at:].split(b"\n", 1)[0])
        return data[:at] + b" " + draw(st.sampled_from(ENCODINGS)) + data[end:]
    if kind == "type" and b"content-type:" in lower:
        at = lower.index(b"content-type:") + len(b"content-type:")
        end = at + len(data[at:].split(b";", 1)[0].split(b"\n", 1)[0])
        return data[:at] + b" " + draw(st.sampled_from(TYPES)) + data[end:]
    if kind == "boundary" and b"boundary=" in lower:
        at = lower.index(b"boundary=") + len(b"boundary=")
        boundary = data[at:].split(b"\n", 1)[0].split(b";", 1)[0].strip(b'" ')
        if boundary:
            action = draw(st.sampled_from(["unclose", "remove", "empty", "duplicate"]))
            if action == "unclose":
                return data.replace(b"--" + boundary + b"--", b"")
            if action == "remove":
                return data.replace(b"--" + boundary, b"", draw(st.integers(1, 3)))
            if action == "empty":
                return data.replace(boundary, b"", 1)
            return data.replace(b"--" + boundary, b"--" + boundary + b"\n--" + boundary, 1)
    # Nest: the whole message as a message/rfc822 part of itself, a few levels deep.
    depth = draw(st.integers(1, 60))
    for _ in range(depth):
        data = (
            b'Content-Type: multipart/mixed; boundary="n"\n\n--n\n'
            b"Content-Type: message/rfc822\n\n" + data + b"\n--n--\n"
        )
    return data


_KINDS = [_flip, _insert, _delete, _splice, _header, _header, _parameter, _parameter]


def _place(err: BaseException) -> str:
    """Where an exception came from: our innermost frame, and the very last if elsewhere."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/piperarc/" in f.filename]
    where = [f"{Path(f.filename).name}:{f.lineno}" for f in (ours[-1:] + frames[-1:])]
    return " -> ".join(dict.fromkeys(where))


class Fuzzer:
    """Runs inputs through parse and render and keeps the findings."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.pages = Pages("Fuzz")
        self.inputs = 0
        self.slowest = 0.0
        self.findings: Counter[str] = Counter()
        self.examples: dict[str, list[bytes]] = {}

    def run_one(self, raw: bytes) -> None:
        self.inputs += 1
        began = time.monotonic()
        signal.alarm(HANG_SECONDS)
        try:
            html = self._render(raw)
        except _Hang:
            self._found(f"hang: stopped after {HANG_SECONDS}s ({len(raw)} bytes)", raw)
            return
        except Exception as err:
            self._found(f"{type(err).__name__} at {_place(err)}: {str(err)[:80]}", raw)
            return
        finally:
            signal.alarm(0)
        took = time.monotonic() - began
        self.slowest = max(self.slowest, took)
        if took > SLOW_SECONDS:
            self._found(f"slow: over {SLOW_SECONDS:.0f}s for {len(raw)} bytes", raw)
        checker = _ActiveMarkup()
        checker.feed(html)
        for what in set(checker.found):
            self._found(f"page holds {what}", raw)

    def _found(self, what: str, raw: bytes) -> None:
        self.findings[what] += 1
        self.examples.setdefault(what, [])
        if len(self.examples[what]) < 3:
            self.examples[what].append(raw)

    def _render(self, raw: bytes) -> str:
        digest = digest_of(raw)
        parse.parse(raw, digest, fast=False)  # the full parser too, whatever the fast path does
        parsed = parse.parse(raw, digest)
        key = mid.url_key(parsed.mid)
        msg = as_stored(parsed, raw, digest, list_name=LIST.name, num=1, key=key)
        summary = Summary(
            num=1,
            key=key,
            mid=parsed.mid,
            date_utc=msg.date_utc,
            tz_offset=msg.tz_offset,
            from_name=msg.from_name,
            from_addr=msg.from_addr,
            subject=msg.subject,
            subject_base=msg.subject_base,
            references=msg.references,
            damaged=msg.damage is not None,
            has_attachments=msg.has_attachments,
            thread_key=key,
        )
        plan = ListPlan([summary], LIST.period)
        page = self.pages.message(LIST, plan, msg, raw)
        return page.html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz")
    parser.add_argument("--show", type=int, default=0, help="print N inputs per finding")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _on_alarm)
    # Hypothesis warns of the size of the inputs it describes: big inputs are the point here.
    warnings.filterwarnings("ignore", category=HypothesisWarning)
    seed_list = seeds()
    fuzzer = Fuzzer(time.monotonic() + args.seconds)
    started = time.monotonic()
    # The seeds as they are first: the floor every mutation starts from.
    for seed in seed_list:
        fuzzer.run_one(seed)

    class _TimeUp(Exception):
        pass

    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(_mutations(seed_list))
    def fuzz(raw: bytes) -> None:
        if time.monotonic() > fuzzer.deadline:
            raise _TimeUp
        fuzzer.run_one(raw)

    with contextlib.suppress(_TimeUp):
        fuzz()
    elapsed = time.monotonic() - started
    print(
        f"{fuzzer.inputs} inputs in {elapsed:.0f}s ({fuzzer.inputs / elapsed:.0f}/s) from "
        f"{len(seed_list)} seeds; slowest input {fuzzer.slowest:.2f}s; "
        f"{len(fuzzer.findings)} distinct findings"
    )
    for what, count in fuzzer.findings.most_common():
        print(f"{count:7d}  {what}")
        for raw in fuzzer.examples[what][: args.show]:
            print("         ", repr(raw[:300]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
