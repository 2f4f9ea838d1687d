"""Mailman 2 hands new mail to piperarc as its external archiver: mm_cfg.py's
PUBLIC_EXTERNAL_ARCHIVER (or PRIVATE_EXTERNAL_ARCHIVER) is a shell command in which Mailman
substitutes %(listname)s and %(hostname)s, and to which it writes the message, envelope
line first (Python 2's str(msg)), then logs a non-zero exit. Run here the same way: the
line docs/migrating.md gives, substituted with %, through the shell, the message on stdin."""

from __future__ import annotations

import email
import email.policy
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.livehelpers import PIPERARC

# The line docs/migrating.md tells an operator to put in mm_cfg.py (the archive's folder
# and the executable's path filled in by the test).
MM_CFG_LINE = "{piperarc} deliver --archive {archive} --list %(listname)s"

POST = """From: Ada <ada@example.org>
To: salon@lists.example.org
Subject: [Salon] Engines
Date: Mon, 15 Jan 2024 10:00:00 +0000
Message-ID: <engines@example.org>

Shall we talk about engines?
"""


def _as_mailman2_writes(text: str) -> bytes:
    """The message as Mailman 2 writes it to the archiver's pipe: str(msg), which in
    Python 2's email package includes the envelope From_ line."""
    msg = email.message_from_string(text, policy=email.policy.compat32)
    msg.set_unixfrom("From ada@example.org  Mon Jan 15 10:00:00 2024")
    return msg.as_string(unixfrom=True).encode()


def _run_as_mailman2(archive: Path, listname: str, data: bytes) -> int:
    command = MM_CFG_LINE.format(
        piperarc=shlex.quote(PIPERARC), archive=shlex.quote(str(archive))
    ) % {"listname": listname, "hostname": "lists.example.org"}
    # os.popen(cmd, 'w') in Mailman 2: the command through /bin/sh, the message on stdin.
    done = subprocess.run(command, shell=True, input=data, capture_output=True, check=False)
    return done.returncode


@pytest.fixture
def archive(tmp_path: Path, run: Run) -> Path:
    root = tmp_path / "archive"
    assert run("init", root, "--list", "salon").exit_code == 0
    return root


def test_a_post_handed_over_as_mailman2_does_is_archived(archive: Path, run: Run) -> None:
    assert _run_as_mailman2(archive, "salon", _as_mailman2_writes(POST)) == 0
    shown = run("show", "--archive", archive, "--list", "salon", "--json", "engines@example.org")
    fields = json.loads(shown.stdout)
    assert fields["subject"] == "[Salon] Engines"
    # The envelope line is not part of the message: the original starts with its headers.
    export = run("export", "--archive", archive, "--list", "salon")
    assert "From: Ada <ada@example.org>" in export.stdout


def test_the_same_post_handed_over_twice_is_archived_once(archive: Path, run: Run) -> None:
    for _ in range(2):
        assert _run_as_mailman2(archive, "salon", _as_mailman2_writes(POST)) == 0
    stats = json.loads(run("stats", "--archive", archive, "--json").stdout)
    assert (stats["lists"]["salon"]["messages"], stats["lists"]["salon"]["duplicates"]) == (1, 1)


def test_a_list_the_archive_does_not_have_exits_non_zero_for_mailmans_log(
    archive: Path,
) -> None:
    assert _run_as_mailman2(archive, "other", _as_mailman2_writes(POST)) == 67
