"""The live server's HTTP plumbing: the archive a request is served from, errors as HTTP
statuses, validators and conditional requests, dates, download names, streamed gzip, and the
security headers every response carries.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piperarc.errors import NotFoundError, PiperarcError, QueryError, StoreError
from piperarc.web.cache import Archive, CachedPage

# The same policy as the <meta> in render/templates/base.html, sent as a header too: a
# header also covers downloads and errors, and frame-ancestors works only there.
CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"
# Only a header can forbid framing (CSP 3 ignores frame-ancestors in a <meta>): no other
# site may frame the archive's pages (clickjacking); X-Frame-Options for older browsers.
FRAME_ANCESTORS = "frame-ancestors 'none'"
# Attachments are downloads, but if a browser shows one anyway it runs nothing.
ATTACHMENT_CSP = "default-src 'none'; sandbox"
# What every response carries unless its handler set its own (SecurityHeaders, and the
# error pages, which Starlette sends from outside the middleware).
SECURITY_HEADERS = {
    "Content-Security-Policy": f"{CSP}; {FRAME_ANCESTORS}",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STREAM_CHUNK = 64 * 1024

PAGE_CACHING = "public, max-age=300"  # pages of an index change when mail arrives
IMMUTABLE = "public, max-age=31536000, immutable"  # originals and attachments never change
NO_STORE = "no-store"

# Types a browser shows without running anything; every other attachment is sent as
# application/octet-stream (never text/html, never image/svg+xml).
INERT_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-tar",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/x-patch",
        "text/x-diff",
        "text/csv",
    }
)


def archive_of(request: Request) -> Archive:
    """The Archive the app serves (create_app puts it in the app's state)."""
    archive: Archive = request.app.state.archive
    return archive


def fresh(request: Request) -> Archive:
    """The Archive, its caches dropped first if the database changed since the last request."""
    archive = archive_of(request)
    archive.refresh()
    return archive


def base(request: Request) -> str:
    """The server's root path as links start with it: "/" or "/archive/"."""
    return str(request.scope.get("root_path", "")).rstrip("/") + "/"


def status_of(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, heading, message) for an error, in words for people."""
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return 404, "Not found", "There is no page at this address in the archive."
        return exc.status_code, "Cannot do that", str(exc.detail)
    if isinstance(exc, NotFoundError):
        return 404, "Not found", exc.reason
    if isinstance(exc, QueryError):
        return 400, "Cannot read the search", exc.reason
    if isinstance(exc, StoreError):
        return 503, "The archive is not available", exc.reason
    if isinstance(exc, PiperarcError):
        return 500, "Something went wrong", str(exc)
    return 500, "Something went wrong", "The server could not make this page."


def site_path(request: Request) -> str:
    """The request's path from the site root, as urls.py writes paths ("salon/index.html")."""
    path = str(request.scope["path"])
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.lstrip("/")


def http_date(seconds: int) -> str:
    """An HTTP-date (RFC 9110 5.6.7) for Last-Modified."""
    return formatdate(seconds, usegmt=True)


def content_disposition(filename: str, fallback: str) -> str:
    """RFC 6266: an ASCII fallback name, and the real one (RFC 8187) when it differs."""
    header = f'attachment; filename="{fallback}"'
    if filename != fallback:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def not_modified(request: Request, etag: str, last_modified: int | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match first; If-Modified-Since only without it."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            return last_modified <= int(parsedate_to_datetime(ims).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def page_response(
    request: Request,
    page: CachedPage,
    *,
    media_type: str = "text/html; charset=utf-8",
    cache_control: str = PAGE_CACHING,
    use_last_modified: bool = False,
    extra: dict[str, str] | None = None,
) -> Response:
    """`page` with its validators, or 304 when the client's copy is current."""
    headers = {"ETag": page.etag, "Cache-Control": cache_control, **(extra or {})}
    if page.last_modified is not None:
        headers["Last-Modified"] = http_date(page.last_modified)
    modified = page.last_modified if use_last_modified else None
    if not_modified(request, page.etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type=media_type, headers=headers)


def gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """gzip of the concatenated chunks, streamed (header mtime 0, as the static build's)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


def batched(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Chunks joined to about STREAM_CHUNK bytes: fewer hand-offs to the event loop."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= STREAM_CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _with_frame_ancestors(policy: bytes) -> bytes:
    if b"frame-ancestors" in policy:
        return policy
    return policy + b"; " + FRAME_ANCESTORS.encode()


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response that lacks them, and frame-ancestors to a
    handler's own Content-Security-Policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    key = name.lower().encode()
                    if key == b"content-security-policy" and key in names:
                        # A handler's own policy (attachments: sandbox) gets framing
                        # forbidden too.
                        headers = [
                            (n, _with_frame_ancestors(v) if n.lower() == key else v)
                            for n, v in headers
                        ]
                    elif key not in names:
                        headers.append((key, value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
