"""import batches: an applying status and the process writing it

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD = ('previewed', 'applied', 'failed', 'undone', 'discarded')
NEW = ('previewed', 'applying', 'applied', 'failed', 'undone', 'discarded')


def _status_check(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applying_owner', sa.String(length=100), nullable=True))
        batch_op.drop_constraint('importstatus', type_='check')
        batch_op.create_check_constraint('importstatus', _status_check(NEW))


def downgrade():
    op.execute("UPDATE import_batches SET status = 'failed' WHERE status = 'applying'")
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_constraint('importstatus', type_='check')
        batch_op.create_check_constraint('importstatus', _status_check(OLD))
        batch_op.drop_column('applying_owner')
