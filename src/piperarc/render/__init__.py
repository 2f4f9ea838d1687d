"""Templates: values in, HTML strings out. The only place that makes HTML (autoescaped).

    (here)      the Jinja2 environment and its filters, over templates/ and static/
    mail        a message's parts (MailView) as HTML: text bodies, sanitized HTML, files
    sanitize    HTML parts through nh3, a real sanitizer: no script, no remote loads
    text        filters: plain bodies to HTML (quotes folded, patches as diffs), addresses
                obfuscated, dates and sizes as pages show them

May import mail (a message's structure), urls and the base; never the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from piperarc import urls
from piperarc.render import text


def environment() -> Environment:
    """The Jinja2 environment every page is rendered with."""
    env = Environment(
        loader=PackageLoader("piperarc", "render/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship in the package: no need to stat base.html at every page that
        # extends it (a build renders two templates a message).
        auto_reload=False,
    )
    env.globals["urls"] = urls
    env.filters["obfuscate"] = text.obfuscate
    env.filters["sender_date"] = text.sender_date
    env.filters["short_date"] = text.short_date
    env.filters["iso_date"] = text.iso_date
    env.filters["human_size"] = text.human_size
    env.filters["period_title"] = urls.period_title
    env.globals["tree_events"] = tree_events
    return env


def tree_events(depths: Sequence[int]) -> Iterator[tuple[str, int]]:
    """Open/item/close events that turn a flat list with depths into nested lists.

    Yields ("open", 0) for <ul>, ("item", i) for <li> and item i, ("end", 0) for </li> and
    ("close", 0) for </ul>, so a template nests lists without recursion; a depth never
    jumps more than one level at a time.
    """
    level = -1
    for index, wanted in enumerate(depths):
        depth = min(wanted, level + 1)
        if depth > level:
            yield ("open", 0)
        else:
            yield ("end", 0)
            while level > depth:
                yield ("close", 0)
                yield ("end", 0)
                level -= 1
        level = depth
        yield ("item", index)
    while level >= 0:
        yield ("end", 0)
        yield ("close", 0)
        level -= 1


class Renderer:
    """Renders the archive's pages from plain values."""

    def __init__(self) -> None:
        self.env = environment()
        self._templates = {
            name: self.env.get_template(f"{name}.html")
            for name in (
                "home",
                "list",
                "period",
                "period_rows",
                "message",
                "message_body",
                "thread",
                "entries",
                "message_raw",
                "message_raw_body",
                "moved",
                "search_static",
            )
        }

    def page(self, name: str, page_path: str, **context: Any) -> str:
        """Render template `name` for the page at `page_path` (relative to the site root)."""
        template = self._templates.get(name)
        if template is None:  # the server's own pages (search, help, errors), on first use
            template = self._templates[name] = self.env.get_template(f"{name}.html")
        root = urls.relative(page_path, "")
        return template.render(root=root, page_path=page_path, **context)

    def macro(self, name: str, macro: str, page_path: str, **context: Any) -> Any:
        """Macro `macro` of template `name`, bound to the context of a page at `page_path`:
        a piece of HTML made once and used in several pages at that depth (as a period's
        rows are in its four views)."""
        return getattr(self.macros(name, page_path, **context), macro)

    def macros(self, name: str, page_path: str, **context: Any) -> Any:
        """Every macro of template `name` (as attributes), bound as `macro` binds one."""
        return self._templates[name].make_module(
            {"root": urls.relative(page_path, ""), "page_path": page_path, **context}
        )
