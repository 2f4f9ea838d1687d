"""Writing a site's files: each to a temporary name, then renamed, so that a reader never
sees half a file (the pages, the downloads, the search index alike)."""

from __future__ import annotations

import os
from pathlib import Path


class Writer:
    """Writes files under the site root atomically (write to a temporary name, rename)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._root = str(out)
        self._made: set[str] = set()
        self._suffix = f".{os.getpid()}.tmp"

    def write(self, path: str, data: bytes | str) -> None:
        # Plain os calls on str paths: this runs for every file of the site.
        target = f"{self._root}/{path}"
        parent, _, name = target.rpartition("/")
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)  # noqa: PTH103 -- str paths: the hot path
            self._made.add(parent)
        tmp = f"{parent}/.{name}{self._suffix}"
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)  # noqa: PTH105 -- as above
