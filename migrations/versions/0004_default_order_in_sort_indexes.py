"""Sort indexes end with created_at: a filtered list in the default order reads no lead

Revision ID: 0004
Revises: 0003

Each sort index of 0002, (account_id, archived, value, id), gains a trailing created_at (but
the created_at index itself). A filter on a field (a date range, a stage) in the default order
(newest first) is then answered from that field's index alone: before, every match was read
from the table to learn its creation time, 30 ms for a month of 1,000,000 leads on SQLite.

The index list is 0002's snapshot (the sortable fields have not changed since). On a large
table, upgrading rebuilds 21 indexes: a few seconds per million leads on either database.
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _indexes_of_0002() -> list[tuple[str, list, list]]:
    path = Path(__file__).with_name("0002_list_speed.py")
    spec = importlib.util.spec_from_file_location("pulse_migration_0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [entry for entry in module._sort_indexes() if entry[0] != "ix_leads_sort_created_at"]


def upgrade():
    for name, columns, include in _indexes_of_0002():
        op.drop_index(name, table_name="leads")
        op.create_index(name, "leads", [*columns, "created_at"], postgresql_include=include)
    _analyze()


def _analyze():
    # Dropping an index drops its statistics; the planners need them back to choose well.
    op.execute("ANALYZE leads")


def downgrade():
    for name, columns, include in _indexes_of_0002():
        op.drop_index(name, table_name="leads")
        op.create_index(name, "leads", columns, postgresql_include=include)
    _analyze()
