"""The optimizer's invocation: read the day, solve its routing problem, store the plan."""

from __future__ import annotations

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import routing as plan
from chalicelib.domain.callers import SYSTEM, Caller
from chalicelib.domain.errors import FieldlineError, Invalid
from chalicelib.domain.visits import Visit
from chalicelib.logs import logger
from chalicelib.services import proposals, tenants, travel_matrix
from chalicelib.services.dispatch_board import all_technicians, chosen_technicians, read_day
from chalicelib.services.proposals import (
    CRASHED_REASON,
    DONE,
    FAILED,
    RUNNING,
    TIMED_OUT_REASON,
    Change,
    Proposal,
    ProposedRoute,
)
from chalicelib.services.routing_problem import MINUTE, ProblemBuilder, Replan, WholeMinutes
from chalicelib.store import proposals as proposal_store
from chalicelib.store.db import ConditionFailed

# A bigger day is planned in parts (per technician group). 1,000 visits plan in a minute
# (docs/ROUTING_BENCH.md) within the optimizer function's memory and timeout.
MAX_VISITS = 1_000
# After the plan is refined on road times, a plan that broke is solved again in this share of
# the time limit: with the priority fallback the worst case stays within the proposal's
# deadline (proposals.deadline_for) and the function's timeout.
RESOLVE_SHARE = 0.25
# Road times asked for each place's nearest places; None: as many as the up-front budget
# affords (travel_matrix.NEAREST_LEGS_BUDGET; docs/ROUTING_BENCH.md has the bill per k).
ROAD_NEIGHBOURS: int | None = None


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
    tenant = tenants.get_settings(caller)
    technicians = chosen_technicians(all_technicians(caller), proposal.technician_ids)
    read = read_day(caller, proposal.date, technicians, consistent=True, tenant=tenant)
    replan = None
    if proposal.kind == "replan":
        replan = Replan(unavailable=frozenset(proposal.unavailable_technician_ids))
    problem_day = ProblemBuilder(read, clock.now(), replan).build()
    if len(problem_day.problem.visits) > MAX_VISITS:
        raise Invalid(f"at most {MAX_VISITS} visits can be planned at once; choose technicians")
    solved = _route(caller.tenant_id, problem_day.problem, proposal)
    routes = [problem_day.route(r) for r in solved.routes]
    return proposal.model_copy(
        update={
            "status": DONE,
            "timezone": tenant.timezone,
            "routes": routes,
            "changes": _changes(problem_day.free, routes) if replan else [],
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


def _changes(free: list[Visit], routes: list[ProposedRoute]) -> list[Change]:
    """Each movable visit whose technician or start the plan changes (to None: left out)."""
    placed = {
        stop.visit_id: (route.technician_id, stop)
        for route in routes
        for stop in route.stops
        if not stop.pinned
    }
    changes = []
    for visit in free:
        had = visit.technician_ids[0] if len(visit.technician_ids) == 1 else None
        was = visit.start if visit.technician_ids else None
        tech, stop = placed.get(visit.visit_id, (None, None))
        if (had, was) != (tech, stop.start if stop else None):
            changes.append(
                Change(
                    visit_id=visit.visit_id,
                    job_id=visit.job_id,
                    from_technician_id=had,
                    from_start=was,
                    to_technician_id=tech,
                    to_start=stop.start if stop else None,
                    to_end=stop.end if stop else None,
                )
            )
    return changes


def _route(tenant_id: str, problem: plan.RoutingProblem, proposal: Proposal) -> plan.Proposal:
    """Solve the day; on road times, on a sparse matrix refined where the plan drives."""
    from chalicelib.integrations import routing_pyvrp

    def solve(travel, share: float = 1.0) -> plan.Proposal:
        limit = proposal.time_limit_seconds * share
        return routing_pyvrp.solve(problem, travel, seed=proposal.seed, time_limit_seconds=limit)

    sparse = sparse_travel(tenant_id)
    if sparse is None:
        return solve(WholeMinutes(travel_provider()))
    refined = travel_matrix.solve_refined(
        problem, sparse, solve, resolve=lambda table: solve(table, RESOLVE_SHARE)
    )
    logger.info(
        "travel times",
        extra={
            "proposal_id": proposal.proposal_id,
            "provider_calls": sparse.bill.calls,
            "provider_routes": sparse.bill.routes,
            "cached_legs": sparse.bill.cached,
            "estimated_usd": round(sparse.bill.usd, 4),
            "refined_legs": refined.refined_legs,
            "resolved": refined.resolved,
        },
    )
    return refined.proposal


def sparse_travel(tenant_id: str) -> travel_matrix.SparseTravel | None:
    """Road times where a route calculator is configured: asked for sparsely, cached per
    tenant, in whole minutes (see WholeMinutes)."""
    provider = travel_provider()
    if not isinstance(provider, travel_matrix.LegSource):
        return None
    cache = travel_matrix.StoredLegCache(tenant_id)
    return travel_matrix.SparseTravel(
        provider, cache, neighbours=ROAD_NEIGHBOURS, round_to_seconds=MINUTE
    )


def travel_provider() -> plan.TravelTimeProvider:
    """Straight-line estimates by default; Amazon Location's road times where configured."""
    settings = get_settings()
    if settings.travel_provider == "amazon_location" and settings.route_calculator_name:
        from chalicelib.integrations.travel_location import AmazonLocationTravel

        return AmazonLocationTravel(settings.route_calculator_name)
    return plan.StraightLineTravel()
