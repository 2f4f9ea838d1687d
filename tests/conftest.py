"""Shared fixtures: temporary archives, the CLI runner, and the real-mail corpus."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from piperarc.cli import main

CORPUS = Path(
    os.environ.get("PIPERARC_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)
IN_CI = bool(os.environ.get("PIPERARC_CI"))


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus; skips the test where the corpus is absent (fails in CI)."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"CI needs the corpus at {path}")
        pytest.skip(f"no corpus at {path} (set PIPERARC_CORPUS to its folder to run this)")
    return path


Run = Callable[..., Result]
_SUMMARY = re.compile(r"imported (\d+) new, (\d+) duplicates skipped, (\d+) damaged")


def cli(*args: str | Path) -> Result:
    """The piperarc CLI in-process, for module-scoped fixtures (`run` is per test)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def summary_counts(result: Result) -> tuple[int, int, int]:
    """(new, duplicates, damaged) from an import's summary line."""
    found = _SUMMARY.search(result.stdout)
    assert found, f"no summary line in {result.stdout!r}"
    return int(found[1]), int(found[2]), int(found[3])


@pytest.fixture
def run() -> Run:
    """Run the piperarc CLI in-process; returns click's Result (stdout, stderr, exit_code)."""
    runner = CliRunner()

    def invoke(*args: str | Path, input: bytes | str | None = None) -> Result:
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def archive(tmp_path: Path, run: Run) -> Path:
    """A fresh archive with one list, `salon`, addresses obfuscated the Pipermail way."""
    root = tmp_path / "archive"
    result = run("init", root, "--list", "salon", "--title", "The Salon")
    assert result.exit_code == 0, result.output
    return root
