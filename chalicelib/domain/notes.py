"""Notes staff and technicians leave on a job."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Note(BaseModel):
    note_id: str
    job_id: str
    text: str
    author_id: str
    created_at: datetime
    version: int | None = None
