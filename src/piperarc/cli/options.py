"""Options several commands share, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def archive_option(func: Any) -> Any:
    """--archive DIR (default: $PIPERARC_ARCHIVE, else the current folder)."""
    return click.option(
        "--archive",
        "archive",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="PIPERARC_ARCHIVE",
        default=Path(),
        show_default="$PIPERARC_ARCHIVE or .",
        help="The archive folder (holding piperarc.toml).",
    )(func)
