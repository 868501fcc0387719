"""Health and the OpenAPI document (no auth)."""

from __future__ import annotations

from pydantic import BaseModel

from chalicelib.api.http import Api
from chalicelib.config import get_settings

api = Api(__name__, "meta")


class HealthOut(BaseModel):
    status: str
    version: str
    stage: str


@api.route("/health", "GET", roles=None, response=HealthOut)
def health():
    """Liveness: the function answers (it touches no upstream)."""
    settings = get_settings()
    return HealthOut(status="ok", version=settings.version, stage=settings.stage)


@api.route("/openapi.json", "GET", roles=None)
def openapi():
    """This API described as OpenAPI 3.1, generated from the route declarations."""
    from chalicelib.api.openapi import document

    return document()
