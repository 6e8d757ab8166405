"""data versions: a token per table that cached figures are made from, replaced by every write;
the quarter index of tier assignments carries firm and tier (the dashboard's transition matrix)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 09:00:00.000000

"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

#: service_app.data_versions.VERSIONED_TABLES when this migration was written; a table missing from
#: data_versions gets its row at its first write, and until then its figures are not cached.
TABLES = ('firm_requests', 'firms', 'followups', 'quarterly_metrics', 'request_steps', 'tier_assignments', 'visits')


def upgrade():
    versions = op.create_table('data_versions',
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_data_versions'))
    )
    op.bulk_insert(versions, [{'table_name': name, 'token': uuid.uuid4().hex} for name in TABLES])
    with op.batch_alter_table('tier_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tier_assignments_quarter'))
        batch_op.create_index('ix_tier_assignments_quarter_firm_tier', ['quarter', 'firm_id', 'tier'], unique=False)


def downgrade():
    with op.batch_alter_table('tier_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_tier_assignments_quarter_firm_tier')
        batch_op.create_index(batch_op.f('ix_tier_assignments_quarter'), ['quarter'], unique=False)
    op.drop_table('data_versions')
