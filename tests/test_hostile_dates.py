"""No Date header can stop the site: impossible offsets and years are imported, built,
updated live and served, each shown as written (issue: one message stopped the whole build)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from piperarc import config as configlib
from piperarc import mid, urls
from piperarc.cli import main
from piperarc.web.app import create_app
from tests.conftest import cli

DATES = {
    "minus-2400": "Mon, 01 Jan 2024 00:00:00 -2400",
    "plus-9959": "Mon, 01 Jan 2024 00:00:00 +9959",
    "year-0001": "Mon, 01 Jan 0001 00:00:00 +0000",
    "year-9999": "Fri, 31 Dec 9999 23:59:59 +0000",
    "year-99999": "Fri, 31 Dec 99999 23:59:59 +0000",
}


def _mail(name: str, date: str) -> bytes:
    return (
        f"From: Ann <ann@example.org>\nSubject: dated {name}\nDate: {date}\n"
        f"Message-ID: <{name}@example.org>\n\nA message dated {date}.\n"
    ).encode()


def _page(root: Path, name: str) -> str:
    path = root / "site" / urls.message("dates", mid.url_key(f"{name}@example.org"))
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first two dates imported and built; the rest delivered live into the built site."""
    root = tmp_path_factory.mktemp("dates") / "archive"
    assert cli("init", root, "--list", "dates").exit_code == 0
    mbox = root.parent / "first.mbox"
    mbox.write_bytes(
        b"".join(
            b"From ann@example.org Mon Jan  1 00:00:00 2024\n" + _mail(n, DATES[n]) + b"\n"
            for n in ("minus-2400", "plus-9959")
        )
    )
    result = cli("import", "--archive", root, "--list", "dates", mbox)
    assert result.exit_code == 0, result.output
    result = cli("build", "--archive", root, "--jobs", "1", "--no-search-index")
    assert result.exit_code == 0, result.output
    for name in ("year-0001", "year-9999", "year-99999"):
        args = ["deliver", "--archive", str(root), "--list", "dates"]
        result = CliRunner().invoke(main, args, input=_mail(name, DATES[name]))
        assert result.exit_code == 0, result.output
        assert "not updated" not in result.output
    return root


@pytest.fixture(scope="module")
def get(archive: Path) -> Iterator[object]:
    app = create_app(configlib.load(archive))

    def fetch(path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get(path)

        return asyncio.run(go())

    yield fetch
    app.state.archive.close()


@pytest.mark.parametrize("name", ["minus-2400", "plus-9959"])
def test_an_impossible_offset_is_built_and_shown_as_written(archive: Path, name: str) -> None:
    written = DATES[name].rsplit(" ", 1)[1]
    assert f"Mon, 01 Jan 2024 00:00:00 {written}</time>" in _page(archive, name)


@pytest.mark.parametrize("name", ["year-0001", "year-9999", "year-99999"])
def test_an_out_of_range_year_is_flagged_with_the_header_as_written(
    archive: Path, name: str
) -> None:
    page = _page(archive, name)
    assert f"its Date header, “{DATES[name]}”, is not a usable date" in page
    assert "2001" not in page


def test_the_whole_site_is_built_with_them(archive: Path) -> None:
    months = sorted(p.name for p in (archive / "site" / "dates").iterdir() if p.is_dir())
    assert "2024-01" in months or "2023-12" in months
    assert not any(m.startswith(("0001", "9999")) for m in months)


@pytest.mark.parametrize("name", list(DATES))
def test_serve_answers_the_page_and_the_api_for_each(get: object, name: str) -> None:
    key = mid.url_key(f"{name}@example.org")
    assert get("/" + urls.message("dates", key)).status_code == 200  # type: ignore[operator]
    api = get(f"/api/lists/dates/messages/{key}")  # type: ignore[operator]
    assert api.status_code == 200, api.text
