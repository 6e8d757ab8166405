"""import batch on firm and metric rows

Firms remember the batch that created them and metric rows the batch that last wrote them, so
undo finds a batch's new firms without an ImportItem per created firm.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('firms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_batch_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_firms_import_batch_id'), ['import_batch_id'], unique=False)

    with op.batch_alter_table('quarterly_metrics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_batch_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('quarterly_metrics', schema=None) as batch_op:
        batch_op.drop_column('import_batch_id')

    with op.batch_alter_table('firms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firms_import_batch_id'))
        batch_op.drop_column('import_batch_id')
