"""schedule table; proxmox_endpoint.hook_secret_enc (signed hookscript events)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=100), nullable=True),
        sa.Column("endpoint_ids", sa.JSON(), nullable=True),
        sa.Column("stages", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(interval_s IS NULL) <> (cron IS NULL)", name=op.f("ck_schedule_one_timing")
        ),
        sa.CheckConstraint(
            "interval_s IS NULL OR interval_s >= 60", name=op.f("ck_schedule_interval_floor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
        sa.UniqueConstraint("name", name=op.f("uq_schedule_name")),
    )
    with op.batch_alter_table("proxmox_endpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hook_secret_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxmox_endpoint", schema=None) as batch_op:
        batch_op.drop_column("hook_secret_enc")
    op.drop_table("schedule")
