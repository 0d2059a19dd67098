"""The 12345 knowledge base (知识库): answers and their earlier versions

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-08 03:00:00

``hotline_knowledge`` holds the answers departments keep (source, review date, state, the
words search looks up); ``hotline_knowledge_revision`` the text an edit replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import smartcity.core.db

revision: str = "0026"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = smartcity.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hotline_knowledge",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_en", sa.Text(), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("source_number", sa.String(length=100), nullable=False),
        sa.Column("source_link", sa.String(length=500), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("review_by", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("keyword_terms", sa.Text(), nullable=False),
        sa.Column("answer_terms", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", _WHEN, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_knowledge")),
    )
    op.create_index(
        "ix_hotline_knowledge_department_state",
        "hotline_knowledge",
        ["department_code", "state"],
        unique=False,
    )
    op.create_index(
        "ix_hotline_knowledge_state_review_by",
        "hotline_knowledge",
        ["state", "review_by"],
        unique=False,
    )
    op.create_index(
        op.f("ix_hotline_knowledge_category_code"),
        "hotline_knowledge",
        ["category_code"],
        unique=False,
    )
    op.create_table(
        "hotline_knowledge_revision",
        sa.Column("answer_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_en", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("source_number", sa.String(length=100), nullable=False),
        sa.Column("source_link", sa.String(length=500), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("review_by", sa.Date(), nullable=False),
        sa.Column("edited_at", _WHEN, nullable=False),
        sa.Column("edited_by", sa.String(length=100), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["hotline_knowledge.id"],
            name=op.f("fk_hotline_knowledge_revision_answer_id_hotline_knowledge"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_knowledge_revision")),
    )
    op.create_index(
        op.f("ix_hotline_knowledge_revision_answer_id"),
        "hotline_knowledge_revision",
        ["answer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_hotline_knowledge_revision_answer_id"), table_name="hotline_knowledge_revision"
    )
    op.drop_table("hotline_knowledge_revision")
    op.drop_index(op.f("ix_hotline_knowledge_category_code"), table_name="hotline_knowledge")
    op.drop_index("ix_hotline_knowledge_state_review_by", table_name="hotline_knowledge")
    op.drop_index("ix_hotline_knowledge_department_state", table_name="hotline_knowledge")
    op.drop_table("hotline_knowledge")
