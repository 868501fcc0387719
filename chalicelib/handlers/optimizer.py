"""The dispatch optimizer's function: `POST /dispatch/optimize` invokes it asynchronously
(`InvocationType=Event`) with `{tenant_id, proposal_id}`, and applying a big plan with
`{tenant_id, proposal_id, action: "apply"}`; it solves (or books) the day in its own
invocation, whose timeout and memory the stack sets for the solve (infra/parts/api.py),
far from API Gateway's 29 seconds.
"""

from __future__ import annotations

from typing import Any


def optimize_day(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from chalicelib.services import dispatch

    # `POST .../apply` of a big plan sends "action": "apply": one transaction per moved visit
    # would outlast the request, so the plan is booked here too.
    run = dispatch.run_apply if event.get("action") == "apply" else dispatch.run_optimization
    status = run(event["tenant_id"], event["proposal_id"])
    return {"proposal_id": event["proposal_id"], "status": status}


# Chalice function name → handler; the local stage and the tests route Lambda invokes by it.
FUNCTIONS = {"optimize_day": optimize_day}
