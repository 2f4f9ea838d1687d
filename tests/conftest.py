"""Shared fixtures: temporary archives, the CLI runner, and the real-mail corpus."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# The PostgreSQL server the PostgreSQL half of the suite runs on: a URL (each test gets a
# schema of its own in that database, dropped afterwards).
PG_URL = os.environ.get("PIPERARC_TEST_PG", "postgresql:///test")
BACKENDS = ("sqlite", "postgresql")


def pg_url() -> str:
    """The test server's URL; skips the test where no server answers (fails in CI)."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as err:
        message = (
            f"no PostgreSQL server at {PG_URL} ({str(err).strip()}): start one "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set PIPERARC_TEST_PG to a postgresql:// URL to run this"
        )
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL: {message}")
        pytest.skip(message)
    return PG_URL


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL to a fresh, empty schema on the test server, dropped afterwards."""
    import psycopg

    url = pg_url()
    name = f"piperarc_t_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}".encode())
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE".encode())


@contextmanager
def database_for(backend: str) -> Iterator[tuple[str, ...]]:
    """The `piperarc init` arguments that put a new archive on `backend`."""
    if backend == "sqlite":
        yield ()
        return
    with pg_schema() as url:
        yield ("--db", url)


@pytest.fixture(params=BACKENDS)
def db_args(request: pytest.FixtureRequest) -> Iterator[tuple[str, ...]]:
    """Each test that uses it runs twice: on SQLite and on PostgreSQL."""
    with database_for(request.param) as args:
        yield args


@pytest.fixture(scope="module", params=BACKENDS)
def module_db_args(request: pytest.FixtureRequest) -> Iterator[tuple[str, ...]]:
    """db_args for a module's shared archive."""
    with database_for(request.param) as args:
        yield args


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
def archive(tmp_path: Path, run: Run, db_args: tuple[str, ...]) -> Path:
    """A fresh archive with one list, `salon`, addresses obfuscated the Pipermail way; on
    each backend."""
    root = tmp_path / "archive"
    result = run("init", root, "--list", "salon", "--title", "The Salon", *db_args)
    assert result.exit_code == 0, result.output
    return root
