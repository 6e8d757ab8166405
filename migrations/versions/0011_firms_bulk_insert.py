"""firms: cheaper to insert in bulk

The three enum CHECKs on firms become comparisons joined by OR: SQLite evaluates a CHECK's
`IN (…)` list by building a temporary table for every row inserted, ≈2 µs a row for each, most
of a 30,000-row import's firms insert. The indexes on chain, status and current_tier go: four or
three values each, none rare enough for an index to beat a scan, and every insert and tier
approval paid for them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CHECKS = {
    'chain': ('chain', ('fashion', 'trade', 'tech', 'other')),
    'firmstatus': ('status', ('active', 'relocating', 'deregistered')),
    'tier': ('current_tier', ('key', 'cultivate', 'observe', 'exit')),
}
INDEXED = ('chain', 'current_tier', 'status')


def _compared(column, values):
    return ' OR '.join(f"{column} = '{value}'" for value in values)


def _listed(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _replace_checks(condition):
    with op.batch_alter_table('firms', schema=None) as batch_op:  # SQLite rebuilds the table
        for name, (column, values) in CHECKS.items():
            batch_op.drop_constraint(batch_op.f(f'ck_firms_{name}'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_firms_{name}'), condition(column, values))


def upgrade():
    with op.batch_alter_table('firms', schema=None) as batch_op:
        for column in INDEXED:
            batch_op.drop_index(batch_op.f(f'ix_firms_{column}'))
    _replace_checks(_compared)


def downgrade():
    _replace_checks(_listed)
    with op.batch_alter_table('firms', schema=None) as batch_op:
        for column in INDEXED:
            batch_op.create_index(batch_op.f(f'ix_firms_{column}'), [column], unique=False)
