"""The optimizer's invocation: read the day, solve its routing problem, store the plan."""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import routing as plan
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import FieldlineError, Invalid
from chalicelib.logs import logger
from chalicelib.services import proposals, tenants
from chalicelib.services.dispatch_board import all_technicians, chosen_technicians, read_day
from chalicelib.services.proposals import (
    CRASHED_REASON,
    DONE,
    FAILED,
    RUNNING,
    TIMED_OUT_REASON,
    Proposal,
)
from chalicelib.services.routing_problem import ProblemBuilder, WholeMinutes
from chalicelib.store import proposals as proposal_store
from chalicelib.store.db import ConditionFailed

# A bigger day is planned in parts (per technician group).
MAX_VISITS = 500


def run_optimization(tenant_id: str, proposal_id: str) -> str:
    """The optimizer's invocation: solve the proposal's day, store the plan or why it failed.

    Lambda may deliver one asynchronous event twice: the first invocation claims the proposal
    (`started_at`, under its version) and a second one finds it claimed and does nothing.
    Returns the status it leaves (or "skipped").
    """
    proposal = proposal_store.get_proposal(tenant_id, proposal_id, Proposal)
    if proposal is None or proposal.status != RUNNING or proposal.started_at is not None:
        return "skipped"
    if proposal.current_status(clock.now())[0] == FAILED:  # queued past its deadline
        return proposals.finish(tenant_id, proposal, FAILED, TIMED_OUT_REASON)
    proposal.started_at = clock.now()
    try:
        proposals.save(tenant_id, proposal)
    except ConditionFailed:
        return "skipped"
    system = Caller(tenant_id=tenant_id, user_id=SYSTEM, role=SYSTEM)
    try:
        solved = _solve(system, proposal)
    except FieldlineError as problem:  # too many visits, a technician gone, no travel times
        return proposals.finish(tenant_id, proposal, FAILED, problem.message)
    except Exception:
        logger.exception("optimization failed", extra={"proposal_id": proposal_id})
        proposals.finish(tenant_id, proposal, FAILED, CRASHED_REASON)
        raise  # the function's error metric and dead-letter queue see it
    if solved.current_status(clock.now())[0] == FAILED:
        # Past the deadline a client was told it failed: it stays failed.
        return proposals.finish(tenant_id, proposal, FAILED, TIMED_OUT_REASON)
    proposals.save(tenant_id, solved)
    return solved.status


def _solve(caller: Caller, proposal: Proposal) -> Proposal:
    """The proposal with its plan: per technician a route with arrival times, and what could
    not be placed."""
    from chalicelib.integrations import routing_pyvrp

    tenant = tenants.get_settings(caller)
    technicians = chosen_technicians(all_technicians(caller), proposal.technician_ids)
    read = read_day(caller, proposal.date, technicians, consistent=True, tenant=tenant)
    problem_day = ProblemBuilder(read, clock.now()).build()
    if len(problem_day.problem.visits) > MAX_VISITS:
        raise Invalid(f"at most {MAX_VISITS} visits can be planned at once; choose technicians")
    solved = routing_pyvrp.solve(
        problem_day.problem,
        WholeMinutes(travel_provider()),
        seed=proposal.seed,
        time_limit_seconds=proposal.time_limit_seconds,
    )
    return proposal.model_copy(
        update={
            "status": DONE,
            "timezone": tenant.timezone,
            "routes": [problem_day.route(r) for r in solved.routes],
            "unassigned": [problem_day.left_out(u.visit_id, u.reason) for u in solved.unassigned]
            + problem_day.not_planned,
            "skipped_technicians": problem_day.skipped,
            "total_travel_seconds": solved.total_travel_seconds,
            "visit_versions": {v.visit_id: v.version for v in problem_day.free},
            "day_versions": {
                tech.user_id: (
                    read.days[tech.user_id].version if tech.user_id in read.days else None
                )
                for tech in problem_day.planned_technicians
            },
        }
    )


def travel_provider() -> plan.TravelTimeProvider:
    """Straight-line estimates by default; Amazon Location's road times where configured."""
    settings = get_settings()
    if settings.travel_provider == "amazon_location" and settings.route_calculator_name:
        from chalicelib.integrations.travel_location import AmazonLocationTravel

        return AmazonLocationTravel(settings.route_calculator_name)
    return plan.StraightLineTravel()
