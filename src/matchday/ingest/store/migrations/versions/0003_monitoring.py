"""monitoring: drift checks, retraining triggers and pipeline runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("current_rows", sa.Integer(), nullable=False),
        sa.Column("feature_share", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index("ix_drift_checks_model_checked", "drift_checks", ["model_name", "checked_at"], unique=False)
    op.create_table(
        "retrain_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drift_check_id", sa.Integer(), nullable=False),
        sa.Column("triggered_at", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("launcher", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drift_check_id"], ["drift_checks.id"], name=op.f("fk_retrain_triggers_drift_check_id_drift_checks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_triggers")),
    )
    op.create_index("ix_retrain_triggers_model_at", "retrain_triggers", ["model_name", "triggered_at"], unique=False)
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
    )
    op.create_index("ix_pipeline_runs_pipeline_started", "pipeline_runs", ["pipeline", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pipeline_runs_pipeline_started", table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
    op.drop_index("ix_retrain_triggers_model_at", table_name="retrain_triggers")
    op.drop_table("retrain_triggers")
    op.drop_index("ix_drift_checks_model_checked", table_name="drift_checks")
    op.drop_table("drift_checks")
