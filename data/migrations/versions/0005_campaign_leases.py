"""campaign runs and shards as expiring leases; run slots bound concurrent runs

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    # Campaigns a server left "running" get no lease (None): a worker resumes them.
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('run_slot', sa.Integer(), nullable=True))
        batch_op.create_index('uq_campaigns_run_slot', ['run_slot'], unique=True,
                              sqlite_where=RUNNING, postgresql_where=RUNNING)
    with op.batch_alter_table('campaign_shards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaign_shards', schema=None) as batch_op:
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('uq_campaigns_run_slot', sqlite_where=RUNNING,
                            postgresql_where=RUNNING)
        batch_op.drop_column('run_slot')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')
