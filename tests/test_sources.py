"""Readers: mbox (plain and compressed, mboxrd and mboxo), Maildir, .eml, detection."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path

import pytest

from piperarc.errors import SourceError, TruncatedSourceError
from piperarc.ingest.sources import detect, read_source

TWO = (
    b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nline\n>From the top\n\n"
    b"From c@d Tue Jan  2 00:00:00 2024\nSubject: two\n\n>>From quoted twice\n\n"
)
# The first bytes of a real PNG file: its signature and the start of its header chunk.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_mbox_yields_each_message_without_its_envelope_or_separator(tmp_path: Path) -> None:
    mails = list(read_source(_write(tmp_path / "list.mbox", TWO)))
    assert [m.raw for m in mails] == [
        b"Subject: one\n\nline\nFrom the top\n",
        b"Subject: two\n\n>From quoted twice\n",
    ]
    assert mails[0].envelope == "From a@b Mon Jan  1 00:00:00 2024"


def test_mboxo_unquotes_only_a_single_quote(tmp_path: Path) -> None:
    mails = list(read_source(_write(tmp_path / "list.mbox", TWO), "mboxo"))
    assert mails[1].raw == b"Subject: two\n\n>>From quoted twice\n"


@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)]
)
def test_compressed_mboxes_are_read_by_their_content(
    tmp_path: Path, suffix: str, compress: object
) -> None:
    path = _write(tmp_path / f"list{suffix}", compress(TWO))  # type: ignore[operator]
    assert detect(path) == "mbox"
    assert len(list(read_source(path))) == 2


def test_a_truncated_xz_mbox_keeps_the_messages_before_the_cut(tmp_path: Path) -> None:
    # Random bodies, so that half of the compressed file is half of the messages.
    messages = b"".join(
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: %d\n\n%s\n\n"
        % (i, os.urandom(300).hex().encode())
        for i in range(300)
    )
    data = lzma.compress(messages)
    path = _write(tmp_path / "cut.mbox.xz", data[: len(data) // 2])
    got = []
    with pytest.raises(TruncatedSourceError) as err:
        got.extend(read_source(path))
    assert 100 < len(got) < 300  # what came before the cut
    assert got[-1].problem is not None and "cut short" in got[-1].problem
    assert all(mail.problem is None for mail in got[:-1])
    assert "cut short" in str(err.value) and "cut.mbox.xz" in str(err.value)


def test_a_file_that_is_not_mail_is_refused_with_its_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes.txt", b"just some notes\nnot mail\n")
    with pytest.raises(SourceError, match=r"notes\.txt: not an mbox"):
        detect(path)


def test_a_folder_with_cur_and_new_is_a_maildir(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    _write(tmp_path / "md" / "new" / "1.host", b"Subject: new\n\nx\n")
    _write(tmp_path / "md" / "cur" / "2.host:2,S", b"Subject: seen\n\ny\n")
    _write(tmp_path / "md" / "tmp" / "3.host", b"Subject: in progress\n\nz\n")
    assert detect(tmp_path / "md") == "maildir"
    assert [m.raw.split(b"\n")[0] for m in read_source(tmp_path / "md")] == [
        b"Subject: new",
        b"Subject: seen",
    ]


def test_an_eml_with_an_envelope_line_keeps_the_line_apart(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.eml", b"From x@y Mon Jan  1 00:00:00 2024\nSubject: a\n\nb\n")
    assert detect(path) == "eml"  # a .eml is one message, whatever its first line
    (mail,) = read_source(path)
    assert (mail.envelope, mail.raw) == ("From x@y Mon Jan  1 00:00:00 2024", b"Subject: a\n\nb\n")


def test_an_eml_ending_in_blank_lines_keeps_them(tmp_path: Path) -> None:
    raw = b"Subject: a\n\nbody\n\n\n"
    (mail,) = read_source(
        _write(tmp_path / "tail.eml", b"From x@y Mon Jan  1 00:00:00 2024\n" + raw)
    )
    assert mail.raw == raw


def test_crlf_messages_are_kept_byte_exact(tmp_path: Path) -> None:
    raw = b"Subject: a\r\nFrom: x@y\r\n\r\nbody\r\n"
    (mail,) = read_source(_write(tmp_path / "crlf.eml", raw))
    assert mail.raw == raw


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        detect(tmp_path / "nowhere.mbox")


def test_a_folder_of_messages_yields_each_file_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "old-mail"
    folder.mkdir()
    _write(folder / "b.eml", b"Subject: second\n\nb\n")
    _write(folder / "a.eml", b"Subject: first\n\na\n")
    _write(folder / "c.mbox", TWO)  # an mbox among them gives each of its messages
    _write(folder / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    assert detect(folder) == "folder"
    assert [m.raw.split(b"\n")[0] for m in read_source(folder)] == [
        b"Subject: first",
        b"Subject: second",
        b"Subject: one",
        b"Subject: two",
    ]


def test_a_file_that_is_not_mail_in_a_folder_is_named_and_the_rest_read(tmp_path: Path) -> None:
    folder = tmp_path / "old-mail"
    folder.mkdir()
    _write(folder / "a.eml", b"Subject: first\n\na\n")
    _write(folder / "b.png", PNG)
    _write(folder / "c.eml", b"Subject: last\n\nc\n")
    got = []
    with pytest.raises(SourceError, match=r"old-mail: 1 of the 3 .* \(b\.png: binary data") as err:
        got.extend(read_source(folder))
    assert [m.raw.split(b"\n")[0] for m in got] == [b"Subject: first", b"Subject: last"]
    assert "a.eml" not in str(err.value)


def test_a_binary_file_is_called_binary_with_only_printable_characters(tmp_path: Path) -> None:
    path = _write(tmp_path / "logo.png", PNG + bytes(range(256)))
    with pytest.raises(SourceError) as err:
        detect(path)
    assert "binary data, not mail" in str(err.value)
    assert "89 50 4e 47" in str(err.value)  # the bytes shown as hex
    assert str(err.value).isprintable()


def test_the_first_line_of_a_text_file_that_is_not_mail_is_shown_escaped(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes.txt", b"\x1b[2Jnotes \xff\xfe\n")
    with pytest.raises(SourceError, match=r"starts with '\\x1b\[2Jnotes \\xff\\xfe'") as err:
        detect(path)
    assert str(err.value).isprintable()
