"""Text templates (tenant settings)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.api.enums import TextEncoding
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Strict
from chalicelib.domain.callers import OWNER, STAFF
from chalicelib.services import templates

api = Api(__name__, "settings")


class TemplateIn(Strict):
    text: str = Field(min_length=1, max_length=1000)


class PreviewIn(Strict):
    text: str | None = Field(None, min_length=1, max_length=1000)


class TemplateOut(BaseModel):
    name: str
    text: str
    version: int


class TemplateEntry(BaseModel):
    name: str
    text: str
    custom: bool


class TemplateList(BaseModel):
    items: list[TemplateEntry]
    placeholders: dict[str, str]


class PreviewOut(BaseModel):
    name: str
    text: str
    characters: int
    encoding: TextEncoding
    segments: int


@api.route("/settings/templates", "GET", roles=STAFF, response=TemplateList)
def list_templates():
    """Every automated text, the tenant's version or the default, and the placeholders."""
    return templates.list_all(caller())


@api.route(
    "/settings/templates/{name}", "PUT", roles=(OWNER,), body=TemplateIn, response=TemplateOut
)
def put_template(name: str, body: TemplateIn, if_match: int | None = None):
    """Replace one automated text; an unknown placeholder is refused now (422)."""
    return templates.save(caller(), name, body.text, if_match)


@api.route(
    "/settings/templates/{name}/preview", "POST", roles=STAFF, body=PreviewIn, response=PreviewOut
)
def preview_template(name: str, body: PreviewIn):
    """The text rendered with sample values, and its SMS segments (GSM-7 or UCS-2)."""
    return templates.preview(caller(), name, body.text)
