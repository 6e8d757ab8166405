"""indexes for the everyday pages: a street's firms in name order, the accepted odd codes, unread notifications

The firm list pages through a street's firms by name (ix_firms_street_name, which also serves
every lookup by street, so ix_firms_street_id goes); each import reads the few credit codes an
admin accepted despite their check character (a partial index instead of a scan of every firm);
each page counts the user's unread notifications (a partial index of the unread ones).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_firms_street_name', 'firms', ['street_id', 'name', 'id'], unique=False)
    op.drop_index('ix_firms_street_id', table_name='firms')
    op.create_index(
        'ix_firms_code_exceptions',
        'firms',
        ['credit_code'],
        unique=False,
        sqlite_where=sa.text('credit_code_exception IS NOT NULL'),
        postgresql_where=sa.text('credit_code_exception IS NOT NULL'),
    )
    op.create_index(
        'ix_notifications_unread',
        'notifications',
        ['user_id'],
        unique=False,
        sqlite_where=sa.text('read_at IS NULL'),
        postgresql_where=sa.text('read_at IS NULL'),
    )


def downgrade():
    op.drop_index('ix_notifications_unread', table_name='notifications')
    op.drop_index('ix_firms_code_exceptions', table_name='firms')
    op.create_index('ix_firms_street_id', 'firms', ['street_id'], unique=False)
    op.drop_index('ix_firms_street_name', table_name='firms')
