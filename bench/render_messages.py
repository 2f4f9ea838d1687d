"""Message page rendering speed: Pages.message over the messages of a real list, in-process.

Parsing is done first and not timed; then every message's page is rendered, a few times,
and the median CPU time (time.process_time: less disturbed than wall time on a shared
machine) per message is printed. Run it against another checkout with PYTHONPATH=its/src
to compare two versions on the same mail.

    .venv/bin/python bench/render_messages.py --limit 3000 --repeat 3
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import mailbox
import statistics
import sys
import tempfile
import time
from pathlib import Path

import piperarc
from piperarc.config import ListConfig
from piperarc.mail import parse
from piperarc.model import StoredMessage, Summary
from piperarc.pages import ListPlan, Pages

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.storedmail import as_stored

DEFAULT_MBOX = Path("/work/shared/corpus/lists/linux-man-10k.mbox.xz")


def read(path: Path, limit: int) -> list[bytes]:
    with tempfile.NamedTemporaryFile(suffix=".mbox") as plain:
        opener = lzma.open if path.suffix == ".xz" else open
        with opener(path, "rb") as source:
            plain.write(source.read())
        plain.flush()
        box = mailbox.mbox(plain.name, create=False)
        keys = list(box.keys())[:limit]
        return [box.get_bytes(key, from_=False) for key in keys]


def stored(num: int, raw: bytes) -> StoredMessage:
    digest = hashlib.sha256(raw).hexdigest()
    p = parse.parse(raw, digest)
    return as_stored(p, raw, digest, list_name="bench", num=num, key=f"k{num:015d}")


def summary(msg: StoredMessage) -> Summary:
    return Summary(
        num=msg.num,
        key=msg.key,
        mid=msg.mid,
        date_utc=msg.date_utc,
        tz_offset=msg.tz_offset,
        from_name=msg.from_name,
        from_addr=msg.from_addr,
        subject=msg.subject,
        subject_base=msg.subject_base,
        references=msg.references,
        damaged=msg.damage is not None,
        has_attachments=msg.has_attachments,
        thread_key=msg.thread_key,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mbox", type=Path, default=DEFAULT_MBOX)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raws = read(args.mbox, args.limit)
    messages = [stored(i + 1, raw) for i, raw in enumerate(raws)]
    lst = ListConfig(name="bench", title="Bench")
    plan = ListPlan([summary(m) for m in messages], lst.period)
    pages = Pages("Bench")
    times = []
    for _ in range(args.repeat):
        start = time.process_time()
        for msg, raw in zip(messages, raws, strict=True):
            pages.message(lst, plan, msg, raw)
        times.append((time.process_time() - start) / len(messages))
    print(f"piperarc from {Path(piperarc.__file__).parent}")
    print(
        f"{len(messages)} messages of {args.mbox.name}: Pages.message median "
        f"{statistics.median(times) * 1e6:.0f} us CPU per message "
        f"(runs: {', '.join(f'{t * 1e6:.0f}' for t in times)})"
    )


if __name__ == "__main__":
    main()
