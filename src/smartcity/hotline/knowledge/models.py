"""Tables of the 12345 knowledge base (知识库): the answers departments keep, and each
answer's earlier versions (an edit keeps the text it replaced)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, UTCDateTime, UUIDPk


class KnowledgeAnswer(UUIDPk, Base):
    """One answer (知识条目): the question it answers, the answer, its source (政策文件) and the
    date by which its department reviews it again (复核日期)."""

    __tablename__ = "hotline_knowledge"
    __table_args__ = (
        Index("ix_hotline_knowledge_department_state", "department_code", "state"),
        Index("ix_hotline_knowledge_state_review_by", "state", "review_by"),
    )

    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    answer: Mapped[str] = mapped_column(Text)
    answer_en: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str] = mapped_column(String(16), index=True)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    department_code: Mapped[str] = mapped_column(String(32))
    source_name: Mapped[str] = mapped_column(String(200))
    source_number: Mapped[str] = mapped_column(String(100), default="")
    source_link: Mapped[str] = mapped_column(String(500), default="")
    effective_on: Mapped[date] = mapped_column(Date)
    review_by: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # draft, published, retired
    version: Mapped[int] = mapped_column(Integer, default=1)
    views: Mapped[int] = mapped_column(Integer, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    # The words of the title, keywords and answer as jieba cuts them (space-separated), kept
    # with the row so that every server process searches the same, current text.
    title_terms: Mapped[str] = mapped_column(Text, default="")
    keyword_terms: Mapped[str] = mapped_column(Text, default="")
    answer_terms: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


class KnowledgeRevision(UUIDPk, Base):
    """An earlier version of an answer (历史版本): what it said before an edit replaced it."""

    __tablename__ = "hotline_knowledge_revision"

    answer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("hotline_knowledge.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    answer: Mapped[str] = mapped_column(Text)
    answer_en: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(default=list)
    category_code: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(200))
    source_number: Mapped[str] = mapped_column(String(100), default="")
    source_link: Mapped[str] = mapped_column(String(500), default="")
    effective_on: Mapped[date] = mapped_column(Date)
    review_by: Mapped[date] = mapped_column(Date)
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    edited_by: Mapped[str] = mapped_column(String(100), default="")
