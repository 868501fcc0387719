"""Local stage only: run what the nightly schedule would, now."""

from __future__ import annotations

from pydantic import BaseModel

from chalicelib.api.http import Api
from chalicelib.services import reconciliation

api = Api(__name__, "local stage")


class RunOut(BaseModel):
    execution_arn: str


@api.route("/dev/reconcile", "POST", roles=None, response=RunOut, status=202)
def reconcile_now():
    """Start a payment reconciliation run now (local stage only)."""
    return RunOut(execution_arn=reconciliation.start_now().execution_arn)
