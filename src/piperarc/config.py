"""piperarc.toml → frozen settings. Built once in the cli and passed down.

An archive is a folder holding `piperarc.toml` and `archive.sqlite3`:

    [archive]
    title = "Our lists"
    base_url = "https://lists.example.org/archive/"   # optional: where the site is published
    private_base_url = "https://members.example.org/"  # optional: where build --private-out's is
    database = "postgresql://archiver@db.example.org/lists"  # optional: a server database
    hyperkitty_at = "/hyperkitty/"   # optional: where HyperKitty served the lists (redirects)

    [[lists]]
    name = "salon"
    title = "The Salon"
    description = "Talk about anything"
    address = "salon@example.org"
    period = "month"        # month (default), year, quarter or week
    obfuscate = "at"        # none, at ("jane at example.org", as Pipermail did) or hide
    inline_limit = 1048576  # images up to this many bytes are shown in the page, larger
                            # ones only linked (every attachment is kept whatever its size)
    private = true          # only its members may read it (default false: public)
    members = "staff.txt"   # who they are: a file of addresses, one a line (relative to
                            # the archive folder), or "mailman": Mailman 3's REST API, as
                            # [archive] mailman_rest, mailman_user, mailman_password say
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from piperarc.errors import ArchiveNotFoundError, ConfigError, UnknownListError

CONFIG_NAME = "piperarc.toml"
DATABASE_NAME = "archive.sqlite3"
PERIODS = ("month", "year", "quarter", "week")
OBFUSCATIONS = ("none", "at", "hide")
# A list name becomes a folder and a URL segment: keep it to what is safe in both.
# Top-level folders of the site and the server that a list's folder must not shadow.
RESERVED_NAMES = frozenset(
    {"api", "mid", "help", "pagefind", "search-index", "search.html", "index.html"}
)
SERVER_SCHEMES = ("postgresql://", "postgres://")
MAILMAN_MEMBERS = "mailman"  # members = "mailman": read from Mailman 3's REST API
LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ListConfig:
    """One list's settings."""

    name: str
    title: str
    description: str = ""
    address: str = ""
    period: str = "month"
    obfuscate: str = "at"
    inline_limit: int = 1_048_576  # bytes: larger images are linked, not drawn in the page
    # A private list is shown to its members only (web/access.py), never in the public site.
    private: bool = False
    # Who its members are: "" (nobody), a file of addresses, or MAILMAN_MEMBERS.
    members: str = ""

    def members_file(self, root: Path) -> Path | None:
        """The members file of a private list (relative paths from the archive folder)."""
        if not self.members or self.members == MAILMAN_MEMBERS:
            return None
        return root / self.members


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """The whole archive's settings."""

    root: Path
    title: str
    lists: tuple[ListConfig, ...]
    # Where the built site is published (ends in "/"), if said: Atom feeds then carry
    # absolute links; without it their links are relative to the feed's own URL.
    base_url: str | None = None
    # [archive] database: a postgresql:// URL, or a SQLite file (relative to the archive
    # folder); unset, the archive.sqlite3 beside piperarc.toml.
    database_setting: str | None = None
    # [archive] hyperkitty_at: the path Mailman 3's HyperKitty was served at; its message,
    # thread and month URLs for a list with an address redirect to the pages here.
    hyperkitty_at: str = "/hyperkitty/"
    # [archive] mailman_rest, mailman_user, mailman_password: Mailman 3's REST API, asked
    # who the members of a list with members = "mailman" are.
    mailman_rest: str = ""
    mailman_user: str = "restadmin"
    mailman_password: str = ""

    # [archive] private_base_url: where the private lists' own site is published (feeds'
    # absolute links); unset, that site's feeds link relatively.
    private_base_url: str | None = None

    def scoped(self, *, private: bool) -> ArchiveConfig:
        """The same settings with only the private lists, or only the public ones: what
        one static site may hold (a private list never goes into the public site). The
        private lists' site is published at private_base_url, not base_url."""
        lists = tuple(lst for lst in self.lists if lst.private == private)
        if private:
            return replace(self, lists=lists, base_url=self.private_base_url)
        return replace(self, lists=lists)

    @property
    def database(self) -> Path | str:
        """Where the store is: a postgresql:// URL (str) or the SQLite file (Path)."""
        setting = self.database_setting
        if setting is None:
            return self.root / DATABASE_NAME
        if setting.startswith(SERVER_SCHEMES):
            return setting
        return self.root / setting

    def list(self, name: str) -> ListConfig:
        """The settings of list `name`; UnknownListError naming the lists there are."""
        for lst in self.lists:
            if lst.name == name:
                return lst
        known = ", ".join(lst.name for lst in self.lists) or "none yet"
        raise UnknownListError(
            f"no list named {name!r} in this archive (lists: {known}); "
            f"add it with: piperarc init {self.root} --list {name}",
            self.root / CONFIG_NAME,
        )


def check_list_name(name: str) -> str:
    """`name` if it is a valid list name, else ConfigError saying what is allowed."""
    if not LIST_NAME.match(name):
        raise ConfigError(
            f"invalid list name {name!r}: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 64 characters"
        )
    if name in RESERVED_NAMES:
        raise ConfigError(
            f"the list name {name!r} is taken by the archive's own pages "
            f"({', '.join(sorted(RESERVED_NAMES))}): choose another"
        )
    return name


def load(root: Path) -> ArchiveConfig:
    """Read `root/piperarc.toml`; errors name the file and the wrong value."""
    path = root / CONFIG_NAME
    if not path.is_file():
        raise ArchiveNotFoundError(
            f"not a piperarc archive (no {CONFIG_NAME}); create one with: piperarc init {root}",
            root,
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read: {err}", path) from err
    archive = data.get("archive", {})
    lists = []
    for entry in data.get("lists", []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError("every [[lists]] entry needs a name", path)
        name = check_list_name(str(entry["name"]))
        period = str(entry.get("period", "month"))
        if period not in PERIODS:
            raise ConfigError(f"list {name}: period must be one of {', '.join(PERIODS)}", path)
        obfuscate = str(entry.get("obfuscate", "at"))
        if obfuscate not in OBFUSCATIONS:
            raise ConfigError(
                f"list {name}: obfuscate must be one of {', '.join(OBFUSCATIONS)}", path
            )
        inline_limit = entry.get("inline_limit", 1_048_576)
        if not isinstance(inline_limit, int) or isinstance(inline_limit, bool) or inline_limit < 0:
            raise ConfigError(
                f"list {name}: inline_limit must be a number of bytes, 0 or more", path
            )
        lists.append(
            ListConfig(
                name=name,
                title=str(entry.get("title", name)),
                description=str(entry.get("description", "")),
                address=str(entry.get("address", "")),
                period=period,
                obfuscate=obfuscate,
                inline_limit=inline_limit,
                **_privacy(entry, name, path),
            )
        )
    names = [lst.name for lst in lists]
    if len(set(names)) != len(names):
        raise ConfigError("a list name appears twice", path)
    return ArchiveConfig(
        root=root,
        title=str(archive.get("title", "Mail archive")),
        lists=tuple(lists),
        base_url=_base_url(archive.get("base_url"), path),
        private_base_url=_base_url(archive.get("private_base_url"), path),
        database_setting=_database(archive.get("database"), path),
        hyperkitty_at=_url_path(archive.get("hyperkitty_at", "/hyperkitty/"), path),
        **_mailman(archive, lists, path),
    )


def _privacy(entry: dict[str, object], name: str, path: Path) -> dict[str, Any]:
    """A list's `private` and `members` settings, checked."""
    private = entry.get("private", False)
    if not isinstance(private, bool):
        raise ConfigError(f"list {name}: private must be true or false", path)
    members = entry.get("members", "")
    if not isinstance(members, str) or "\n" in members:
        raise ConfigError(
            f'list {name}: members must be a file of addresses or "{MAILMAN_MEMBERS}"', path
        )
    if members and not private:
        raise ConfigError(
            f"list {name}: members are only asked for on a private list: "
            "add private = true, or remove the members line",
            path,
        )
    if members == MAILMAN_MEMBERS and not str(entry.get("address", "")):
        raise ConfigError(
            f'list {name}: members = "{MAILMAN_MEMBERS}" needs the list\'s address '
            "(Mailman knows its lists by it)",
            path,
        )
    return {"private": private, "members": members}


def _mailman(archive: dict[str, object], lists: list[ListConfig], path: Path) -> dict[str, str]:
    """[archive] mailman_rest, mailman_user, mailman_password (needed when a list's members
    come from Mailman)."""
    settings = {
        key: str(archive.get(key, default))
        for key, default in (
            ("mailman_rest", ""),
            ("mailman_user", "restadmin"),
            ("mailman_password", ""),
        )
    }
    if settings["mailman_rest"] and not re.match(r"^https?://", settings["mailman_rest"]):
        raise ConfigError(
            'mailman_rest must be the REST API\'s URL, like "http://127.0.0.1:8001/3.1/"', path
        )
    asking = [lst.name for lst in lists if lst.members == MAILMAN_MEMBERS]
    if asking and not settings["mailman_rest"]:
        raise ConfigError(
            f'list {asking[0]}: members = "{MAILMAN_MEMBERS}" needs [archive] mailman_rest '
            '(Mailman 3\'s REST API, like "http://127.0.0.1:8001/3.1/"), mailman_user and '
            "mailman_password",
            path,
        )
    return settings


def _url_path(value: object, path: Path) -> str:
    """[archive] hyperkitty_at: a URL path, kept with a leading and a trailing slash."""
    text = str(value)
    if not re.match(r"^/?[^\s?#]*$", text):
        raise ConfigError(
            f'hyperkitty_at must be a URL path like "/hyperkitty/" or "/archives/", not {text!r}',
            path,
        )
    return "/" + text.strip("/") + "/" if text.strip("/") else "/"


def _database(value: object, path: Path) -> str | None:
    """[archive] database: a postgresql:// URL or a file name."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "\n" in value:
        raise ConfigError(
            "database must be a postgresql:// URL or a file name, "
            'as in database = "archive.sqlite3"',
            path,
        )
    return value


def database_line(location: str) -> str:
    """The `database = ...` line of [archive] for `location`."""
    return f"database = {_toml_string(location)}"


def set_database(root: Path, location: str | None) -> None:
    """Point the archive at another database: rewrite (or add, or with None remove) the
    `database` line of [archive] in piperarc.toml, keeping every other line as it is."""
    path = root / CONFIG_NAME
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[str] = []
    section = ""
    placed = location is None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if section == "[archive]" and not placed:
                out.append(database_line(location or "") + "\n")
                placed = True
            section = stripped.split("#")[0].strip()
        if section == "[archive]" and re.match(r"database\s*=", stripped):
            if location is not None and not placed:
                out.append(database_line(location) + "\n")
                placed = True
            continue
        out.append(line)
    if not placed:
        if section != "[archive]":
            out.append("[archive]\n")
        out.append(database_line(location or "") + "\n")
    path.write_text("".join(out), encoding="utf-8")
    load(root)  # prove what we wrote reads back


def _base_url(value: object, path: Path) -> str | None:
    """[archive] base_url: an absolute http(s) URL, kept with one trailing slash."""
    if value is None or value == "":
        return None
    url = str(value)
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        raise ConfigError(
            f"base_url must be an absolute http or https URL like "
            f'"https://lists.example.org/archive/", not {url!r}',
            path,
        )
    return url.rstrip("/") + "/"


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def list_block(lst: ListConfig) -> str:
    """The `[[lists]]` table for `lst`, as init appends it to piperarc.toml."""
    return (
        "\n[[lists]]\n"
        f"name = {_toml_string(lst.name)}\n"
        f"title = {_toml_string(lst.title)}\n"
        f"description = {_toml_string(lst.description)}\n"
        f"address = {_toml_string(lst.address)}\n"
        f"period = {_toml_string(lst.period)}        # month, year, quarter or week\n"
        f"obfuscate = {_toml_string(lst.obfuscate)}  # none, at or hide\n"
        + (f"private = true\nmembers = {_toml_string(lst.members)}\n" if lst.private else "")
    )


def archive_header(title: str) -> str:
    """The start of a new piperarc.toml."""
    return f"# piperarc archive settings\n[archive]\ntitle = {_toml_string(title)}\n"
