"""indicator targets; the quarter index of metrics carries the dashboard's figures

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('indicator_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('metric', sa.Enum('revenue_growth', 'tax_growth', 'digital_growth', 'rd_intensity', name='indicatormetric', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('threshold', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_indicator_targets_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_targets')),
    sa.UniqueConstraint('year', 'metric', name=op.f('uq_indicator_targets_year_metric'))
    )
    with op.batch_alter_table('quarterly_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarterly_metrics_quarter'))
        batch_op.create_index('ix_quarterly_metrics_quarter_figures', ['quarter', 'firm_id', 'revenue', 'tax', 'rd_spend'], unique=False)


def downgrade():
    with op.batch_alter_table('quarterly_metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_quarterly_metrics_quarter_figures')
        batch_op.create_index(batch_op.f('ix_quarterly_metrics_quarter'), ['quarter'], unique=False)

    op.drop_table('indicator_targets')
