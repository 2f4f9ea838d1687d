"""The members of a private list as Mailman 3 knows them (`members = "mailman"`): the
addresses on the list's rosters of members, owners and moderators (nonmembers are not
members), read from Mailman's REST API and kept at most `ttl` seconds.

A Mailman that cannot be asked (down, a wrong password, an unknown list, an answer that is
not what its API gives) means nobody may read until it answers again: a failure never
falls back to an older answer. The ask blocks the caller for at most `timeout` seconds a
roster, once per `ttl`; the server's event loop accepts that pause for a list's members
once a minute rather than run a thread pool for it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

log = logging.getLogger("piperarc.web")

ROLES = ("member", "owner", "moderator")  # every role but nonmember
RETRY = 5.0  # seconds before Mailman is asked again after it could not say


class MailmanUnavailableError(Exception):
    """Mailman could not say who the members are."""


class MailmanMembers:
    """A list's members, asked of Mailman 3's REST API (`rest_url`, e.g.
    "http://127.0.0.1:8001/3.1/") for the list `list_id` (its address or its List-Id)."""

    def __init__(
        self,
        rest_url: str,
        user: str,
        password: str,
        list_id: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 3.0,
        page_size: int = 500,
    ) -> None:
        self.rest_url = rest_url.rstrip("/") + "/"
        self.list_id = list_id
        self.ttl = ttl
        self.clock = clock
        self.timeout = timeout
        self.page_size = page_size
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"
        self._lock = threading.Lock()
        self._asked_at: float | None = None
        self._addresses: frozenset[str] = frozenset()
        self._keep = ttl  # how long the last answer stands: ttl, or RETRY after a failure

    def addresses(self) -> frozenset[str]:
        """The members' addresses (lower case); none when Mailman cannot say."""
        with self._lock:
            now = self.clock()
            if self._asked_at is None or now - self._asked_at >= self._keep:
                self._keep = self.ttl
                try:
                    self._addresses = self._ask()
                except MailmanUnavailableError as err:
                    self._keep = min(self.ttl, RETRY)
                    log.warning(
                        "members of %s: Mailman's REST API at %s cannot say (%s): "
                        "nobody may read the list",
                        self.list_id,
                        self.rest_url,
                        err,
                    )
                    self._addresses = frozenset()
                self._asked_at = now
            return self._addresses

    def may_read(self, address: str) -> bool:
        """Whether `address` is on one of the list's rosters (any case)."""
        return address.strip().lower() in self.addresses()

    def _ask(self) -> frozenset[str]:
        found: set[str] = set()
        for role in ROLES:
            found.update(self._roster(role))
        return frozenset(found)

    def _roster(self, role: str) -> set[str]:
        """Every address on one roster, page by page."""
        listed = urllib.parse.quote(self.list_id, safe="@")
        found: set[str] = set()
        page = 1
        while True:
            query = urllib.parse.urlencode({"count": self.page_size, "page": page})
            doc = self._get(f"{self.rest_url}lists/{listed}/roster/{role}?{query}")
            entries = doc.get("entries", [])
            total = doc.get("total_size")
            if not isinstance(entries, list) or not isinstance(total, int):
                raise MailmanUnavailableError(f"the {role} roster is not what Mailman gives")
            for entry in entries:
                email = entry.get("email") if isinstance(entry, dict) else None
                if isinstance(email, str) and email:
                    found.add(email.strip().lower())
            if not entries or page * self.page_size >= total:
                return found
            page += 1

    def _get(self, url: str) -> dict[str, object]:
        request = urllib.request.Request(url, headers={"Authorization": self._authorization})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                doc = json.loads(answer.read())
        except urllib.error.HTTPError as err:
            raise MailmanUnavailableError(f"HTTP {err.code} for {url}") from err
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise MailmanUnavailableError(f"{type(err).__name__}: {err}") from err
        if not isinstance(doc, dict):
            raise MailmanUnavailableError(f"{url} did not answer a JSON object")
        return doc
