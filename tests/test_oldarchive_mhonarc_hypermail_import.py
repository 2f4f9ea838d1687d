"""MHonArc's and Hypermail's output of the first 1,000 linux-man messages brought over:
every message page leads through `serve`'s 301 to the message its id comment names, with
the mbox the tools were fed and without it (the pages turned back into messages); the
index pages lead to the list's home; a second import adds nothing."""

from __future__ import annotations

import html
import lzma
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from piperarc import config as configlib
from piperarc.store import open_store
from piperarc.web.app import create_app
from tests.conftest import cli, corpus_path
from tests.livehelpers import asgi_get
from tests.nginxhelpers import nginx_serving

# The id comment each tool writes into a message page, read here on its own (the truth the
# test holds the importer to), and how a page file is named.
TOOLS = {
    "mhonarc": (re.compile(r"<!--X-Message-Id: (.*?) -->"), re.compile(r"^msg\d+\.html$")),
    "hypermail": (re.compile(r'<!-- id="(.*?)" -->'), re.compile(r"^\d{4}\.html$")),
}
_PERMALINK = re.compile(r"^/linux-man/m/([^/]+)\.html$")


@pytest.fixture(scope="module")
def first_thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mbox the tools were fed: linux-man up to its 1,001st From_ line."""
    data = lzma.decompress(corpus_path("lists", "linux-man-10k.mbox.xz").read_bytes())
    starts = [m.start() for m in re.finditer(rb"(?m)^From ", data)]
    path = tmp_path_factory.mktemp("mbox") / "linux-man-1000.mbox"
    path.write_bytes(data[: starts[1000]])
    return path


def _unpack(kind: str, into: Path) -> Path:
    with tarfile.open(corpus_path("old-archives", f"{kind}-linux-man-1000.tar.xz")) as tar:
        tar.extractall(into, filter="data")
    return into / kind


def _truth(kind: str, folder: Path) -> dict[str, str]:
    """Each message page's file name and the Message-ID its comment names."""
    comment, name = TOOLS[kind]
    truth = {}
    for page in sorted(folder.iterdir()):
        if name.match(page.name):
            found = comment.search(page.read_text(encoding="utf-8", errors="replace"))
            if found:
                if kind == "hypermail":  # it writes "-" as &ndash; in comments, "@" as _at_
                    mid = html.unescape(found[1].replace("&ndash;", "-")).replace("_at_", "@")
                else:
                    mid = html.unescape(found[1])
                truth[page.name] = mid
    return truth


@dataclass
class Imported:
    kind: str
    source: str  # "mbox" (the mbox the tool was fed) or "pages" (nothing else left)
    root: Path
    folder: Path
    truth: dict[str, str]
    output: str
    again: str
    mids: dict[str, str]  # key -> Message-ID


@pytest.fixture(scope="module", params=[(k, w) for k in TOOLS for w in ("mbox", "pages")])
def imported(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    first_thousand: Path,
) -> Imported:
    kind, source = request.param
    tmp = tmp_path_factory.mktemp(f"{kind}-{source}")
    folder = _unpack(kind, tmp)
    root = tmp / "archive"
    cli("init", root, "--list", "linux-man")
    extra = [first_thousand] if source == "mbox" else []
    args = ("import", "--archive", root, "--from", kind, folder, *extra, "--at", f"/{kind}/")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    again = cli(*args)
    store = open_store(configlib.load(root).database, readonly=True)
    try:
        mids = {s.key: s.mid for s in store.summaries("linux-man")}
    finally:
        store.close()
    truth = _truth(kind, folder)
    return Imported(kind, source, root, folder, truth, first.output, again.output, mids)


def test_every_message_page_leads_to_the_message_its_comment_names(imported: Imported) -> None:
    app = create_app(configlib.load(imported.root))
    right, wrong, lost = 0, [], []
    for page, mid in imported.truth.items():
        moved = asgi_get(app, f"/{imported.kind}/{page}")
        found = _PERMALINK.match(moved.headers.get("location", ""))
        if moved.status_code != 301 or not found:
            lost.append(page)
        elif imported.mids.get(found[1]) == mid.strip("<>"):
            right += 1
        else:
            wrong.append(page)
    assert len(imported.truth) >= 990
    assert (wrong, lost) == ([], [])
    assert right == len(imported.truth)


def test_the_index_pages_lead_to_the_lists_home(imported: Imported) -> None:
    app = create_app(configlib.load(imported.root))
    for page in (
        ("index.html",) if imported.kind == "hypermail" else ("maillist.html", "threads.html")
    ):
        moved = asgi_get(app, f"/{imported.kind}/{page}")
        assert (moved.status_code, moved.headers.get("location")) == (301, "/linux-man/index.html")


def test_a_second_import_adds_nothing(imported: Imported) -> None:
    assert "imported 0 new" in imported.again
    assert "(0 new)" in imported.again


def test_a_message_page_says_when_it_was_recovered_from_the_old_page(
    imported: Imported,
) -> None:
    recovered = "taken from the old pages" in imported.output
    assert recovered == (imported.source == "pages")
    app = create_app(configlib.load(imported.root))
    key = next(iter(imported.mids))
    page = asgi_get(app, f"/linux-man/m/{key}.html")
    assert ("Not the original message." in page.text) == recovered


def test_a_folder_of_the_other_tool_is_one_clear_line(tmp_path: Path) -> None:
    folder = _unpack("hypermail", tmp_path)
    root = tmp_path / "archive"
    cli("init", root, "--list", "linux-man")
    result = cli("import", "--archive", root, "--from", "mhonarc", folder, "--at", "/x/")
    assert result.exit_code == 1
    assert "not a MHonArc" in result.stderr
    assert "Traceback" not in result.output


def test_mhonarc_and_hypermail_need_to_be_told_where_they_were_served(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    cli("init", root, "--list", "linux-man")
    result = cli("import", "--archive", root, "--from", "mhonarc", tmp_path)
    assert result.exit_code == 2
    assert "--at" in result.output


def test_every_message_page_goes_through_nginx_with_the_written_map(
    imported: Imported, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    built = cli("build", "--archive", imported.root, "--out", out, "--no-search-index")
    assert built.exit_code == 0, built.output
    wrong, lost = [], []
    with nginx_serving(out, tmp_path / "nginx") as base, httpx.Client(base_url=base) as client:
        for page, mid in imported.truth.items():
            moved = client.get(f"/{imported.kind}/{page}")
            found = _PERMALINK.match(httpx.URL(moved.headers.get("location", "")).path)
            if moved.status_code != 301 or not found:
                lost.append(page)
            elif imported.mids.get(found[1]) != mid.strip("<>"):
                wrong.append(page)
        index = "index.html" if imported.kind == "hypermail" else "maillist.html"
        assert client.get(f"/{imported.kind}/{index}").status_code == 301
        assert client.get(httpx.URL(moved.headers["location"]).path).status_code == 200
    assert (wrong, lost) == ([], [])


def test_an_old_archive_served_at_the_sites_root_never_hides_the_sites_own_pages(
    tmp_path: Path,
) -> None:
    folder = _unpack("hypermail", tmp_path)
    root = tmp_path / "archive"
    cli("init", root, "--list", "linux-man")
    imported = cli("import", "--archive", root, "--from", "hypermail", folder, "--at", "/")
    assert imported.exit_code == 0, imported.output
    assert cli("build", "--archive", root, "--no-search-index").exit_code == 0
    site = root / "site"
    nginx_map = (site / "redirects.nginx.map").read_text(encoding="utf-8")
    assert '"/0001.html" /linux-man/m/' in nginx_map
    assert '"/index.html"' not in nginx_map and '"/" ' not in nginx_map
    assert "Moved" not in (site / "index.html").read_text(encoding="utf-8")
    # serve: the archive's home is the home; an old message page moves.
    app = create_app(configlib.load(root))
    assert asgi_get(app, "/index.html").status_code == 200
    assert asgi_get(app, "/0001.html").status_code == 301
