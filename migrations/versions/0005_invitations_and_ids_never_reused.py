"""Invitations, a forced change of temporary passwords, and ids that SQLite never reuses

Revision ID: 0005
Revises: 0004

- `invitations`: single-use links to join an account (only a hash of each token is kept).
- `users.must_change_password`: set when someone else chose the password. Users who may still
  hold a temporary password that an admin chose (Settings, Members, before invitations) are
  marked: every user who joined an account that already existed. A user created together
  with an account (the first run's setup, `flask users create` with a new account, `flask
  demo`) chose their password, or the operator did, and is left alone.
- SQLite: every table is rebuilt with AUTOINCREMENT, so a deleted row's id is never handed out
  again (a new lead got the newest deleted lead's id, and with it its audit entries, ETags and
  Idempotency-Key replays). The rebuild keeps the rows, the indexes, the search triggers, the
  foreign keys and the planner's statistics; env.py turns foreign keys off around migrations
  on SQLite, or dropping the old table would cascade into every table that references it.
  The leads' counter starts past every id the audit log names, deleted leads' included.
  PostgreSQL's sequences never reuse an id: nothing to do there.
"""

import re
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Parents first (the order does not matter with foreign keys off, but reads better).
TABLES = (
    "accounts",
    "users",
    "memberships",
    "api_tokens",
    "leads",
    "audit_events",
    "idempotency_keys",
)
CREATED_TOGETHER = timedelta(seconds=10)  # a user and the account made in the same command


def upgrade():
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_invitations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_invitations_account_email", "invitations", ["account_id", "email"], unique=False
    )
    _mark_temporary_passwords()
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, _with_autoincrement)
        _start_lead_ids_past_the_audit_log()
        _check_foreign_keys()


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            _rebuild(table, _without_autoincrement)
        _check_foreign_keys()
    op.drop_index("ix_invitations_account_email", table_name="invitations")
    op.drop_table("invitations")
    op.drop_column("users", "must_change_password")  # SQLite 3.35+ drops a column in place


def _mark_temporary_passwords():
    """Mark every user who joined an account that existed before them: an admin may have
    chosen their password (a temporary one, shown to that admin)."""
    bind = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime()),
        sa.column("must_change_password", sa.Boolean()),
    )
    accounts = sa.table("accounts", sa.column("id"), sa.column("created_at", sa.DateTime()))
    memberships = sa.table("memberships", sa.column("user_id"), sa.column("account_id"))
    created = dict(bind.execute(sa.select(users.c.id, users.c.created_at)).all())
    together = set()
    joined = sa.select(memberships.c.user_id, accounts.c.created_at).join(
        accounts, accounts.c.id == memberships.c.account_id
    )
    for user_id, account_created in bind.execute(joined):
        if abs(created[user_id] - account_created) <= CREATED_TOGETHER:
            together.add(user_id)
    marked = sorted(set(created) - together)
    for start in range(0, len(marked), 500):
        bind.execute(
            users.update()
            .where(users.c.id.in_(marked[start : start + 500]))
            .values(must_change_password=True)
        )


# SQLite: rebuilding a table ------------------------------------------------------------------

_CREATE = re.compile(r'^CREATE TABLE "?(\w+)"? \(', re.I)
_TABLE_PRIMARY_KEY = re.compile(r',\s*CONSTRAINT "?(\w+)"? PRIMARY KEY \(id\)', re.I)
_ID_COLUMN = re.compile(r"\(\s*id INTEGER NOT NULL(?=\s*,)", re.I)
_INLINE_PRIMARY_KEY = re.compile(
    r'\(\s*id INTEGER NOT NULL CONSTRAINT "?(\w+)"? PRIMARY KEY AUTOINCREMENT(?=\s*,)', re.I
)


def _with_autoincrement(sql, table):
    """The table's CREATE statement with `id` as an AUTOINCREMENT primary key (SQLite allows
    AUTOINCREMENT only on a column's own PRIMARY KEY clause, not on a table constraint)."""
    found = _TABLE_PRIMARY_KEY.search(sql)
    if found is None or not _ID_COLUMN.search(sql):
        raise RuntimeError(f"unexpected schema for {table}: {sql}")
    sql = _TABLE_PRIMARY_KEY.sub("", sql, count=1)
    return _ID_COLUMN.sub(
        f"(\n\tid INTEGER NOT NULL CONSTRAINT {found[1]} PRIMARY KEY AUTOINCREMENT", sql, count=1
    )


def _without_autoincrement(sql, table):
    """The CREATE statement as revision 0004 left it: the primary key a table constraint."""
    found = _INLINE_PRIMARY_KEY.search(sql)
    if found is None:
        raise RuntimeError(f"unexpected schema for {table}: {sql}")
    sql = _INLINE_PRIMARY_KEY.sub("(\n\tid INTEGER NOT NULL", sql, count=1)
    end = sql.rindex(")")
    return f"{sql[:end].rstrip()}, \n\tCONSTRAINT {found[1]} PRIMARY KEY (id)\n)"


def _rebuild(table, transform):
    """Recreate `table` from its own CREATE statement, changed by `transform`: copy the rows,
    drop the old table (its indexes and triggers go with it), rename the new one, and
    recreate the indexes, triggers and statistics exactly as they were."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    dependents = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type, name",
        (table,),
    ).scalars().all()
    statistics = _statistics(table)
    new = f"{table}_rebuilt"
    create = _CREATE.sub(f"CREATE TABLE {new} (", transform(sql, table), count=1)
    bind.exec_driver_sql(create)
    bind.exec_driver_sql(f'INSERT INTO {new} SELECT * FROM "{table}"')  # same columns, in order
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE {new} RENAME TO "{table}"')
    for statement in dependents:
        bind.exec_driver_sql(statement)
    if statistics:
        bind.exec_driver_sql(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", statistics
        )


def _statistics(table):
    """The planner's statistics of the table and its indexes (ANALYZE), which DROP TABLE
    deletes: without them SQLite may plan the lead list differently."""
    bind = op.get_bind()
    exists = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if exists is None:
        return []
    rows = bind.exec_driver_sql("SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = ?", (table,))
    return [tuple(row) for row in rows]


def _start_lead_ids_past_the_audit_log():
    """A deleted lead's id lives on in its audit entries: the next lead's id must be past them
    too, not only past the leads that remain."""
    bind = op.get_bind()
    highest = bind.exec_driver_sql(
        "SELECT max(id) FROM (SELECT max(id) AS id FROM leads "
        "UNION ALL SELECT max(lead_id) FROM audit_events)"
    ).scalar()
    if highest is None:
        return
    bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'leads'")
    bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('leads', ?)", (highest,))


def _check_foreign_keys():
    """Foreign keys are off while migrations run (env.py): prove no row lost its parent."""
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"rows without their parent after the rebuild: {broken[:10]}")
