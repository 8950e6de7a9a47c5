"""`flask backup PATH`: a consistent copy of the live SQLite database (PostgreSQL: pg_dump).

SQLite's online backup API copies the database as of one moment while the app keeps serving:
readers never wait, and a write transaction open elsewhere is simply not in the copy. The copy
is written next to PATH under a temporary name, then renamed, so PATH never holds half a
backup.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.extensions import db

PG_DUMP_HINT = (
    "This app runs on PostgreSQL: back it up with pg_dump, e.g.\n"
    "  pg_dump --format=custom --file {path} '{url}'\n"
    "and restore with pg_restore --clean --if-exists --no-owner --dbname '<url>' {path}\n"
    "(see the README, Deploying: Backups)."
)


def backup_sqlite(source: str, target: Path, *, force: bool) -> int:
    """Copy the SQLite database at `source` into `target`; return the copy's size in bytes."""
    if target.exists() and not force:
        raise FileExistsError(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        live, copy = sqlite3.connect(source, timeout=30), sqlite3.connect(temporary)
        with closing(live), closing(copy):
            live.backup(copy)  # one step: the whole database as of one moment
            # A single self-contained file, not a WAL database that expects a -wal file.
            copy.execute("PRAGMA journal_mode=DELETE")
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target.stat().st_size


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@with_appcontext
def backup_command(path: Path, force: bool) -> None:
    """Write a consistent copy of the live SQLite database to PATH."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        shown = url.set(drivername="postgresql").render_as_string(hide_password=True)
        raise click.ClickException(PG_DUMP_HINT.format(path=path, url=shown))
    if not url.database or url.database == ":memory:":
        raise click.ClickException("An in-memory database has nothing to back up.")
    if not path.parent.is_dir():
        raise click.UsageError(f"No directory {path.parent}.")
    try:
        size = backup_sqlite(url.database, path, force=force)
    except FileExistsError:
        raise click.UsageError(f"{path} exists; add --force to overwrite it.") from None
    click.echo(f"Backed up {url.database} to {path} ({size:,} bytes).")
