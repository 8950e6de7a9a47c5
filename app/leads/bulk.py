"""Loading many leads at once (demo data, benchmarks, imports).

Keeping two dozen indexes and the search index up to date row by row makes a big load slow;
building each of them once afterwards is many times faster. `set_aside_indexes` saves the
leads table's index and trigger definitions from the database itself (so nothing here repeats
the migrations), drops them, and recreates them when the load is done. Rows go in with
`executemany` on SQLite and `COPY` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.database import begin_write
from app.db_deadlines import allow_long_statements
from app.extensions import db
from app.models import leads_table

BATCH = 10_000
SEARCH_TABLE = "leads_fts"


def insert_leads(rows: Iterable[dict[str, Any]]) -> int:
    """Insert lead rows (column name → value) in batches, in the session's write transaction
    (the caller commits, after updating the accounts' counts); returns how many."""
    begin_write()  # COPY goes past SQLAlchemy's statement hooks, so it never opens one itself
    connection = db.session.connection()
    allow_long_statements(connection)
    columns = [c.name for c in leads_table.columns if c.name != "id"]
    convert = _converters(connection, columns)
    inserted = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        values = [
            tuple(f(row.get(c)) for c, f in zip(columns, convert, strict=True)) for row in batch
        ]
        if connection.dialect.name == "postgresql":
            _copy(connection, columns, values)
        else:
            names, marks = ", ".join(columns), ", ".join("?" * len(columns))
            connection.exec_driver_sql(f"INSERT INTO leads ({names}) VALUES ({marks})", values)
        inserted += len(values)
    return inserted


def _converters(connection: Connection, columns: list[str]) -> list[Any]:
    """Each column's bind processing (UTC datetimes, money in cents…), as the ORM applies it."""
    identity = lambda value: value  # noqa: E731
    result = []
    for name in columns:
        processor = leads_table.c[name].type.bind_processor(connection.dialect)
        result.append(processor or identity)
    return result


def _copy(connection: Connection, columns: list[str], values: list[tuple[Any, ...]]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY leads ({', '.join(columns)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


@contextmanager
def set_aside_indexes() -> Iterator[None]:
    """Drop the secondary indexes and search triggers of the leads (and of PostgreSQL's search
    table), then rebuild them once and add the new leads to the search index."""
    connection = db.session.connection()
    allow_long_statements(connection)  # an index over a million leads takes a while
    saved = _definitions(connection)
    for kind, name, _ in saved:
        on_table = " ON leads" if kind == "TRIGGER" and _postgres(connection) else ""
        connection.exec_driver_sql(f'DROP {kind} IF EXISTS "{name}"{on_table}')
    first_new_id = connection.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM leads"))
    yield
    if any(kind == "TRIGGER" for kind, _, _ in saved):
        _search_new_rows(connection, first_new_id)
    if _postgres(connection):
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for _, _, definition in saved:
        connection.exec_driver_sql(definition)


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _definitions(connection: Connection) -> list[tuple[str, str, str]]:
    """(kind, name, SQL) of the secondary indexes and triggers to set aside."""
    if _postgres(connection):
        found = connection.execute(
            text(
                "SELECT 'INDEX', i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.tablename IN ('leads', 'lead_search') "
                "AND i.schemaname = current_schema() "
                "AND i.indexname NOT IN (SELECT conname FROM pg_constraint) "
                "UNION ALL SELECT 'TRIGGER', t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "WHERE t.tgrelid = 'leads'::regclass AND NOT t.tgisinternal"
            )
        )
    else:
        found = connection.execute(
            text(
                "SELECT upper(type), name, sql FROM sqlite_master "
                "WHERE tbl_name = 'leads' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
            )
        )
    return [(kind, name, definition) for kind, name, definition in found]


def _search_new_rows(connection: Connection, first_new_id: int) -> None:
    """Add the loaded leads to the search table, as the set-aside triggers would have."""
    if _postgres(connection):
        statement = (
            "INSERT INTO lead_search SELECT id, account_id, archived, "
            "lead_search_document(leads) FROM leads WHERE id >= :first"
        )
    else:
        info = connection.exec_driver_sql(f"PRAGMA table_info({SEARCH_TABLE})")
        names = ", ".join(row[1] for row in info)
        statement = (
            f"INSERT INTO {SEARCH_TABLE}(rowid, {names}) "
            f"SELECT id, {names} FROM leads WHERE id >= :first"
        )
    connection.execute(text(statement), {"first": first_new_id})


def refresh_statistics() -> None:
    """After a big load: fresh planner statistics (and, on PostgreSQL, the visibility map
    that index-only scans rely on). Runs outside any transaction."""
    engine = db.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET statement_timeout = 0")  # no transaction to bound
            try:
                connection.exec_driver_sql("VACUUM (ANALYZE) leads, lead_search")
            finally:
                connection.exec_driver_sql("RESET statement_timeout")  # the pool's default
        else:
            connection.exec_driver_sql("ANALYZE")
