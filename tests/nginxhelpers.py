"""Debian's real nginx on loopback, serving a built site with its redirect map included,
for the tests of old URLs (tests/test_oldarchive_redirects.py, test_hyperkitty_urls.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nginx_serving(site: Path, work: Path) -> Iterator[str]:
    """nginx on 127.0.0.1 serving `site`, with site/redirects.nginx.map answering old
    paths with a 301, as docs/migrating.md sets it up; yields its base URL."""
    server = f"""
    map_hash_bucket_size 256;
    map $uri $piperarc_moved {{
        default "";
        include {site}/redirects.nginx.map;
    }}
    server {{
        listen 127.0.0.1:{{port}};
        root {site};
        if ($piperarc_moved) {{
            return 301 $piperarc_moved;
        }}
    }}
"""
    with nginx_running(server, work) as base:
        yield base


@contextmanager
def nginx_running(http: str, work: Path, ready: str = "/") -> Iterator[str]:
    """nginx on 127.0.0.1 with `http` inside its http block ({port} in it is the port it
    listens on), until the block ends; yields its base URL once `ready` answers."""
    if NGINX is None:
        message = "no nginx (apt-get install nginx) to check the server set-up with"
        if IN_CI:
            pytest.fail(f"CI needs nginx: {message}")
        pytest.skip(message)
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    temp = work / "temp"
    temp.mkdir(exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{http.replace("{port}", str(port))}
}}
""",
        encoding="utf-8",
    )
    log = work / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(work)], stdout=subprocess.DEVNULL, stderr=err
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx did not start: {log.read_text(errors='replace')}")
            try:
                httpx.get(base + ready, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
