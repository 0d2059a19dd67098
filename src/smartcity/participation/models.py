"""Tables of public participation (民意征集): drafts open for comment (征求意见稿) split into
articles, the comments on them with their moderation and answer, and the register of
documents a department adopted (规范性文件、重大公共投资项目), which the figure counts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime, UUIDPk


class Draft(UUIDPk, Base):
    """A draft rule or project a department opens for online comment (征求意见稿)."""

    __tablename__ = "participation_draft"
    __table_args__ = (Index("ix_participation_draft_state_closes", "state", "closes_at"),)

    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(16))  # regulation, investment, other
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    preamble: Mapped[str] = mapped_column(Text, default="")
    # draft -> open -> closed -> answered (the adoption report 采纳情况说明 is published)
    state: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    report_text: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


class Article(UUIDPk, Base):
    """One article (第X条) of a draft, in order; ``chapter`` is the heading it falls under."""

    __tablename__ = "participation_article"

    draft_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participation_draft.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    chapter: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)


class Comment(UUIDPk, Base):
    """A signed-in citizen's or enterprise's comment on an article (or the whole draft)."""

    __tablename__ = "participation_comment"
    __table_args__ = (
        Index("ix_participation_comment_author", "author_account_id", "created_at"),
        Index("ix_participation_comment_draft_state", "draft_id", "state"),
    )

    draft_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participation_draft.id", ondelete="CASCADE")
    )
    article_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participation_article.id", ondelete="CASCADE"), index=True
    )
    author_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE")
    )
    author_kind: Mapped[str] = mapped_column(String(16))  # citizen, enterprise
    author_name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    # pending -> published | rejected (with the reason the commenter reads)
    state: Mapped[str] = mapped_column(String(16))
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    moderated_by: Mapped[str] = mapped_column(String(100), default="")
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    # adopted (采纳), partly (部分采纳), not_adopted (未采纳); empty until answered
    answer: Mapped[str] = mapped_column(String(16), default="")
    answer_reason: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    answered_by: Mapped[str] = mapped_column(String(100), default="")


class AdoptedDocument(UUIDPk, Base):
    """A regulation or major public investment a department adopted (the register the figure
    "100% open to online public comment" counts), linked to its draft when it had one."""

    __tablename__ = "participation_document"
    __table_args__ = (Index("ix_participation_document_year", "adopted_on"),)

    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # regulation, investment
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    adopted_on: Mapped[date] = mapped_column(Date)
    draft_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("participation_draft.id", ondelete="SET NULL"), index=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(100))
