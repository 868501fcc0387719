"""Request and response models shared by every route (they also feed /openapi.json)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a typo or a `tenant_id` is an error, not ignored."""

    # defer_build: a cold start builds only the validators of the route it serves.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class ListQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=2048)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list = Field(default_factory=list)


class ErrorOut(BaseModel):
    error: ErrorDetail


Name = Field(min_length=1, max_length=200)
Text = Field(min_length=1, max_length=5000)
