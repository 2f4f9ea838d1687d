"""The build's Pagefind step: it indexes the message pages, can be skipped, and a binary
that cannot run costs one warning line, not the build."""

from __future__ import annotations

from pathlib import Path

import pagefind_bin
import pytest

from piperarc.ingest.sources.sample import sample_mbox
from tests.conftest import Run


@pytest.fixture
def imported(run: Run, archive: Path, tmp_path: Path) -> Path:
    mbox = tmp_path / "salon.mbox"
    mbox.write_bytes(sample_mbox())
    run("import", "--archive", archive, "--list", "salon", mbox)
    return archive


def test_the_build_writes_a_pagefind_index_of_the_message_pages(run: Run, imported: Path) -> None:
    result = run("build", "--archive", imported)
    assert result.exit_code == 0, result.output
    assert "search index (Pagefind) written" in result.stdout
    site = imported / "site"
    fragments = list((site / "pagefind" / "fragment").iterdir())
    assert len(fragments) == len(list((site / "salon" / "m").glob("*.html")))
    assert 'src="pagefind/pagefind-ui.js"' in (site / "search.html").read_text(encoding="utf-8")


def test_no_search_index_skips_pagefind_and_search_html_says_so(run: Run, imported: Path) -> None:
    result = run("build", "--archive", imported, "--no-search-index")
    assert result.exit_code == 0, result.output
    assert not (imported / "site" / "pagefind").exists()
    page = (imported / "site" / "search.html").read_text(encoding="utf-8")
    assert "without a search index" in page
    assert "pagefind-ui.js" not in page


@pytest.mark.parametrize("binary", ["/bin/false", "/nonexistent/pagefind"])
def test_a_pagefind_that_cannot_run_is_one_warning_and_the_build_goes_on(
    run: Run, imported: Path, monkeypatch: pytest.MonkeyPatch, binary: str
) -> None:
    monkeypatch.setattr(pagefind_bin, "get_executable", lambda: Path(binary))
    result = run("build", "--archive", imported)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("piperarc: warning: no search index: ")
    assert (imported / "site" / "salon" / "index.html").is_file()
    assert "without a search index" in (imported / "site" / "search.html").read_text("utf-8")
