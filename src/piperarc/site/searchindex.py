"""The static site's search index, written by piperarc itself (search.html reads it with
render/static/search.js): made in bounded memory, in time linear in the mail, and brought
up to date by live delivery one message at a time. docs/architecture.md says why it
replaced Pagefind.

What it holds is what the server's index holds (store.search_texts: subject, sender, own
lines, quoted lines, file names, facets), cut into words as SQLite's FTS5 cuts them
(mail/words.py), so the same query finds the same messages in the browser and on the
server. Layout, under search-index/ (every file gzipped JSON, read in the browser through
DecompressionStream):

    index.json.gz   {"version", "docs": how many, "chunk": docs a file, "shards":
                    [[first word, file name], ...] sorted by word, "through": {list: last
                    number indexed}}
    w/NAME.json.gz  one shard: {word: [last doc, postings]} for the words from its first
                    word up to the next shard's
    d/K.json.gz     docs K*chunk ... K*chunk+chunk-1: [url, list, subject, sender, date,
                    excerpt] each, subject and sender disguised as the list asks

Docs are numbered by date across the site's lists (live mail takes the next numbers), so
the highest numbers are the newest messages. A word's postings are its docs in rising
order, ";" between them, each "DELTA:" (from the doc before) then its positions column by
column, a letter and the word offsets in that column: s subject, f sender, b own lines,
q quoted lines, a file names, x facets. "12:b5,17q2" is doc +12, body words 5 and 17,
quoted word 2. A phrase is found from the positions; a column from its letter.

The build cuts the site's docs into tasks of whole doc files, turns each into postings in
a worker (both cores), writes each task's postings sorted by word to a run file, then
merges the runs word by word into shards of about SHARD_CHARS characters: memory holds a
task and one word at a time, whatever the size of the archive.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import heapq
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

from piperarc import urls
from piperarc.config import ListConfig
from piperarc.mail.words import WORD, fold, split_tail
from piperarc.model import Summary
from piperarc.render.text import iso_date, obfuscate, sender
from piperarc.site.files import Writer
from piperarc.store import Store, open_store

VERSION = 1
CHUNK = 256  # docs per doc file
TASK_FILES = 8  # doc files per task (2,048 docs)
SHARD_CHARS = 192_000  # postings characters per shard (about 40 KB gzipped)
GZIP_LEVEL = 1  # 11.6 MB for linux-man in 0.2 s; level 6: 10.2 MB in 1.4 s
COLUMNS = "sfbqax"  # subject, sender, body, quoted, files, facets
EXCERPT = 320  # characters of a message's own text kept for its result (search.js shows ~200)

# One message as the index takes it, ordered by date: (date_utc, list, num, key, subject,
# from_name, from_addr). Small tuples, not Summary objects: a build holds every message's.
Doc = tuple[int, str, int, str, str, str, str]
# A word's postings from one task or shard: (first doc, last doc, entries), the first
# entry's delta counted from doc 0.
Postings = tuple[int, int, str]


@dataclass(slots=True)
class IndexReport:
    docs: int = 0
    words: int = 0
    shards: int = 0


# Paths inside the index's folder (urls.search_index_folder()).
ROOT = "index.json.gz"


def _shard_path(name: str) -> str:
    return f"w/{name}.json.gz"


def _doc_path(number: int) -> str:
    return f"d/{number}.json.gz"


def _packed(value: Any) -> bytes:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def _unpacked(path: Path) -> Any:
    return json.loads(gzip.decompress(path.read_bytes()))


# -- a task: docs → postings --------------------------------------------------------------


def _excerpt(own: str, quoted: str) -> str:
    """The start of the sender's own text (no signature, no list footer), else of the
    quoted lines, cut at a word near EXCERPT characters: search.js shows the part of it
    around the first word found, or its start."""
    text = split_tail(own)[0]
    if not WORD.search(text):
        text = quoted
    flat = " ".join(text[: EXCERPT * 4].split())
    if len(flat) <= EXCERPT:
        return flat
    cut = flat.rfind(" ", 0, EXCERPT)
    return flat[: cut if cut > EXCERPT // 2 else EXCERPT] + " …"


def docs_of(list_name: str, summaries: Iterable[Summary]) -> list[Doc]:
    return [
        (s.date_utc, list_name, s.num, s.key, s.subject, s.from_name, s.from_addr)
        for s in summaries
    ]


def index_docs(
    store: Store, lists: dict[str, ListConfig], first: int, docs: Sequence[Doc]
) -> tuple[dict[str, Postings], list[list[str]]]:
    """The postings of `docs`, numbered from `first`, by word, and each doc's entry for
    its doc file. A doc the store no longer holds (removed meanwhile) gets an entry with
    no words: nothing finds it."""
    by_list: dict[str, list[int]] = {}
    for row in docs:
        by_list.setdefault(row[1], []).append(row[2])
    texts = {
        (name, num): text
        for name, nums in by_list.items()
        for num, text in store.search_texts(name, nums)
    }
    words: dict[str, list[Any]] = {}  # word -> [first doc, last doc, [entries]]
    metas: list[list[str]] = []
    findall = WORD.findall
    for doc, (date_utc, name, num, key, subject, from_name, from_addr) in enumerate(docs, first):
        mode = lists[name].obfuscate
        text = texts.get((name, num))
        metas.append(
            [
                urls.message(name, key),
                name,
                obfuscate(subject, mode),
                sender(from_name, from_addr, mode),
                iso_date(date_utc)[:10],
                obfuscate(_excerpt(text[2], text[3]), mode) if text else "",
            ]
        )
        if text is None:
            continue
        seen: dict[str, list[str]] = {}
        for letter, column in zip(COLUMNS, text, strict=True):
            found = findall(fold(column)) if column else None
            if not found:
                continue
            # Offsets grouped by word with C-level loops (a sort, groupby, join): a Python
            # step per distinct word of the column, not per word written.
            at = found.__getitem__
            for word, offsets in groupby(sorted(range(len(found)), key=at), at):
                group = letter + ",".join(map(str, offsets))
                parts = seen.get(word)
                if parts is None:
                    seen[word] = [group]
                else:
                    parts.append(group)
        for word, parts in seen.items():
            held = words.get(word)
            if held is None:
                words[word] = [doc, doc, [f"{doc}:{''.join(parts)}"]]
            else:
                held[2].append(f"{doc - held[1]}:{''.join(parts)}")
                held[1] = doc
    return {w: (h[0], h[1], ";".join(h[2])) for w, h in words.items()}, metas


def in_order(word: str) -> bytes:
    """A word's place in the index: the order of its UTF-16 code units, as the browser
    compares strings (by code points a letter past U+FFFF, such as U+1D41B, a bold b,
    comes after U+FF41, a fullwidth a; in UTF-16, before it)."""
    return word.encode("utf-16-be", "surrogatepass")


def _joined(before: Postings | None, after: Postings) -> Postings:
    """Postings of later docs appended to a word's earlier ones."""
    if before is None:
        return after
    first, last, entries = before
    delta, _, rest = after[2].partition(":")
    return first, after[1], f"{entries};{int(delta) - last}:{rest}"


# -- the build ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    database: Path | str
    lists: dict[str, ListConfig]


_job: _Job | None = None
_store: Store | None = None


def _init_worker(job: _Job) -> None:
    global _job, _store
    _job, _store = job, open_store(job.database, readonly=True)


def _task_in_worker(
    task: tuple[int, list[Doc]],
) -> tuple[list[tuple[str, Postings]], list[list[str]]]:
    assert _job is not None and _store is not None
    words, metas = index_docs(_store, _job.lists, *task)
    return sorted(words.items(), key=lambda item: in_order(item[0])), metas


def build(
    out: Path, database: Path | str, lists: Sequence[ListConfig], docs: list[Doc], jobs: int
) -> IndexReport:
    """Write the search index of `docs` (of `lists`; sorted here, by date) under `out`,
    replacing any earlier one whole (written beside it, then swapped in)."""
    report = IndexReport()
    docs.sort()
    report.docs = len(docs)
    size = CHUNK * TASK_FILES
    tasks = [(i, docs[i : i + size]) for i in range(0, len(docs), size)]
    final = out / urls.search_index_folder()
    fresh = out / f".{urls.search_index_folder()}.{os.getpid()}.tmp"
    shutil.rmtree(fresh, ignore_errors=True)
    job = _Job(database, {lst.name: lst for lst in lists})
    try:
        shards = _made(fresh, job, tasks, jobs, report)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    through: dict[str, int] = {}
    for _, name, num, *_ in docs:
        through[name] = max(num, through.get(name, 0))
    root = {
        "version": VERSION,
        "docs": len(docs),
        "chunk": CHUNK,
        "shards": shards,
        "through": through,
    }
    Writer(fresh).write(ROOT, _packed(root))
    old = out / f".{urls.search_index_folder()}.{os.getpid()}.old"
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return report


def _made(
    fresh: Path, job: _Job, tasks: list[tuple[int, list[Doc]]], jobs: int, report: IndexReport
) -> list[list[str]]:
    """The doc files and shards of `tasks` written under `fresh`; the shards' list."""
    writer = Writer(fresh)
    with tempfile.TemporaryDirectory(prefix="piperarc-index-") as scratch:
        runs: list[Path] = []

        def take(number: int, words: list[tuple[str, Postings]], metas: list[list[str]]) -> None:
            run = Path(scratch) / f"{number}.run"
            with run.open("w", encoding="utf-8") as fh:
                fh.writelines(f"{w}\t{p[0]}\t{p[1]}\t{p[2]}\n" for w, p in words)
            runs.append(run)
            first = number * TASK_FILES
            for k in range(0, len(metas), CHUNK):
                writer.write(_doc_path(first + k // CHUNK), _packed(metas[k : k + CHUNK]))

        if jobs > 1 and len(tasks) > 1:
            with _workers().Pool(jobs, initializer=_init_worker, initargs=(job,)) as pool:
                for number, (words, metas) in enumerate(pool.imap(_task_in_worker, tasks)):
                    take(number, words, metas)
        else:
            _init_worker(job)
            try:
                for number, task in enumerate(tasks):
                    take(number, *_task_in_worker(task))
            finally:
                _close_worker()
        shards = _write_shards(writer, _merged(runs), report)
    return shards


def _workers() -> multiprocessing.context.ForkServerContext:
    """Workers forked from a small fork server, not from the build: a fork of the build
    counts every page the build holds (at 100,000 messages, their summaries) in each
    worker's resident set, which took them to 299 MB. The server imports the program once
    ("__main__", this module), so a worker starts at once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


def start_workers() -> None:
    """Start the fork server now: it imports the program while the pages are written,
    not when the index is made."""
    _workers()
    forkserver.ensure_running()


def _close_worker() -> None:
    global _job, _store
    if _store is not None:
        _store.close()
    _job = _store = None


def _read_run(path: Path) -> Iterator[tuple[str, Postings]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word, first, last, entries = line.rstrip("\n").split("\t")
            yield word, (int(first), int(last), entries)


def _merged(runs: Sequence[Path]) -> Iterator[tuple[str, Postings]]:
    """Every word of the runs once, in order, its postings joined in the runs' order (the
    runs hold rising docs)."""
    streams = [
        ((in_order(word), i, word, p) for word, p in _read_run(run)) for i, run in enumerate(runs)
    ]
    word: str | None = None
    held: Postings | None = None
    for _, _, found, postings in heapq.merge(*streams):
        if found != word:
            if word is not None and held is not None:
                yield word, held
            word, held = found, None
        held = _joined(held, postings)
    if word is not None and held is not None:
        yield word, held


def _write_shards(
    writer: Writer, words: Iterable[tuple[str, Postings]], report: IndexReport
) -> list[list[str]]:
    shards: list[list[str]] = []
    shard: dict[str, list[Any]] = {}
    chars = 0

    def flush() -> None:
        nonlocal shard, chars
        name = str(len(shards))
        shards.append([next(iter(shard)), name])
        writer.write(_shard_path(name), _packed(shard))
        shard, chars = {}, 0

    for word, (_, last, entries) in words:
        shard[word] = [last, entries]
        chars += len(entries) + len(word)
        report.words += 1
        if chars >= SHARD_CHARS:
            flush()
    if shard:
        flush()
    if shards:
        shards[0][0] = ""  # the first shard holds every word before the second's
    report.shards = len(shards)
    return shards


# -- live delivery: new docs appended -----------------------------------------------------


def has_index(out: Path) -> bool:
    return (out / urls.search_index_folder() / ROOT).is_file()


def add(
    out: Path, store: Store, lst: ListConfig, new: Sequence[Summary], lists: dict[str, ListConfig]
) -> int:
    """Add the messages of `new` the index does not hold yet (numbered past what it holds
    of their list) as the next docs: their doc file(s) and the shards of their words are
    written again, nothing else. Returns how many were added."""
    folder = out / urls.search_index_folder()
    root = _unpacked(folder / ROOT)
    through = root["through"].get(lst.name, 0)
    fresh = sorted((s for s in new if s.num > through), key=lambda s: s.num)
    if not fresh:
        return 0
    start = root["docs"]
    words, metas = index_docs(store, lists, start, docs_of(lst.name, fresh))
    writer = Writer(folder)
    _append_docs(writer, root, start, metas)
    root["shards"] = _add_words(writer, root["shards"], words)
    root["docs"] = start + len(fresh)
    root["through"][lst.name] = fresh[-1].num
    writer.write(ROOT, _packed(root))  # last: readers see the docs and words first
    return len(fresh)


def _append_docs(writer: Writer, root: dict[str, Any], start: int, metas: list[list[str]]) -> None:
    chunk = root["chunk"]
    number, at = divmod(start, chunk)
    held: list[list[str]] = []
    if at:
        with contextlib.suppress(OSError, ValueError):
            held = _unpacked(writer.out / _doc_path(number))[:at]
    pending = held + metas
    while pending:
        writer.write(_doc_path(number), _packed(pending[:chunk]))
        pending = pending[chunk:]
        number += 1


def _add_words(
    writer: Writer, shards: list[list[str]], words: dict[str, Postings]
) -> list[list[str]]:
    firsts = [in_order(first) for first, _ in shards]
    touched: dict[int, list[str]] = {}
    for word in words:
        touched.setdefault(max(0, bisect.bisect_right(firsts, in_order(word)) - 1), []).append(word)
    result: list[list[str]] = []
    names = {name for _, name in shards}
    for i, (first, name) in enumerate(shards):
        if i not in touched:
            result.append([first, name])
            continue
        path = writer.out / _shard_path(name)
        shard: dict[str, list[Any]] = _unpacked(path) if path.is_file() else {}
        for word in touched[i]:
            held = shard.get(word)
            before = (0, held[0], held[1]) if held else None
            _, last, entries = _joined(before, words[word])
            shard[word] = [last, entries]
        parts = _split(shard)
        for k, part in enumerate(parts):
            part_name = name if k == 0 else _new_name(names)
            writer.write(_shard_path(part_name), _packed(part))
            result.append([first if k == 0 else next(iter(part)), part_name])
    if not shards and words:  # an empty index's first words
        result.append(["", "0"])
        writer.write(_shard_path("0"), _packed({w: [p[1], p[2]] for w, p in words.items()}))
    return result


def _split(shard: dict[str, list[Any]]) -> list[dict[str, list[Any]]]:
    """A shard grown past twice its size, cut into parts of about SHARD_CHARS, in order."""
    size = sum(len(w) + len(v[1]) for w, v in shard.items())
    ordered = dict(sorted(shard.items(), key=lambda item: in_order(item[0])))
    if size < 2 * SHARD_CHARS:
        return [ordered]
    parts: list[dict[str, list[Any]]] = [{}]
    chars = 0
    for word, value in ordered.items():
        if chars >= SHARD_CHARS:
            parts.append({})
            chars = 0
        parts[-1][word] = value
        chars += len(word) + len(value[1])
    return parts


def _new_name(names: set[str]) -> str:
    number = len(names)
    while str(number) in names:
        number += 1
    names.add(str(number))
    return str(number)
