"""The command line as a user meets it: exact output shapes, clear errors, exit codes."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import socket
from pathlib import Path

import pytest

from piperarc.ingest.sources.sample import sample_mbox
from tests.conftest import Run

ONE = (
    b"From: Ada <ada@example.org>\nSubject: Hello\nDate: Mon, 1 Jan 2024 10:00:00 +0100\n"
    b"Message-ID: <one@example.org>\n\nHi.\nFrom the start.\n"
)


def _sample(tmp_path: Path) -> Path:
    path = tmp_path / "salon.mbox"
    path.write_bytes(sample_mbox())
    return path


def test_import_ends_with_one_summary_line(run: Run, archive: Path, tmp_path: Path) -> None:
    result = run("import", "--archive", archive, "--list", "salon", _sample(tmp_path))
    assert result.exit_code == 0
    assert result.stdout == "imported 27 new, 0 duplicates skipped, 0 damaged (kept as raw text)\n"


def test_importing_the_same_mbox_again_adds_nothing(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    sample = _sample(tmp_path)
    run("import", "--archive", archive, "--list", "salon", sample)
    again = run("import", "--archive", archive, "--list", "salon", sample)
    assert again.stdout.startswith("imported 0 new, 27 duplicates skipped")


def test_stats_json_has_the_documented_shape(run: Run, archive: Path, tmp_path: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", _sample(tmp_path))
    stats = json.loads(run("stats", "--archive", archive, "--json").stdout)
    assert stats == {
        "lists": {
            "salon": {
                "messages": 27,
                "threads": 7,
                "damaged": 0,
                "duplicates": 0,
                "first": "2024-01-01T00:00:00Z",
                "last": "2024-05-18T09:30:00Z",
            }
        }
    }


def test_show_json_gives_the_fields_and_the_page_url(run: Run, archive: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", "-", input=ONE)
    shown = json.loads(
        run("show", "--archive", archive, "--list", "salon", "<one@example.org>", "--json").stdout
    )
    assert shown["message_id"] == "one@example.org"
    assert shown["url"].startswith("salon/m/") and shown["url"].endswith(".html")
    assert (shown["date"], shown["date_offset"]) == ("2024-01-01T09:00:00Z", "+01:00")
    assert (shown["from_name"], shown["from_address"]) == ("Ada", "ada@example.org")
    assert "others" not in shown


def test_show_says_when_other_messages_share_the_message_id(run: Run, archive: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", "-", input=ONE)
    run("import", "--archive", archive, "--list", "salon", "-", input=ONE + b"Edited.\n")
    shown = json.loads(
        run("show", "--archive", archive, "--list", "salon", "one@example.org", "--json").stdout
    )
    assert shown["number"] == 1
    assert [o["number"] for o in shown["others"]] == [2]
    assert "share this Message-ID" in shown["note"]


def test_export_writes_mboxrd_with_each_message_byte_exact(run: Run, archive: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", "-", input=ONE)
    out = run("export", "--archive", archive, "--list", "salon").stdout_bytes
    assert out.startswith(b"From ada@example.org Mon Jan  1 09:00:00 2024\n")
    assert out.endswith(ONE.replace(b"\nFrom the start", b"\n>From the start") + b"\n")


def test_export_of_a_thread_holds_only_that_thread(run: Run, archive: Path, tmp_path: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", _sample(tmp_path))
    out = run(
        "export", "--archive", archive, "--list", "salon", "--thread", "sample-6@example.org"
    ).stdout_bytes
    assert out.count(b"\nFrom ") + 1 == 6  # "Notes on the Analytical Engine": 5 + 1 late
    assert b"Message-ID: <sample-6@example.org>" in out


def test_the_period_download_is_gzipped_mboxrd(run: Run, archive: Path, tmp_path: Path) -> None:
    run("import", "--archive", archive, "--list", "salon", _sample(tmp_path))
    run("build", "--archive", archive)
    data = gzip.decompress((archive / "site" / "salon" / "2024-03.mbox.gz").read_bytes())
    assert data.startswith(b"From ")
    assert data.count(b"\nMessage-ID: <sample-") == 4


def test_an_unknown_list_is_one_clear_error(run: Run, archive: Path, tmp_path: Path) -> None:
    result = run("import", "--archive", archive, "--list", "nope", _sample(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("piperarc: error: ")
    assert "no list named 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_archive_is_one_clear_error(run: Run, tmp_path: Path) -> None:
    result = run("stats", "--archive", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "not a piperarc archive" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_source_fails_the_run_but_good_sources_are_imported(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"this is not mail\n")
    result = run("import", "--archive", archive, "--list", "salon", junk, _sample(tmp_path))
    assert result.exit_code == 1
    assert f"{junk}: not an mbox, Maildir or message" in result.stderr
    assert result.stdout.startswith("imported 27 new")


def test_the_archive_can_come_from_the_environment(
    run: Run, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPERARC_ARCHIVE", str(archive))
    result = run("stats", "--json")
    assert json.loads(result.stdout)["lists"]["salon"]["messages"] == 0


def test_init_adds_a_second_list_to_an_archive(run: Run, archive: Path) -> None:
    result = run("init", archive, "--list", "dev", "--period", "quarter", "--obfuscate", "hide")
    assert result.exit_code == 0
    stats = json.loads(run("stats", "--archive", archive, "--json").stdout)
    assert sorted(stats["lists"]) == ["dev", "salon"]


def test_demo_builds_an_archive_a_newcomer_can_open(run: Run, tmp_path: Path) -> None:
    result = run("demo", tmp_path / "demo")
    assert result.exit_code == 0
    assert (tmp_path / "demo" / "site" / "index.html").is_file()
    assert result.stdout.strip().splitlines()[-1].startswith("open ")


def test_a_truncated_mbox_keeps_every_message_before_the_cut(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    messages = b"".join(
        b"From a@b Mon Jan  1 00:00:00 2024\nMessage-ID: <%d@x>\nSubject: %d\n\n%s\n\n"
        % (i, i, os.urandom(300).hex().encode())
        for i in range(300)
    )
    data = lzma.compress(messages)
    cut = tmp_path / "cut.mbox.xz"
    cut.write_bytes(data[: len(data) // 2])
    result = run("import", "--archive", archive, "--list", "salon", cut)
    assert result.exit_code == 1
    assert f"{cut}: cut short" in result.stderr
    new = int(result.stdout.split()[1])
    assert 100 < new < 300
    assert "1 damaged" in result.stdout  # the message the cut fell in, kept as it was
    stats = json.loads(run("stats", "--archive", archive, "--json").stdout)
    assert stats["lists"]["salon"]["messages"] == new


def test_a_maildir_imports_new_and_cur_but_not_tmp(run: Run, archive: Path, tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    (tmp_path / "md" / "new" / "1.host").write_bytes(ONE)
    (tmp_path / "md" / "cur" / "2.host:2,S").write_bytes(ONE.replace(b"one@", b"two@"))
    (tmp_path / "md" / "tmp" / "3.host").write_bytes(ONE.replace(b"one@", b"three@"))
    result = run("import", "--archive", archive, "--list", "salon", tmp_path / "md")
    assert result.stdout.startswith("imported 2 new")


def test_stdin_takes_one_message_with_or_without_an_envelope(run: Run, archive: Path) -> None:
    run(
        "import",
        "--archive",
        archive,
        "--list",
        "salon",
        "-",
        input=b"From ada@example.org Mon Jan  1 09:00:00 2024\n" + ONE,
    )
    again = run("import", "--archive", archive, "--list", "salon", "-", input=ONE)
    assert again.stdout.startswith("imported 0 new, 1 duplicates skipped")


def test_a_list_cannot_take_the_name_of_the_archives_own_pages(run: Run, archive: Path) -> None:
    result = run("init", archive, "--list", "api")
    assert result.exit_code == 1
    assert "taken by the archive's own pages" in result.stderr


def test_init_takes_several_lists_and_says_each(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "lists"
    result = run("init", root, "--list", "a", "--list", "b")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"created list 'a' in archive {root}",
        f"created list 'b' in archive {root}",
    ]
    stats = json.loads(run("stats", "--archive", root, "--json").stdout)
    assert sorted(stats["lists"]) == ["a", "b"]


def test_init_on_an_existing_archive_with_nothing_new_says_nothing_changed(
    run: Run, archive: Path
) -> None:
    before = (archive / "piperarc.toml").read_bytes()
    result = run("init", archive)
    assert result.exit_code == 0
    assert "nothing to change" in result.stdout and "updated" not in result.stdout
    assert f"piperarc init {archive} --list NAME" in result.stdout
    assert (archive / "piperarc.toml").read_bytes() == before


def test_import_without_list_goes_into_the_archives_only_list(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    result = run("import", "--archive", archive, _sample(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 27 new")


def test_import_without_list_in_an_archive_of_several_names_them(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    run("init", archive, "--list", "dev")
    result = run("import", "--archive", archive, _sample(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith("piperarc: error: ")
    assert "2 lists (salon, dev)" in result.stderr and "--list NAME" in result.stderr


def test_a_folder_of_eml_files_is_imported_as_readme_shows(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "old-mail"
    folder.mkdir()
    for n in (2, 1, 3):
        (folder / f"{n}.eml").write_bytes(ONE.replace(b"one@", f"m{n}@".encode()))
    result = run("import", "--archive", archive, "--list", "salon", folder)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 3 new")
    shown = json.loads(
        run("show", "--archive", archive, "--list", "salon", "m1@example.org", "--json").stdout
    )
    assert shown["number"] == 1  # numbered in the files' name order


def test_importing_a_binary_file_says_so_in_printable_text_and_fails(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "program"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    result = run("import", "--archive", archive, "--list", "salon", binary)
    assert result.exit_code == 1
    assert f"{binary}: binary data, not mail" in result.stderr
    assert all(line.isprintable() for line in result.stderr.splitlines())
    assert result.stdout.startswith("imported 0 new")


def test_a_file_name_with_control_characters_is_printed_escaped(
    run: Run, archive: Path, tmp_path: Path
) -> None:
    evil = tmp_path / "evil\x1b[2J.txt"  # ESC [2J clears a terminal
    evil.write_bytes(b"not mail at all\n")
    result = run("import", "--archive", archive, "--list", "salon", evil)
    assert result.exit_code == 1
    assert "evil\\x1b[2J.txt: not an mbox" in result.stderr
    assert "\x1b" not in result.stderr


def test_serve_on_a_busy_port_names_it_and_starts_nothing(run: Run, archive: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--archive", archive, "--port", port)
    assert result.exit_code == 1
    assert "serving" not in result.stderr
    assert f"port {port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
