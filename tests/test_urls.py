"""URLs: periods, and attachment names that can never escape or run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piperarc import urls

# What the archive must never serve from its origin under a name a server maps to a type.
ACTIVE = {
    "html", "htm", "xhtml", "xht", "shtml", "shtm", "stm", "svg", "svgz", "xml", "xsl",
    "xslt", "xbl", "rdf", "mht", "mhtml", "hta", "htc", "swf", "js", "mjs", "css", "php",
    "php3", "php4", "php5", "php7", "php8", "pht", "phtml", "phar", "phps", "cgi", "fcgi",
    "pl", "py", "rb", "asp", "aspx", "asa", "asax", "ascx", "ashx", "asmx", "cer", "jsp",
    "jspx", "cfm", "cfml", "wsf",
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("month", "2024-03"), ("year", "2024"), ("quarter", "2024-Q1"), ("week", "2024-W10")],
)
def test_a_date_falls_in_its_period(kind: str, expected: str) -> None:
    assert urls.period_of(1710000000, kind) == expected  # 2024-03-09 UTC


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/absolute/evil.sh", "evil.sh"),
        ("C:\\Windows\\system.ini", "system.ini"),
        ("nul\x00.txt", "nul_.txt"),
        ("CON.txt", "_CON.txt"),
        ("evil.html", "evil_html.txt"),
        ("x.SVG", "x_SVG.txt"),
        ("..", "part-3"),
        ("report (final).pdf", "report_final_.pdf"),
    ],
)
def test_attachment_names_are_made_safe(name: str, expected: str) -> None:
    assert urls.safe_filename(name, 3) == expected


def test_an_overlong_attachment_name_is_shortened_keeping_its_extension() -> None:
    safe = urls.safe_filename("a" * 500 + ".pdf", 1)
    assert len(safe) <= 100 and safe.endswith(".pdf")


def test_relative_links_climb_to_the_site_root() -> None:
    assert urls.relative("salon/m/abc.html", "index.html") == "../../index.html"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shell.php.png", "shell_php.png"),
        ("evil.html.gz", "evil_html.gz"),
        ("evil.html.", "evil_html.txt"),
        ("evil.html ", "evil_html.txt"),
        ("a..b.pdf", "a.b.pdf"),
        (".htaccess", "htaccess"),
        ("COM1.svg", "_COM1_svg.txt"),
        ("theme.css", "theme_css.txt"),
        ("report.v2.pdf", "report.v2.pdf"),
    ],
)
def test_no_active_extension_survives_anywhere_in_an_attachment_name(
    name: str, expected: str
) -> None:
    assert urls.safe_filename(name, 3) == expected


@settings(max_examples=500, deadline=None)
@given(name=st.text(), index=st.integers(min_value=1, max_value=999))
def test_any_attachment_name_maps_to_one_inert_file_inside_its_folder(
    name: str, index: int
) -> None:
    safe = urls.safe_filename(name, index)
    assert re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,99}", safe), safe
    assert ".." not in safe and not safe.endswith(".")
    folder = Path("/archive/site/list/m/key")
    target = Path(os.path.normpath(folder / urls.attachment("list", "key", index, name)))
    assert target.parent == Path(os.path.normpath(folder / "list/m/key"))
    assert not any(part.lower() in ACTIVE for part in safe.split(".")[1:]), safe


@given(
    stem=st.text(min_size=1, max_size=40),
    ext=st.sampled_from(sorted(ACTIVE)).map(lambda e: e.upper() if len(e) % 2 else e),
)
def test_a_name_ending_in_an_active_extension_never_keeps_it(stem: str, ext: str) -> None:
    safe = urls.safe_filename(f"{stem}.{ext}", 1)
    assert not safe.lower().endswith(f".{ext.lower()}"), safe
