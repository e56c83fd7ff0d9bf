"""Request and response models of the search and analysis routes (routes/search.py).

Request models take their fields from the query string or a JSON body alike (http/params.py),
so an unknown parameter is a 422 naming it. List parameters also read as one comma-separated
string, the only way a query string can carry them there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ctxstore.application.checkpoint_model import AccessLevel
from ctxstore.application.context_search import split_keywords
from ctxstore.application.memory_search import DEFAULT_LIMIT, MAX_LIMIT
from ctxstore.domain.agent_id import AGENT_ID_PATTERN
from ctxstore.domain.bounds import INT64_MAX
from ctxstore.domain.events import MAX_EMBEDDING_DIMENSIONS, MemoryKind

AgentIdField = Annotated[str, Field(pattern=AGENT_ID_PATTERN, max_length=128)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _comma_list(value: Any) -> Any:
    """`"a,b"` (the query-string form) as `["a", "b"]`; a list as it is."""
    return split_keywords([value]) if isinstance(value, str) else value


class ContextSearchRequest(BaseModel):
    """The seed's ContextSearchQuery (`POST /context/search`), with our catalogue filters."""

    model_config = ConfigDict(extra="forbid")

    agent_id: AgentIdField | None = Field(default=None, description="Only this agent's.")
    keywords: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=32,
        description="All must match (case-insensitive), each in the label, session, agent id "
        "or the package's text; a comma-separated string in the query.")
    created_after: datetime | None = None
    min_message_count: int | None = Field(default=None, ge=0, le=INT64_MAX)
    q: str | None = Field(default=None, max_length=256,
                          description="Text in the label, agent, id or session.")
    access_level: AccessLevel | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=INT64_MAX)

    _keywords = field_validator("keywords", mode="before")(_comma_list)


class TextSearchRequest(BaseModel):
    """`GET /search`: full-text search of the messages and memories agents saw."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=1000,
                   description='Words and "quoted phrases", all of which must occur.')
    agent_id: AgentIdField | None = Field(default=None, description="Only this agent.")
    all: bool = Field(default=False, description="Every match, not only each agent's first.")
    limit: int = Field(default=50, ge=1, le=1000)


class AnalysisRequest(BaseModel):
    """`GET /agents/{agent_id}/analysis`: the seed's analyze_context_evolution."""

    model_config = ConfigDict(extra="forbid")

    time_period: str = Field(default="P30D", min_length=1, max_length=64,
                             description="How far back from now: ISO 8601 (P7D, PT12H), "
                             "30m, 12h, 7d, 2w, or seconds.")
    bucket: Literal["minute", "hour", "day"] | None = Field(
        default=None, description="Windows of the detailed analysis (default: by the period).")


class MemorySearchRequest(BaseModel):
    """`POST /agents/{agent_id}/memories/search`: memories by cosine similarity."""

    model_config = ConfigDict(extra="forbid")

    embedding: list[FiniteFloat] = Field(
        min_length=1, max_length=MAX_EMBEDDING_DIMENSIONS,
        description="The query vector; its dimension must be that of the stored embeddings.")
    version: int | None = Field(default=None, ge=0, le=INT64_MAX)
    at: datetime | None = None
    package_id: str | None = Field(default=None, min_length=1, max_length=256)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    min_score: float | None = Field(default=None, ge=-1, le=1)
    kinds: list[MemoryKind] = Field(default_factory=list, max_length=4,
                                    description="Only memories of these kinds.")

    _kinds = field_validator("kinds", mode="before")(_comma_list)


class TextHitOut(BaseModel):
    agent_id: str
    version: int
    at: str
    source: str
    ref: str
    label: str
    snippet: str


class TextSearchOut(BaseModel):
    query: str
    position: int | None = Field(description="Last event-log position the index holds.")
    hits: list[TextHitOut]
