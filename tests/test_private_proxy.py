"""A private list behind a real reverse proxy, as docs/private-lists.md sets it up: Debian's
nginx on loopback authenticates readers (HTTP basic auth) and passes their name in
X-Remote-User to `piperarc serve --uds` on a unix socket. A member reads the list; another
reader, and a reader who sends the header himself, do not."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Run
from tests.nginxhelpers import nginx_running

MESSAGE = b"""From: Ada <ada@example.org>
To: staff@example.org
Subject: The zebracorn plan
Date: Mon, 15 Jan 2024 10:00:00 +0000
Message-ID: <zebracorn@staff.example.org>

Members only.
"""


@pytest.fixture
def proxied(tmp_path: Path, run: Run) -> Iterator[str]:
    """nginx in front of `piperarc serve --uds`, the archive holding a public list and a
    private one whose only member is ada@example.org; yields nginx's base URL."""
    root = tmp_path / "archive"
    assert run("init", root, "--list", "salon").exit_code == 0
    made = run("init", root, "--list", "staff", "--private", "--members", "staff.txt")
    assert made.exit_code == 0, made.output
    (root / "staff.txt").write_text("ada@example.org\n")
    assert run("deliver", "--archive", root, "--list", "staff", input=MESSAGE).exit_code == 0
    assert run("deliver", "--archive", root, "--list", "salon", input=MESSAGE).exit_code == 0
    # Who may log in to the proxy (nginx reads {PLAIN} passwords as they are).
    (tmp_path / "htpasswd").write_text(
        "ada@example.org:{PLAIN}ada-secret\nbob@example.org:{PLAIN}bob-secret\n"
    )
    sock = tmp_path / "piperarc.sock"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "piperarc.cli", "serve", "--archive", str(root),
         "--uds", str(sock), "--reader-header", "X-Remote-User", "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "piperarc serve did not start"
            time.sleep(0.05)
        http = f"""
    server {{
        listen 127.0.0.1:{{port}};
        location / {{
            auth_basic "Members";
            auth_basic_user_file {tmp_path}/htpasswd;
            proxy_set_header X-Remote-User $remote_user;
            proxy_set_header Host $host;
            proxy_pass http://unix:{sock}:;
        }}
    }}
"""
        with nginx_running(http, tmp_path / "nginx") as base:
            yield base
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def test_a_member_logged_in_at_the_proxy_reads_the_private_list(proxied: str) -> None:
    got = httpx.get(proxied + "/staff/", auth=("ada@example.org", "ada-secret"))
    assert got.status_code == 200
    assert got.headers["cache-control"] == "private, no-store"


def test_another_reader_logged_in_at_the_proxy_finds_no_such_list(proxied: str) -> None:
    got = httpx.get(proxied + "/staff/", auth=("bob@example.org", "bob-secret"))
    missing = httpx.get(proxied + "/nolist/", auth=("bob@example.org", "bob-secret"))
    assert got.status_code == missing.status_code == 404
    assert "zebracorn" not in httpx.get(proxied + "/", auth=("bob@example.org", "bob-secret")).text


def test_a_reader_cannot_name_himself_in_the_header(proxied: str) -> None:
    got = httpx.get(
        proxied + "/staff/",
        auth=("bob@example.org", "bob-secret"),
        headers={"X-Remote-User": "ada@example.org"},
    )
    assert got.status_code == 404


def test_the_public_list_is_read_by_any_reader_the_proxy_lets_in(proxied: str) -> None:
    got = httpx.get(proxied + "/salon/", auth=("bob@example.org", "bob-secret"))
    assert got.status_code == 200
