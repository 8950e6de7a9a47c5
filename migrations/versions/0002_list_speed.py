"""Speed at a million leads: sort indexes, text search indexes, a data version per account

Revision ID: 0002
Revises: 0001

- One index per sortable field: (account_id, archived, value, id), the value being lower(text)
  for text. It serves the sort in both directions, deep pages, equality filters and counts.
- Text columns use the "C" collation on PostgreSQL, so that lower() and ordering behave as on
  SQLite (identical results on both databases).
- Search: on PostgreSQL a narrow table lead_search (the lead's searchable text, lower-cased,
  kept by a trigger) with a pg_trgm GIN index; on SQLite an FTS5 trigram table kept in sync
  by triggers. Both serve substring search for terms of 3+ characters.
- accounts.data_version, bumped by every lead write, keys the cached counts.

The field lists below are a snapshot of the catalogue at this revision (a migration must not
change when the catalogue does); tests check that they still match the catalogue.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEXT_COLUMNS = {  # name: max length (None: unbounded text)
    "application_id": 64,
    "first_name": 100,
    "last_name": 100,
    "img_src": 2048,
    "email": 254,
    "phone": 40,
    "location": 200,
    "company": 200,
    "job_title": 200,
    "position": 200,
    "branch": 200,
    "products_services_sold": None,
    "source": 100,
    "process_stage": 100,
    "buying_role": 100,
    "current_payment_processor": 200,
    "assigned_to": 254,
    "notes": None,
    "created_by": 254,
}
SORTED_TEXT = [
    "application_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "location",
    "company",
    "job_title",
    "position",
    "branch",
    "source",
    "process_stage",
    "buying_role",
    "current_payment_processor",
    "assigned_to",
    "created_by",
]
SORTED_OTHER = [
    "number_of_employees",
    "monthly_transaction_volume",
    "interested_in_switching",
    "last_contacted",
    "created_at",
    "updated_at",
]
SEARCHED = [
    "application_id",
    "first_name",
    "last_name",
    "img_src",
    "email",
    "phone",
    "location",
    "company",
    "job_title",
    "position",
    "branch",
    "products_services_sold",
    "source",
    "process_stage",
    "buying_role",
    "current_payment_processor",
    "assigned_to",
    "notes",
    "created_by",
]
SEARCH_DOCUMENT = (
    "lower(("
    + " || ' ' || ".join(f"coalesce({c}, '')" for c in SEARCHED)
    + ') COLLATE "default")'
)


def _sort_indexes() -> list[tuple[str, list, list]]:
    """(name, columns, included columns): PostgreSQL answers queries on lower(x) from the
    index alone only when x is included too."""
    indexes = [("ix_leads_sort_id", ["account_id", "archived", "id"], [])]
    for column in SORTED_TEXT:
        lowered = sa.text(f"lower({column})")
        indexes.append(
            (f"ix_leads_sort_{column}", ["account_id", "archived", lowered, "id"], [column])
        )
    for column in SORTED_OTHER:
        indexes.append((f"ix_leads_sort_{column}", ["account_id", "archived", column, "id"], []))
    return indexes


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("data_version", sa.Integer(), server_default="0", nullable=False))
    if dialect == "postgresql":
        for column, length in TEXT_COLUMNS.items():
            kind = f"varchar({length})" if length else "text"
            op.execute(f'ALTER TABLE leads ALTER COLUMN {column} TYPE {kind} COLLATE "C"')
    op.drop_index("ix_leads_account_archived_created", table_name="leads")
    for name, columns, include in _sort_indexes():
        op.create_index(name, "leads", columns, postgresql_include=include)
    if dialect == "postgresql":
        _create_search_table()
    elif dialect == "sqlite":
        _create_fts()


def _create_search_table():
    """PostgreSQL: each lead's searchable text in a narrow table, kept by a trigger.

    Checking a trigram candidate reads this small row instead of the wide lead row: a search
    that matches a sixth of a million leads reads half the data.
    """
    document = SEARCH_DOCUMENT.replace("coalesce(", "coalesce(l.")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE TABLE lead_search ("
        " lead_id integer PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,"
        " account_id integer NOT NULL,"
        " archived boolean NOT NULL,"
        " document text NOT NULL)"
    )
    op.execute(
        "CREATE FUNCTION lead_search_document(l leads) RETURNS text "
        f"LANGUAGE sql IMMUTABLE AS $$ SELECT {document} $$"
    )
    op.execute(
        "CREATE FUNCTION lead_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO lead_search VALUES "
        "(NEW.id, NEW.account_id, NEW.archived, lead_search_document(NEW)) "
        "ON CONFLICT (lead_id) DO UPDATE SET account_id = EXCLUDED.account_id, "
        "archived = EXCLUDED.archived, document = EXCLUDED.document; "
        "RETURN NULL; END $$"
    )
    columns = ", ".join(["account_id", "archived", *SEARCHED])
    op.execute(
        "CREATE TRIGGER leads_search_sync AFTER INSERT OR UPDATE OF "
        f"{columns} ON leads FOR EACH ROW EXECUTE FUNCTION lead_search_sync()"
    )
    op.execute(
        "INSERT INTO lead_search SELECT id, account_id, archived, lead_search_document(leads) "
        "FROM leads"
    )
    op.execute(
        "CREATE INDEX ix_lead_search_trgm ON lead_search USING gin (document gin_trgm_ops)"
    )


def _create_fts():
    columns = ", ".join(SEARCHED)
    new = ", ".join(f"new.{c}" for c in SEARCHED)
    old = ", ".join(f"old.{c}" for c in SEARCHED)
    op.execute(
        f"CREATE VIRTUAL TABLE leads_fts USING fts5({columns}, "
        "content='leads', content_rowid='id', tokenize='trigram')"
    )
    op.execute(
        f"CREATE TRIGGER leads_fts_insert AFTER INSERT ON leads BEGIN "
        f"INSERT INTO leads_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute(
        f"CREATE TRIGGER leads_fts_delete AFTER DELETE ON leads BEGIN "
        f"INSERT INTO leads_fts(leads_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER leads_fts_update AFTER UPDATE OF {columns} ON leads BEGIN "
        f"INSERT INTO leads_fts(leads_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO leads_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute("INSERT INTO leads_fts(leads_fts) VALUES ('rebuild')")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS leads_search_sync ON leads")
        op.execute("DROP TABLE IF EXISTS lead_search")
        op.execute("DROP FUNCTION IF EXISTS lead_search_sync()")
        op.execute("DROP FUNCTION IF EXISTS lead_search_document(leads)")
    elif dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS leads_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS leads_fts")
    for name, _, _ in _sort_indexes():
        op.drop_index(name, table_name="leads")
    op.create_index(
        "ix_leads_account_archived_created",
        "leads",
        ["account_id", "archived", "created_at", "id"],
    )
    if dialect == "postgresql":
        for column, length in TEXT_COLUMNS.items():
            kind = f"varchar({length})" if length else "text"
            op.execute(f'ALTER TABLE leads ALTER COLUMN {column} TYPE {kind} COLLATE "default"')
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("data_version")
