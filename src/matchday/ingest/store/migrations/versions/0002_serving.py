"""serving: API keys, canary rollouts and the served-predictions log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )
    op.create_table(
        "canaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("champion_version", sa.String(length=32), nullable=False),
        sa.Column("challenger_version", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("step_started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canaries")),
    )
    op.create_index("ix_canaries_model_status", "canaries", ["model_name", "status"], unique=False)
    op.create_table(
        "canary_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canary_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["canary_id"], ["canaries.id"], name=op.f("fk_canary_events_canary_id_canaries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canary_events")),
    )
    op.create_index(op.f("ix_canary_events_canary_id"), "canary_events", ["canary_id"], unique=False)
    op.create_table(
        "served_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("served_at", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("competition", sa.String(length=16), nullable=False),
        sa.Column("home_team", sa.String(length=128), nullable=False),
        sa.Column("away_team", sa.String(length=128), nullable=False),
        sa.Column("kickoff", sa.DateTime(), nullable=True),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("prob_home", sa.Float(), nullable=False),
        sa.Column("prob_draw", sa.Float(), nullable=False),
        sa.Column("prob_away", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_served_predictions")),
    )
    op.create_index(op.f("ix_served_predictions_request_id"), "served_predictions", ["request_id"], unique=False)
    op.create_index(op.f("ix_served_predictions_served_at"), "served_predictions", ["served_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_served_predictions_served_at"), table_name="served_predictions")
    op.drop_index(op.f("ix_served_predictions_request_id"), table_name="served_predictions")
    op.drop_table("served_predictions")
    op.drop_index(op.f("ix_canary_events_canary_id"), table_name="canary_events")
    op.drop_table("canary_events")
    op.drop_index("ix_canaries_model_status", table_name="canaries")
    op.drop_table("canaries")
    op.drop_table("api_keys")
