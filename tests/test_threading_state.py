"""Threading is derived state that any later run completes: an import killed after storing
some batches, or threads lost from the database, come back without new mail."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from piperarc import config as configlib
from piperarc import mid
from piperarc.ingest.deliver import prepare
from piperarc.ingest.sources import RawMail
from piperarc.ingest.sources.mbox import read_messages
from piperarc.ingest.sources.sample import sample_mbox
from piperarc.model import ThreadPlacement
from piperarc.store import open_store
from tests.conftest import Run, summary_counts


def _threads(run: Run, root: Path) -> int:
    result = run("stats", "--archive", root, "--json")
    return json.loads(result.stdout)["lists"]["salon"]["threads"]


def _archive(run: Run, tmp_path: Path, db_args: tuple[str, ...]) -> tuple[Path, Path]:
    root = tmp_path / "archive"
    assert run("init", root, "--list", "salon", *db_args).exit_code == 0
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    return root, mbox


def _store_unthreaded(root: Path, mbox: Path) -> None:
    """What a killed import leaves: every message stored, none threaded yet."""
    store = open_store(configlib.load(root).database)
    try:
        store.ensure_list("salon")
        mail = [prepare(m) for m in read_messages(mbox, "mboxrd")]
        store.add_messages("salon", mail, 1_700_000_000)
    finally:
        store.close()


def test_an_import_that_adds_nothing_threads_what_a_killed_one_left(
    run: Run, tmp_path: Path, db_args: tuple[str, ...]
) -> None:
    clean, mbox = _archive(run, tmp_path / "clean", ())
    run("import", "--archive", clean, "--list", "salon", mbox)
    root, mbox = _archive(run, tmp_path, db_args)
    _store_unthreaded(root, mbox)
    assert _threads(run, root) <= 1
    result = run("import", "--archive", root, "--list", "salon", mbox)
    assert summary_counts(result)[0] == 0
    assert _threads(run, root) == _threads(run, clean) > 1


def test_reindex_rebuilds_lost_threads(run: Run, tmp_path: Path, db_args: tuple[str, ...]) -> None:
    root, mbox = _archive(run, tmp_path, db_args)
    run("import", "--archive", root, "--list", "salon", mbox)
    threads = _threads(run, root)
    store = open_store(configlib.load(root).database)
    try:
        # Every message put in one thread, as a bug or a bad restore might leave them.
        summaries = store.summaries("salon")
        first = summaries[0].thread_key
        store.set_threads(
            "salon",
            [
                ThreadPlacement(s.num, first, None if i == 0 else summaries[0].num, min(i, 1), i)
                for i, s in enumerate(summaries)
            ],
        )
    finally:
        store.close()
    assert _threads(run, root) == 1
    result = run("reindex", "--archive", root)
    assert "rethreaded" in result.stdout
    assert _threads(run, root) == threads


def test_a_message_stored_with_50000_references_is_threaded_by_the_capped_few(
    tmp_path: Path,
) -> None:
    # Stored as an archive made before the cap keeps it: every id in its refs column.
    store = open_store(tmp_path / "a.sqlite3")
    try:
        store.ensure_list("l")
        new = prepare(RawMail(b"Message-ID: <m@x>\nSubject: s\n\nbody\n", None, "test"))
        refs = tuple(f"r{i}@x" for i in range(50_000))
        parsed = dataclasses.replace(new.parsed, references=refs)
        store.add_messages("l", [dataclasses.replace(new, parsed=parsed)], 1_700_000_000)
        (summary,) = store.summaries("l")
        assert summary.references == mid.capped(refs)
        assert len(summary.references) == mid.MAX_REFERENCES
        assert store.raw("l", summary.num) == new.raw  # the header itself is kept as it came
    finally:
        store.close()
