"""Every URL of the archive is built here and only here.

All paths are relative to the site root and end in a file name, so a built archive works
from any web server, any sub-path, a CDN or straight from disk (file://).

    index.html                         the archive's home: its lists
    NAME/index.html                    a list's home: periods, newest first
    NAME/PERIOD/{thread,date,subject,author}.html   the four Pipermail views of a period
    NAME/PERIOD/activity.html          its threads again, by their latest message here
    NAME/PERIOD.mbox.gz                the period's messages as mboxrd
    NAME/m/KEY.html                    a message (KEY: mid.url_key, fixed at first archiving)
    NAME/m/KEY.eml                     the message's raw bytes
    NAME/m/KEY/N-FILENAME              its attachments
    NAME/t/KEY.html                    a whole thread (KEY: its first message's key)
    NAME/t/KEY.mbox.gz                 the thread as mboxrd (served by `serve`)
    NAME/messages.atom, NAME/threads.atom   Atom feeds: the newest messages, the newest threads
    NAME/t/KEY.atom                    Atom feed of a thread's messages
    search.html, search-index/         the static site's search (site/searchindex.py)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from piperarc.model import OldLink

VIEWS = ("thread", "activity", "date", "subject", "author")
# Extensions a web server may serve as a document that runs script, embeds script or is
# handed to an interpreter (Apache's AddHandler acts on ANY extension of the name, so
# "shell.php.png" runs as PHP there and "evil.html.gz" goes out as text/html): such
# attachments never keep one, last or inner (safe_filename).
_ACTIVE_EXTENSIONS = frozenset(
    {
        # documents that run script in a browser
        "html",
        "htm",
        "xhtml",
        "xht",
        "shtml",
        "shtm",
        "stm",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "xslt",
        "xbl",
        "rdf",
        "mht",
        "mhtml",
        "hta",
        "htc",
        "swf",
        "js",
        "mjs",
        "css",  # not a document, but a stylesheet on the archive's origin is not inert
        # server-side scripts a misconfigured server would run
        "php",
        "php3",
        "php4",
        "php5",
        "php7",
        "php8",
        "pht",
        "phtml",
        "phar",
        "phps",
        "cgi",
        "fcgi",
        "pl",
        "py",
        "rb",
        "asp",
        "aspx",
        "asa",
        "asax",
        "ascx",
        "ashx",
        "asmx",
        "cer",
        "jsp",
        "jspx",
        "cfm",
        "cfml",
        "wsf",
    }
)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")
_DOTS = re.compile(r"\.{2,}")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\.|$)", re.IGNORECASE)


def period_of(date_utc: int, period: str) -> str:
    """The period key a date falls in: 2023-01 (month), 2023 (year), 2023-Q1, 2023-W05."""
    when = datetime.fromtimestamp(date_utc, UTC)
    if period == "year":
        return f"{when.year:04d}"
    if period == "quarter":
        return f"{when.year:04d}-Q{(when.month - 1) // 3 + 1}"
    if period == "week":
        year, week, _ = when.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{when.year:04d}-{when.month:02d}"


def period_title(key: str) -> str:
    """A period key as people say it: "January 2023", "2023, 1st quarter", "2023, week 5"."""
    if "-Q" in key:
        year, quarter = key.split("-Q")
        return f"{year}, quarter {quarter}"
    if "-W" in key:
        year, week = key.split("-W")
        return f"{year}, week {int(week)}"
    if "-" in key:
        year, month = key.split("-")
        return datetime(int(year), int(month), 1).strftime("%B %Y")
    return key


def home() -> str:
    return "index.html"


def list_home(list_name: str) -> str:
    return f"{list_name}/index.html"


def period_view(list_name: str, period: str, view: str) -> str:
    return f"{list_name}/{period}/{view}.html"


def period_mbox(list_name: str, period: str) -> str:
    return f"{list_name}/{period}.mbox.gz"


def message(list_name: str, key: str) -> str:
    return f"{list_name}/m/{key}.html"


def message_raw(list_name: str, key: str) -> str:
    return f"{list_name}/m/{key}.eml"


def thread(list_name: str, thread_key: str) -> str:
    # At the same depth as message(): a message's rendered article serves both pages.
    return f"{list_name}/t/{thread_key}.html"


def thread_mbox(list_name: str, thread_key: str) -> str:
    """A thread's messages as gzipped mboxrd (`serve` also answers the same path without
    `.gz`, uncompressed)."""
    return f"{list_name}/t/{thread_key}.mbox.gz"


FEEDS = ("messages", "threads")


def list_feed(list_name: str, kind: str) -> str:
    """A list's Atom feed: `kind` "messages" (newest messages) or "threads" (newest threads)."""
    if kind not in FEEDS:
        raise ValueError(f"no {kind!r} feed: one of {', '.join(FEEDS)}")
    return f"{list_name}/{kind}.atom"


def thread_feed(list_name: str, thread_key: str) -> str:
    """A thread's Atom feed, beside its page."""
    return f"{list_name}/t/{thread_key}.atom"


def search() -> str:
    """The search page: search.js over the search index in the static build, server-side
    results from `serve`."""
    return "search.html"


def stylesheet() -> str:
    return "piperarc.css"


def search_help() -> str:
    """The page that explains the search query language (served by `serve`)."""
    return "help/search.html"


def search_mbox() -> str:
    """Every message a search finds, as mboxrd (served by `serve`; add ?q=...)."""
    return "search.mbox"


def search_script() -> str:
    """The script that searches the static index on search.html (no inline script: the
    CSP)."""
    return "piperarc-search.js"


def search_index_folder() -> str:
    """Where the build puts the static search index (site/searchindex.py)."""
    return "search-index"


def pagefind_folder() -> str:
    """Where builds before the static search index was piperarc's own put Pagefind's
    index: a build takes it out."""
    return "pagefind"


def safe_filename(name: str, index: int) -> str:
    """A file name for an attachment that cannot leave its folder or run as a document.

    Only the last path segment is kept ("/" and "\\" both separate); characters outside
    [A-Za-z0-9._+-] (NUL, control characters, spaces, non-ASCII) become "_"; leading and
    trailing dots go (".htaccess", Windows' "evil.html."), as do runs of dots; Windows'
    reserved device names (CON, NUL, COM1, ...) get a "_" prefix; names are kept under
    100 characters with their extension. An active extension (.html, .svg, .php, ...) never
    survives anywhere in the name: its dot becomes "_", and ".txt" ends a name that ended in
    one, so a web server picking the type from the name serves inert text. The message page
    shows, and its link downloads as, the real name.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base)
    base = _DOTS.sub(".", base).strip("._") or f"part-{index}"
    if _WINDOWS_RESERVED.match(base):
        base = f"_{base}"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = ext, ""
    if len(base) > 100:
        stem, ext = stem[:80].rstrip("."), ext[:16]
    # "shell.php.png" -> "shell_php.png", "evil.html" -> "evil_html.txt": Apache acts on
    # every extension of a name (mod_mime), so an active one may not stay even before ".txt".
    parts = [*stem.split("."), ext] if dot else [stem]
    base = parts[0]
    for part in parts[1:]:
        base += ("_" if part.lower() in _ACTIVE_EXTENSIONS else ".") + part
    if dot and ext.lower() in _ACTIVE_EXTENSIONS:
        base += ".txt"
    return base


def attachment(list_name: str, key: str, index: int, filename: str) -> str:
    return f"{list_name}/m/{key}/{index}-{safe_filename(filename, index)}"


def relative(from_page: str, target: str) -> str:
    """`target` as a link from the page at `from_page` (both relative to the site root)."""
    depth = from_page.count("/")
    return "../" * depth + target


def old_link_target(link: OldLink, period: str) -> str:
    """Where a URL of an old archive leads now: a message's permalink (or its attachment),
    the view of the period that holds the old volume, its mbox, or the list's home."""
    name = link.list_name
    if link.kind == "home" or link.key is None or link.date_utc is None:
        return list_home(name)
    if link.kind == "message":
        return message(name, link.key)
    if link.kind == "attachment":
        return f"{name}/m/{link.key}/{link.detail}" if link.detail else message(name, link.key)
    when = period_of(link.date_utc, period)
    if link.kind == "download":
        return period_mbox(name, when)
    return period_view(name, when, link.detail if link.detail in VIEWS else "thread")


HYPERKITTY_PREFIX = "/hyperkitty/"  # where Mailman 3's archiver is usually served


def hyperkitty_month(year: int, month: int) -> int:
    """The first instant (UTC) of a month HyperKitty's month URL names."""
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())
