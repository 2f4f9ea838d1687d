"""The import's progress bar on a terminal (rich), and nothing elsewhere."""

from __future__ import annotations

from typing import Any


def callbacks(enabled: bool) -> tuple[Any, Any, Any]:
    """(progress, on_message, stop) for a rich progress bar on a terminal, else no-ops."""
    if not enabled:
        return None, None, lambda: None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[messages]} messages"),
        TimeRemainingColumn(),
        transient=True,
    )
    task = bar.add_task("import", total=None, messages=0)
    count = [0]
    bar.start()

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    def on_message() -> None:
        count[0] += 1
        if count[0] % 200 == 0:
            bar.update(task, messages=count[0])

    return progress, on_message, bar.stop
