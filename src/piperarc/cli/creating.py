"""`piperarc init`: a new archive, or new lists in one (written to piperarc.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from piperarc import config as configlib
from piperarc.errors import ConfigError
from piperarc.store import open_store


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--list", "list_names", multiple=True, help="Add a list with this name (repeatable).")
@click.option("--title", help="The archive's title (new archives) or the list's title.")
@click.option("--description", default="", help="The list's description.")
@click.option("--address", default="", help="The list's posting address.")
@click.option(
    "--period",
    type=click.Choice(configlib.PERIODS),
    default="month",
    show_default=True,
    help="How the list's archive is cut into periods.",
)
@click.option(
    "--obfuscate",
    type=click.Choice(configlib.OBFUSCATIONS),
    default="at",
    show_default=True,
    help="How addresses are shown on pages.",
)
@click.option(
    "--private",
    is_flag=True,
    help="Only the list's members may read it; it stays out of the public site.",
)
@click.option(
    "--members",
    metavar="FILE|mailman",
    default="",
    help="Who the members of a --private list are: a file of addresses, one a line "
    "(relative to DIRECTORY), or 'mailman' (Mailman 3's REST API).",
)
@click.option(
    "--db",
    "database",
    metavar="URL",
    help="Keep the archive in this PostgreSQL database (postgresql://…) instead of "
    "the SQLite file archive.sqlite3.",
)
def init(
    directory: Path,
    list_names: tuple[str, ...],
    title: str | None,
    description: str,
    address: str,
    period: str,
    obfuscate: str,
    private: bool,
    members: str,
    database: str | None,
) -> None:
    """Create an archive in DIRECTORY, or add lists to an existing one."""
    if members and not private:
        raise ConfigError("--members names who may read a --private list: add --private")
    path = directory / configlib.CONFIG_NAME
    created = not path.exists()
    if database is not None and not database.startswith(configlib.SERVER_SCHEMES):
        raise ConfigError(f"--db takes a postgresql:// URL, not {database!r}")
    names = list(dict.fromkeys(list_names))
    if len(names) > 1 and (title or description or address):
        raise ConfigError(
            "--title, --description and --address describe one list: "
            "add the lists one at a time to give each its own"
        )
    for name in names:
        configlib.check_list_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    if created:
        header = configlib.archive_header(title if title and not names else "Mail archive")
        if database is not None:
            header += configlib.database_line(database) + "\n"
        path.write_text(header, encoding="utf-8")
    config = configlib.load(directory)
    if database is not None and config.database != database:
        raise ConfigError(
            "the archive already has its database; move it with: piperarc migrate --to URL",
            path,
        )
    privacy = Privacy(private, members)
    if members == configlib.MAILMAN_MEMBERS and names:
        # Checked before anything is written: a piperarc.toml that fails to load serves nothing.
        if not address:
            raise ConfigError("--members mailman needs --address (Mailman knows lists by it)")
        if not config.mailman_rest:
            raise ConfigError(
                "--members mailman needs Mailman 3's REST API: add mailman_rest, mailman_user "
                f"and mailman_password to [archive] in {path} first",
                path,
            )
    _add_lists(config, names, title, description, address, period, obfuscate, privacy)
    open_store(config.database).close()
    for line in _init_report(directory, created, names):
        click.echo(line)
    if names and private:
        click.echo(_private_report(directory, members))


def _add_lists(
    config: configlib.ArchiveConfig,
    names: list[str],
    title: str | None,
    description: str,
    address: str,
    period: str,
    obfuscate: str,
    privacy: Privacy,
) -> None:
    """Append a block per new list to piperarc.toml, all or none (a name taken already
    stops them all before anything is written)."""
    path = config.root / configlib.CONFIG_NAME
    for name in names:
        if any(lst.name == name for lst in config.lists):
            raise ConfigError(f"the list {name!r} already exists", path)
    if not names:
        return
    blocks = "".join(
        configlib.list_block(
            configlib.ListConfig(
                name,
                title or name,
                description,
                address,
                period,
                obfuscate,
                private=privacy.private,
                members=privacy.members,
            )
        )
        for name in names
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(blocks)
    configlib.load(config.root)  # prove what we wrote reads back


@dataclass(frozen=True, slots=True)
class Privacy:
    """Who may read the lists init adds."""

    private: bool = False
    members: str = ""


def _private_report(directory: Path, members: str) -> str:
    """What a private list's readers need next."""
    if not members:
        return (
            "private: nobody may read it through `piperarc serve` until members names a file "
            "of addresses (or mailman) in piperarc.toml"
        )
    if members == configlib.MAILMAN_MEMBERS:
        return "private: its readers are its members in Mailman 3 (see docs/private-lists.md)"
    where = directory / members
    state = "" if where.is_file() else " (the file does not exist yet: nobody may read it)"
    return f"private: its readers are the addresses in {where}{state}"


def _init_report(directory: Path, created: bool, names: list[str]) -> list[str]:
    """What `init` did, a line per list it added; the next command when it did nothing."""
    if names:
        verb = "created" if created else "added"
        where = "in" if created else "to"
        return [f"{verb} list {name!r} {where} archive {directory}" for name in names]
    if created:
        return [f"created archive {directory}"]
    return [
        f"archive {directory} exists already: nothing to change "
        f"(add a list with: piperarc init {directory} --list NAME)"
    ]
