"""Technicians."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import ListQuery, Out, PageOut, Patch, PointIn, Strict
from chalicelib.domain.callers import STAFF
from chalicelib.domain.users import Point, Shift
from chalicelib.services import technicians

api = Api(__name__, "technicians")

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class ShiftIn(Strict):
    days: list[Day] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)

    @field_validator("end")
    @classmethod
    def ends_after_start(cls, end: str, info):
        if info.data.get("start") and end <= info.data["start"]:
            raise ValueError("a shift ends after it starts")
        return end


Skill = Field(min_length=1, max_length=50)
CostRate = Field(None, ge=0, le=100_000_000, description="What an hour of theirs costs (cents)")


class TechnicianIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=32)
    email: str | None = Field(None, max_length=254)
    skills: list[str] = Field(default_factory=list, max_length=50)
    shift: ShiftIn = Field(
        default_factory=lambda: ShiftIn(
            days=["mon", "tue", "wed", "thu", "fri"], start="08:00", end="17:00"
        )
    )
    home: PointIn | None = None
    cost_rate_cents: int | None = CostRate


class TechnicianPatch(Patch):
    """Email and home can be cleared (null); the rest always has a value (skills: [])."""

    name: str = Field(None, min_length=1, max_length=200)
    phone: str = Field(None, min_length=3, max_length=32)
    email: str | None = Field(None, max_length=254)
    skills: list[str] = Field(None, max_length=50)
    shift: ShiftIn = None
    home: PointIn | None = None
    active: bool = None
    cost_rate_cents: int = CostRate


class TechnicianOut(Out):
    id: str = Field(validation_alias="user_id")
    name: str
    phone: str | None
    email: str | None
    skills: list[str]
    shift: Shift | None
    home: Point | None
    active: bool
    cost_rate_cents: int | None
    created_at: datetime
    version: int


class TechnicianPage(PageOut[TechnicianOut]):
    pass


@api.route(
    "/technicians", "POST", roles=STAFF, body=TechnicianIn, response=TechnicianOut, status=201
)
def create_technician(body: TechnicianIn):
    """Add a technician (a user with the technician role)."""
    return technicians.create(caller(), body.model_dump())


@api.route("/technicians", "GET", roles=STAFF, query=ListQuery, response=TechnicianPage)
def list_technicians(query: ListQuery):
    """The tenant's technicians, by name."""
    return technicians.list_all(caller(), query.cursor, query.limit)


@api.route("/technicians/{technician_id}", "GET", roles=STAFF, response=TechnicianOut)
def get_technician(technician_id: str):
    """One technician."""
    return technicians.get(caller(), technician_id)


@api.route(
    "/technicians/{technician_id}",
    "PATCH",
    roles=STAFF,
    body=TechnicianPatch,
    response=TechnicianOut,
)
def patch_technician(technician_id: str, body: TechnicianPatch, if_match: int | None = None):
    """Change a technician's details, skills, shift or home."""
    changes = body.model_dump(exclude_unset=True)
    return technicians.update(caller(), technician_id, changes, if_match)
