"""background exports: large list downloads beside packs, progress and retries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export_packs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('pack', 'roster', name='exportkind', native_enum=False, create_constraint=True, length=16), server_default='pack', nullable=False))
        batch_op.add_column(sa.Column('filters', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('total', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_export_packs_kind'), ['kind'], unique=False)
    op.execute("UPDATE export_packs SET filters = '{}'")
    with op.batch_alter_table('export_packs', schema=None) as batch_op:
        batch_op.alter_column('filters', existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table('export_packs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_packs_kind'))
        batch_op.drop_constraint('exportkind', type_='check')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('total')
        batch_op.drop_column('done')
        batch_op.drop_column('filters')
        batch_op.drop_column('kind')
