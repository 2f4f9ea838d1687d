"""HyperKitty's URLs (Mailman 3's archiver) lead to the same pages here with nothing to
import but the mail: messages and threads by the hash of their Message-ID, months, the
list's overview; in `serve` as 301s and in the built site's redirect maps."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from pathlib import Path

import pytest

from piperarc import config as configlib
from piperarc import mid as midlib
from piperarc.web.app import create_app
from tests.conftest import IN_CI, Run
from tests.livehelpers import asgi_get

FIRST = b"""From: Ada <ada@example.org>
To: salon@example.org
Subject: Engines
Date: Mon, 15 Jan 2024 10:00:00 +0000
Message-ID: <engines@example.org>

Shall we talk about engines?
"""
REPLY = b"""From: Charles <charles@example.org>
To: salon@example.org
Subject: Re: Engines
Date: Tue, 13 Feb 2024 10:00:00 +0000
Message-ID: <reply@example.org>
In-Reply-To: <engines@example.org>

Yes.
"""


@pytest.fixture
def archive(tmp_path: Path, run: Run) -> Path:
    root = tmp_path / "archive"
    run("init", root, "--list", "salon", "--address", "Salon@Example.org")
    for n, raw in enumerate((FIRST, REPLY)):
        (tmp_path / f"{n}.eml").write_bytes(raw)
        assert run("import", "--archive", root, tmp_path / f"{n}.eml").exit_code == 0
    return root


def _hash(mid: str) -> str:
    return base64.b32encode(hashlib.sha1(mid.encode()).digest()).decode()


def test_the_hash_is_what_mailman_puts_in_message_id_hash() -> None:
    # Mailman 3 itself computes the header HyperKitty's URLs are made of.
    if importlib.util.find_spec("mailman") is None:
        if IN_CI:
            pytest.fail("CI needs Mailman 3: pip install -e '.[test,mailman]'")
        pytest.skip("Mailman 3 is not installed (pip install -e '.[mailman]')")
    from mailman.email.message import Message
    from mailman.utilities.email import add_message_hash

    for mid in ("engines@example.org", "CAHk-=wh+x/y@mail.gmail.com", "no-at-sign"):
        msg = Message()
        msg["Message-ID"] = f"<{mid}>"
        assert add_message_hash(msg) == midlib.hyperkitty_hash(mid)


def _location(archive: Path, path: str) -> tuple[int, str]:
    response = asgi_get(create_app(configlib.load(archive)), path)
    return response.status_code, response.headers.get("location", "")


def _key(run: Run, archive: Path, mid: str) -> str:
    import json

    shown = run("show", "--archive", archive, "--list", "salon", "--json", mid)
    return str(json.loads(shown.stdout)["url"])


def test_a_hyperkitty_message_url_moves_to_the_permalink(archive: Path, run: Run) -> None:
    path = f"/hyperkitty/list/salon@example.org/message/{_hash('reply@example.org')}/"
    assert _location(archive, path) == (301, "/" + _key(run, archive, "reply@example.org"))


def test_a_hyperkitty_thread_url_moves_to_the_thread_page(archive: Path, run: Run) -> None:
    path = f"/hyperkitty/list/salon@example.org/thread/{_hash('engines@example.org')}/"
    status, location = _location(archive, path)
    assert status == 301
    assert location.startswith("/salon/t/") and location.endswith(".html")


def test_a_hyperkitty_month_moves_to_that_months_view(archive: Path) -> None:
    assert _location(archive, "/hyperkitty/list/salon@example.org/2024/2/") == (
        301,
        "/salon/2024-02/thread.html",
    )


def test_the_hyperkitty_overview_moves_to_the_list_home(archive: Path) -> None:
    assert _location(archive, "/hyperkitty/list/salon@example.org/") == (
        301,
        "/salon/index.html",
    )


def test_a_hash_nobody_has_is_not_found(archive: Path) -> None:
    path = f"/hyperkitty/list/salon@example.org/message/{_hash('nobody@example.org')}/"
    assert _location(archive, path)[0] == 404


def test_another_lists_address_is_not_found(archive: Path) -> None:
    path = f"/hyperkitty/list/other@example.org/message/{_hash('reply@example.org')}/"
    assert _location(archive, path)[0] == 404


def test_the_prefix_can_be_set_to_where_hyperkitty_was_served(archive: Path) -> None:
    toml = archive / "piperarc.toml"
    toml.write_text(
        toml.read_text().replace("[archive]\n", '[archive]\nhyperkitty_at = "/archives/"\n')
    )
    assert _location(archive, "/archives/list/salon@example.org/2024/1/") == (
        301,
        "/salon/2024-01/thread.html",
    )
    assert _location(archive, "/hyperkitty/list/salon@example.org/2024/1/")[0] == 404


def test_the_build_writes_hyperkitty_urls_into_every_map(archive: Path, run: Run) -> None:
    assert run("build", "--archive", archive, "--no-search-index").exit_code == 0
    site = archive / "site"
    message = _key(run, archive, "reply@example.org")
    old = f"/hyperkitty/list/salon@example.org/message/{_hash('reply@example.org')}/"
    assert f'"{old}" /{message};' in (site / "redirects.nginx.map").read_text()
    assert f"{old} /{message}\n" in (site / "redirects.apache.txt").read_text()
    assert f"{old} /{message} 301\n" in (site / "_redirects").read_text()
    page = (site / old.lstrip("/") / "index.html").read_text()
    assert f'rel="canonical" href="../../../../../{message}"' in page


def test_nginx_with_the_written_map_sends_hyperkitty_urls_on(
    archive: Path, run: Run, tmp_path: Path
) -> None:
    import httpx

    from tests.nginxhelpers import nginx_serving

    assert run("build", "--archive", archive, "--no-search-index").exit_code == 0
    message = _key(run, archive, "reply@example.org")
    old = f"/hyperkitty/list/salon@example.org/message/{_hash('reply@example.org')}/"
    with nginx_serving(archive / "site", tmp_path / "nginx") as base:
        moved = httpx.get(base + old)
        assert moved.status_code == 301
        assert moved.headers["location"].endswith("/" + message)
        page = httpx.get(base + "/" + message)
        assert page.status_code == 200 and "Yes." in page.text
