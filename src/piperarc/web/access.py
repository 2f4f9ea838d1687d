"""Who may read what. A public list is everyone's; a private list (config: private = true)
is its members' only, and to anyone else it does not exist: every route asks here for a
list by name (`readable`) or for the lists to show (`readable_lists`), and a private list a
reader may not see answers exactly as a name no list has (404, the same page).

Readers are recognised by the reverse proxy in front of the server, which authenticated
them and passes their address in a header (`serve --reader-header X-Remote-User`). Only a
proxy can be trusted to: the header counts only from a loopback or unix-socket peer, and a
request that carries it twice counts as anonymous. Members come from a file of addresses
(re-read when it changes) or from Mailman 3's REST API (web/members.py).

What members are shown is marked private (`Cache-Control: private, no-store`): no shared
cache keeps it to hand to the next visitor.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piperarc.config import MAILMAN_MEMBERS, ArchiveConfig, ListConfig
from piperarc.errors import NotFoundError

log = logging.getLogger("piperarc.web")

PRIVATE_CACHING = "private, no-store"
_READER = "piperarc.reader"  # the request's reader, once worked out (in the ASGI scope)
_PRIVATE = "piperarc.private"  # set when a response shows something of a private list


class Members(Protocol):
    """Who belongs to a private list."""

    def may_read(self, address: str) -> bool: ...


def address_of(text: str) -> str:
    """An address as members files and headers give it ("Jane <Jane@X.org>" or
    "jane@x.org"), in the one form they are compared in: lower case, no name."""
    _, address = parseaddr(text.strip())
    return (address or text).strip().lower()


class MembersFile:
    """A file of addresses, one a line ('#' starts a comment), read again when it changes.
    A file that cannot be read lets nobody in (and says so in the server's log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._addresses: frozenset[str] = frozenset()

    def addresses(self) -> frozenset[str]:
        try:
            stat = self.path.stat()
        except OSError as err:
            if self._seen != (-1, -1):
                log.warning("members file %s cannot be read (%s): nobody may read", self.path, err)
            self._seen, self._addresses = (-1, -1), frozenset()
            return self._addresses
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            try:
                text = self.path.read_text(encoding="utf-8", errors="replace")
            except OSError as err:
                log.warning("members file %s cannot be read (%s): nobody may read", self.path, err)
                return frozenset()
            lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
            self._addresses = frozenset(address_of(line) for line in lines if line)
            self._seen = seen
        return self._addresses

    def may_read(self, address: str) -> bool:
        return address in self.addresses()


class Nobody:
    """The members of a private list that names none: nobody reads it through the server."""

    def may_read(self, address: str) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is asking: an address the proxy vouched for, or nobody (anonymous)."""

    address: str | None = None


ANONYMOUS = Reader()


class Access:
    """The one check: which lists a reader may see."""

    def __init__(
        self,
        config: ArchiveConfig,
        *,
        reader_header: str | None = None,
        mailman: Callable[[ListConfig], Members] | None = None,
    ) -> None:
        self.reader_header = reader_header.lower() if reader_header else None
        self._members: dict[str, Members] = {}
        for lst in config.lists:
            if not lst.private:
                continue
            path = lst.members_file(config.root)
            if path is not None:
                self._members[lst.name] = MembersFile(path)
            elif lst.members == MAILMAN_MEMBERS:
                self._members[lst.name] = (mailman or _mailman(config))(lst)
            else:
                self._members[lst.name] = Nobody()

    def may_read(self, lst: ListConfig, reader: Reader) -> bool:
        if not lst.private:
            return True
        members = self._members.get(lst.name)
        if reader.address is None or members is None:
            return False
        return members.may_read(reader.address)

    def reader(self, scope: Scope) -> Reader:
        """The request's reader: the header's address, when a trusted peer sent it once."""
        if self.reader_header is None or not _trusted_peer(scope):
            return ANONYMOUS
        name = self.reader_header.encode("latin-1")
        values = [v for n, v in scope.get("headers", []) if n.lower() == name]
        if len(values) != 1:
            return ANONYMOUS  # none, or two copies: which one the proxy set is not known
        address = address_of(values[0].decode("latin-1"))
        return Reader(address) if address else ANONYMOUS


def _mailman(config: ArchiveConfig) -> Callable[[ListConfig], Members]:
    from piperarc.web.members import MailmanMembers

    def members(lst: ListConfig) -> Members:
        return MailmanMembers(
            config.mailman_rest, config.mailman_user, config.mailman_password, lst.address
        )

    return members


def _trusted_peer(scope: Scope) -> bool:
    """A loopback peer, or a unix socket's (ASGI servers give those no client address)."""
    client = scope.get("client")
    if client is None:
        return True
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def _access(request: Request) -> Access:
    access: Access = request.app.state.archive.access
    return access


def reader_of(request: Request) -> Reader:
    """The request's reader (worked out once per request)."""
    reader = request.scope.get(_READER)
    if not isinstance(reader, Reader):
        reader = _access(request).reader(request.scope)
        request.scope[_READER] = reader
    return reader


def readable(request: Request, name: str) -> ListConfig:
    """The list `name`, if the reader may see it; else the NotFoundError a name no list
    has gets (the same words: a private list's name is not given away)."""
    archive = request.app.state.archive
    for lst in archive.config.lists:
        if lst.name == name and _access(request).may_read(lst, reader_of(request)):
            if lst.private:
                request.scope[_PRIVATE] = True
            found: ListConfig = lst
            return found
    raise NotFoundError(f"no list named {name!r} in this archive")


def readable_lists(request: Request) -> list[ListConfig]:
    """The lists the reader may see, in the archive's order."""
    access, reader = _access(request), reader_of(request)
    lists = [lst for lst in request.app.state.archive.config.lists if access.may_read(lst, reader)]
    if any(lst.private for lst in lists):
        request.scope[_PRIVATE] = True
    return lists


class PrivateCaching:
    """Marks every response that showed a private list `Cache-Control: private, no-store`,
    whatever its handler said (pages say public, max-age; originals say immutable)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(_PRIVATE):
                headers = [
                    (n, v) for n, v in message.get("headers", []) if n.lower() != b"cache-control"
                ]
                headers.append((b"cache-control", PRIVATE_CACHING.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_marked)
