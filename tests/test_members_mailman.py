"""The members of a private list as Mailman 3 knows them (web/members.py), against a real
Mailman 3 core's REST API started by the test: members, owners and moderators read the
list, nonmembers and strangers do not, the answer is kept 60 s, and a Mailman that cannot
say (stopped, a wrong password, an unknown list) lets nobody in."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from piperarc import config as configlib
from piperarc.web.app import create_app
from piperarc.web.members import MailmanMembers
from tests.conftest import IN_CI, Run

if importlib.util.find_spec("mailman") is None:
    if IN_CI:
        pytest.fail("CI needs Mailman 3: pip install -e '.[test,mailman]'", pytrace=False)
    pytest.skip("Mailman 3 is not installed (pip install -e '.[mailman]')", allow_module_level=True)

USER, PASSWORD = "restadmin", "restpass"
LIST = "staff@example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailman:
    """A running Mailman 3 core's REST API (its `rest` runner alone: no mail flows)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, **fields: str) -> int:
        data = urllib.parse.urlencode(fields).encode() if fields else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)

    def subscribe(self, address: str, role: str = "member") -> None:
        self.call(
            "POST", "members", list_id="staff.example.org", subscriber=address, role=role,
            pre_verified="true", pre_confirmed="true", pre_approved="true",
        )  # fmt: skip

    def unsubscribe(self, address: str) -> None:
        found = urllib.request.Request(
            self.url + f"lists/{LIST}/member/{address}",
            headers={
                "Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            },
        )
        with urllib.request.urlopen(found, timeout=10) as answer:
            member = json.loads(answer.read())
        self.call("DELETE", f"members/{member['member_id']}")


@pytest.fixture(scope="module")
def mailman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailman]:
    """Mailman 3 with a list staff@example.org: ada a member, olga its owner, mo a
    moderator, nick a nonmember."""
    home = tmp_path_factory.mktemp("mailman")
    port = _free_port()
    cfg = home / "mailman.cfg"
    cfg.write_text(
        f"""
[mailman]
site_owner: owner@example.org
layout: here

[paths.here]
var_dir: {home}/var

[devmode]
enabled: yes
recipient: nobody@example.org

[mta]
incoming: mailman.testing.mta.FakeMTA
smtp_port: {_free_port()}
lmtp_port: {_free_port()}

[webservice]
hostname: 127.0.0.1
port: {port}
workers: 1
admin_user: {USER}
admin_pass: {PASSWORD}

[archiver.prototype]
enable: no
"""
    )
    runner = Path(sys.executable).with_name("runner")
    log = (home / "runner.log").open("wb")
    process = subprocess.Popen(
        [str(runner), "-C", str(cfg), "-r", "rest"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    server = Mailman(f"http://127.0.0.1:{port}/3.1/")
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (home / "runner.log").read_text(errors="replace")
            try:
                server.call("GET", "system/versions")
                break
            except OSError:
                assert time.monotonic() < deadline, "Mailman's REST API did not start"
                time.sleep(0.2)
        server.call("POST", "domains", mail_host="example.org")
        server.call("POST", "lists", fqdn_listname=LIST)
        server.subscribe("ada@example.org")
        server.subscribe("olga@example.org", "owner")
        server.subscribe("mo@example.org", "moderator")
        server.subscribe("nick@example.org", "nonmember")
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _members(mailman: Mailman, **options: object) -> MailmanMembers:
    return MailmanMembers(mailman.url, USER, PASSWORD, LIST, **options)  # type: ignore[arg-type]


def test_a_member_may_read(mailman: Mailman) -> None:
    assert _members(mailman).may_read("ada@example.org")


def test_an_owner_and_a_moderator_may_read(mailman: Mailman) -> None:
    members = _members(mailman)
    assert members.may_read("olga@example.org")
    assert members.may_read("mo@example.org")


def test_a_nonmember_may_not(mailman: Mailman) -> None:
    assert not _members(mailman).may_read("nick@example.org")


def test_a_stranger_may_not(mailman: Mailman) -> None:
    assert not _members(mailman).may_read("mallory@example.org")


def test_addresses_compare_in_any_case(mailman: Mailman) -> None:
    assert _members(mailman).may_read("ADA@Example.ORG")


def test_every_page_of_a_long_roster_is_read(mailman: Mailman) -> None:
    assert _members(mailman, page_size=1).addresses() == {
        "ada@example.org",
        "olga@example.org",
        "mo@example.org",
    }


def test_the_answer_is_kept_a_minute_then_asked_again(mailman: Mailman) -> None:
    clock = Clock()
    members = _members(mailman, clock=clock)
    assert not members.may_read("late@example.org")
    mailman.subscribe("late@example.org")
    try:
        clock.now += 59
        assert not members.may_read("late@example.org")  # still the answer of a minute ago
        clock.now += 1
        assert members.may_read("late@example.org")
        mailman.unsubscribe("late@example.org")
        clock.now += 60
        assert not members.may_read("late@example.org")
    finally:
        with contextlib.suppress(OSError):
            mailman.unsubscribe("late@example.org")


def test_a_wrong_password_lets_nobody_in(mailman: Mailman) -> None:
    members = MailmanMembers(mailman.url, USER, "wrong", LIST)
    assert not members.may_read("ada@example.org")


def test_an_unknown_list_lets_nobody_in(mailman: Mailman) -> None:
    members = MailmanMembers(mailman.url, USER, PASSWORD, "nolist@example.org")
    assert not members.may_read("ada@example.org")


def test_a_mailman_that_does_not_answer_lets_nobody_in() -> None:
    members = MailmanMembers(f"http://127.0.0.1:{_free_port()}/3.1/", USER, PASSWORD, LIST)
    assert not members.may_read("ada@example.org")


def test_a_failed_ask_does_not_keep_the_answer_before_it(mailman: Mailman) -> None:
    clock = Clock()
    members = _members(mailman, clock=clock)
    assert members.may_read("ada@example.org")
    members.rest_url = f"http://127.0.0.1:{_free_port()}/3.1/"  # Mailman went away
    clock.now += 60
    assert not members.may_read("ada@example.org")


def test_the_server_shows_a_mailman_lists_archive_to_its_members(
    mailman: Mailman, run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    assert run("init", root).exit_code == 0
    toml = root / configlib.CONFIG_NAME
    toml.write_text(
        toml.read_text()
        + f'mailman_rest = "{mailman.url}"\nmailman_user = "{USER}"\n'
        + f'mailman_password = "{PASSWORD}"\n'
    )
    made = run(
        "init", root, "--list", "staff", "--address", LIST, "--private", "--members", "mailman"
    )
    assert made.exit_code == 0, made.output
    mail = "From: Ada <ada@example.org>\nSubject: Hi\nMessage-ID: <hi@example.org>\n\nHi.\n"
    assert run("deliver", "--archive", root, "--list", "staff", input=mail).exit_code == 0
    app = create_app(configlib.load(root), reader_header="X-Remote-User")

    def status(reader: str) -> int:
        async def fetch() -> int:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                got = await client.get("/staff/", headers={"X-Remote-User": reader})
                return got.status_code

        return asyncio.run(fetch())

    assert status("olga@example.org") == 200
    assert status("nick@example.org") == 404


def test_mailman_back_after_a_failure_is_asked_again_within_seconds(mailman: Mailman) -> None:
    clock = Clock()
    members = _members(mailman, clock=clock)
    real = members.rest_url
    members.rest_url = f"http://127.0.0.1:{_free_port()}/3.1/"  # Mailman away
    assert not members.may_read("ada@example.org")
    members.rest_url = real  # and back
    clock.now += 5
    assert members.may_read("ada@example.org")
