"""Input and output of the routing API: suggestions, merges, duplicate proposals, models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from smartcity.core.text import FreeText
from smartcity.hotline.routing.classify import TEXT_MAX


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuggestInput(_Input):
    text: Annotated[FreeText, Field(min_length=1, max_length=TEXT_MAX)]


class MergeInput(_Input):
    parent: uuid.UUID


class SuggestionRead(BaseModel):
    category: str
    category_name: str
    department: str
    confidence: float


class SuggestionsRead(BaseModel):
    model_version: int | None
    suggestions: list[SuggestionRead]
    department_confidence: dict[str, float]
    threshold: float


class DuplicateRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    parent_id: uuid.UUID
    parent_number: str
    distance_m: float
    similarity: float
    state: str


class RoutingRead(BaseModel):
    model_version: int | None
    confidence: float
    mode: str
    department: str
    suggestions: list[SuggestionRead]
    routed_at: datetime
    duplicates: list[DuplicateRead]


class ModelRead(BaseModel):
    version: int
    created_at: datetime
    trained_on: int
    shipped: bool
    created_by: str
    metrics: dict[str, Any]
