"""proxmox_endpoint: retry_backoff and access_methods (fields the netbox-proxbox plugin pushes)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proxmox_endpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retry_backoff", sa.Float(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("access_methods", sa.String(length=16), server_default="api", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("proxmox_endpoint", schema=None) as batch_op:
        batch_op.drop_column("access_methods")
        batch_op.drop_column("retry_backoff")
