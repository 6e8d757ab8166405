"""export packs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 06:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('export_packs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.String(length=6), nullable=False),
    sa.Column('status', sa.Enum('pending', 'building', 'ready', 'failed', name='packstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['tier_proposals.id'], name=op.f('fk_export_packs_proposal_id_tier_proposals')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_export_packs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_packs')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_export_packs_proposal_id'))
    )
    with op.batch_alter_table('export_packs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_packs_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_packs_quarter'), ['quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_packs_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('export_packs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_packs_status'))
        batch_op.drop_index(batch_op.f('ix_export_packs_quarter'))
        batch_op.drop_index(batch_op.f('ix_export_packs_expires_at'))

    op.drop_table('export_packs')
