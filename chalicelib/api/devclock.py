"""Local stage only: run what the nightly schedule would, now."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chalicelib.api.http import Api
from chalicelib.api.schemas import Strict
from chalicelib.services import reconciliation

api = Api(__name__, "local stage")


class RunOut(BaseModel):
    execution_arn: str


class PlansRunIn(Strict):
    as_of: datetime | None = Field(
        None, description="Decide what is due as if it were then (a later day). Default: now."
    )


class PlansRunOut(BaseModel):
    outcomes: dict[str, int]


@api.route("/dev/plans/run", "POST", roles=None, body=PlansRunIn, response=PlansRunOut)
def run_plans_now(body: PlansRunIn):
    """Run the service plans' daily billing now (local stage only), as of `as_of`."""
    from chalicelib.domain import clock
    from chalicelib.services import plan_billing

    return PlansRunOut(outcomes=plan_billing.run_due(body.as_of or clock.now()))


@api.route("/dev/reconcile", "POST", roles=None, response=RunOut, status=202)
def reconcile_now():
    """Start a payment reconciliation run now (local stage only)."""
    return RunOut(execution_arn=reconciliation.start_now().execution_arn)
