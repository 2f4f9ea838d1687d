"""URLs: periods, and attachment names that can never escape or run."""

from __future__ import annotations

import pytest

from piperarc import urls


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
        ("evil.html", "evil.html.txt"),
        ("x.SVG", "x.SVG.txt"),
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
