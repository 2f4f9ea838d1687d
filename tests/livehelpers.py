"""Running piperarc's daemons as real processes for the live-delivery tests and bench."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.types import ASGIApp

PIPERARC = str(Path(sys.executable).parent / "piperarc")


def start_lmtp(archive: Path, listen: str = "127.0.0.1:0") -> tuple[subprocess.Popen[bytes], str]:
    """`piperarc lmtp` on `listen` (port 0: any free one); returns (process, address).
    Its stderr goes to ARCHIVE/lmtp.log (a pipe nobody reads could fill and stall it)."""
    log = archive / "lmtp.log"
    log.write_bytes(b"")
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [PIPERARC, "lmtp", "--archive", str(archive), "--listen", listen], stderr=err
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "listening on" in line:
                return proc, line.rsplit("listening on", 1)[1].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"piperarc lmtp did not start: {log.read_text(encoding='utf-8')}")


def message(n: int, tag: str = "m", parent: int | None = None) -> bytes:
    """A small, distinct message (a reply to message `parent` if given)."""
    reply = f"In-Reply-To: <{tag}{parent}@test.example>\n" if parent is not None else ""
    subject = f"Re: topic {parent}" if parent is not None else f"topic {n}"
    return (
        f"From: Sender {n} <s{n}@test.example>\nTo: salon@example.org\nSubject: {subject}\n"
        f"Message-ID: <{tag}{n}@test.example>\n{reply}"
        f"Date: Mon, {1 + n % 28} Jan 2024 10:{n % 60:02d}:00 +0000\n\nMessage body {tag}{n}.\n"
    ).encode()


def asgi_get(app: ASGIApp, path: str) -> httpx.Response:
    """GET `path` from the web app in this process, as `serve` would answer it."""

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(get())
