"""The architecture holds: data flows one way (DESIGN.md), checked by import-linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_modules_import_only_from_their_own_layer_or_below() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).exists():
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [lint_imports, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


PACKAGE = ROOT / "src" / "piperarc"
MAX_LINES = 800  # DESIGN.md: split a file well before ~800 lines
MAX_TOP_MODULES = 12  # the base stays at the package's top; every layer above it is a package


def test_no_source_file_passes_800_lines() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these by concern (DESIGN.md): {too_long}"


def test_at_most_twelve_modules_stay_at_the_package_top() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, f"{len(top)} modules at the top: {top}"


def test_every_package_says_what_it_holds() -> None:
    silent = [
        str(init.parent.relative_to(PACKAGE))
        for init in sorted(PACKAGE.rglob("__init__.py"))
        if not init.read_text(encoding="utf-8").lstrip().startswith('"""')
    ]
    assert not silent, f"packages without a docstring: {silent}"
