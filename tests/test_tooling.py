"""The house's strict tooling runs with the tests: ruff (lint and format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool_output(name: str, *args: str) -> tuple[int, str]:
    """(exit status, output) of a tool installed beside this Python, run at the repo root."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [str(path), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    status, output = _tool_output("ruff", "check", "src", "tests", "bench")
    assert status == 0, output


def test_code_is_ruff_formatted() -> None:
    status, output = _tool_output("ruff", "format", "--check", "src", "tests", "bench")
    assert status == 0, output


def test_mypy_strict_finds_nothing() -> None:
    status, output = _tool_output("mypy")
    assert status == 0, output
