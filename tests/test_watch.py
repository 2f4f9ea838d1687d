"""`piperarc watch`: mail landing in a Maildir's new/ is archived, then moved to cur/."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from piperarc import config as configlib
from piperarc.ingest.watch import import_new, watch
from piperarc.store import open_store
from tests.conftest import Run
from tests.livehelpers import message


def _maildir(root: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True)
    return root


def _land(maildir: Path, name: str, raw: bytes) -> None:
    """Deliver as a Maildir writer does: into tmp/, then renamed into new/."""
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).replace(maildir / "new" / name)


def _mids(archive: Path) -> list[str]:
    store = open_store(configlib.load(archive).database, readonly=True)
    try:
        return [s.mid for s in store.summaries("salon")] if store.list_names() else []
    finally:
        store.close()


def test_new_mail_is_stored_and_moved_to_cur_with_the_info_suffix(
    archive: Path, tmp_path: Path
) -> None:
    maildir = _maildir(tmp_path / "Maildir")
    _land(maildir, "1700000000.M1P1.host", message(1))
    _land(maildir, "1700000001.M2P1.host", message(2))
    assert import_new(configlib.load(archive), "salon", maildir) == (2, 0)
    assert _mids(archive) == ["m1@test.example", "m2@test.example"]
    assert list((maildir / "new").iterdir()) == []
    assert sorted(p.name for p in (maildir / "cur").iterdir()) == [
        "1700000000.M1P1.host:2,",
        "1700000001.M2P1.host:2,",
    ]


def test_a_file_left_in_new_after_its_commit_is_moved_without_a_second_copy(
    archive: Path, tmp_path: Path
) -> None:
    maildir = _maildir(tmp_path / "Maildir")
    _land(maildir, "1.M1P1.host", message(1))
    import_new(configlib.load(archive), "salon", maildir)
    # As if the watcher died between the commit and the move: the file is back in new/.
    (maildir / "cur" / "1.M1P1.host:2,").replace(maildir / "new" / "1.M1P1.host")
    assert import_new(configlib.load(archive), "salon", maildir) == (0, 1)
    assert _mids(archive) == ["m1@test.example"]
    assert list((maildir / "new").iterdir()) == []


def test_watching_archives_mail_that_lands_while_it_runs(archive: Path, tmp_path: Path) -> None:
    maildir = _maildir(tmp_path / "Maildir")
    stop = threading.Event()
    passes: list[tuple[int, int]] = []
    watcher = threading.Thread(
        target=watch,
        args=(configlib.load(archive), "salon", maildir),
        kwargs={"poll": 0.2, "stop": stop, "on_pass": lambda *c: passes.append(c)},
    )
    watcher.start()
    try:
        _land(maildir, "1.M1P1.host", message(1))
        deadline = time.monotonic() + 30
        while not list((maildir / "cur").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert _mids(archive) == ["m1@test.example"]
    assert (maildir / "cur" / "1.M1P1.host:2,").exists()


def test_watch_once_imports_what_is_there_and_stops(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    maildir = _maildir(tmp_path / "Maildir")
    _land(maildir, "1.M1P1.host:2,S", message(1))
    result = run("watch", "--archive", archive, "--list", "salon", "--once", maildir)
    assert result.exit_code == 0, result.output
    assert "imported 1 new" in result.stdout
    assert (maildir / "cur" / "1.M1P1.host:2,S").exists()


def test_watching_a_folder_that_is_no_maildir_is_an_error(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    result = run("watch", "--archive", archive, "--list", "salon", tmp_path)
    assert result.exit_code == 1
    assert "not a Maildir" in result.stderr
