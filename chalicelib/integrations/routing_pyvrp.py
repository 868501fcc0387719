"""Dispatch optimisation with PyVRP, behind `chalicelib.domain.routing`'s types.

PyVRP and numpy are imported inside `solve`, so a Lambda that only imports this module for
its types or never optimises does not pay for them at cold start.

Mapping:
- a technician is a vehicle type with one vehicle; technicians that are interchangeable
  (same start, home, shift, skills and free capacity) share one type with several vehicles,
  which is the same model but lets the solver treat their routes as one fleet;
- skills are load dimensions: a visit needing skill s delivers 1 in s's dimension, and a
  technician without s has capacity 0 there, so no feasible solution gives it that visit;
- `Visit.load` is one more dimension, limited by the problem's capacity;
- pinned visits are scheduled by the domain before the solver runs; the technician's vehicle
  then starts at the last pinned visit when it is done, so the pins stay first and in order;
- travel time is both the distance and the duration, at unit cost with no fixed vehicle cost,
  so the objective is total travel time (minus prizes of optional visits served).

Search settings (`SearchSettings`) grow with the day: a large day is not stopped early for want
of improvement (it still improves after 20,000 iterations) and is searched from several seeds
at once, one process per core the function is given, keeping the best plan. PyVRP's granular
neighbourhood of 50 stays: 25 and 40 did worse at 60 s (docs/ROUTING_BENCH.md).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib.domain.routing import (
    Proposal,
    RoutingProblem,
    Technician,
    TravelTable,
    TravelTimeProvider,
    Unassigned,
    Visit,
    departure_after_pins,
    find_violations,
    impossible_visits,
    schedule_route,
    unassigned_reason,
    validate_problem,
)

if TYPE_CHECKING:
    from chalicelib.domain.routing import Location

# Small problems converge in well under a second; stop there instead of burning the whole
# time limit. Large ones (100 visits) run about 1,000 iterations a second, so the time
# limit is what stops them.
NO_IMPROVEMENT_ITERATIONS = 20_000
# From this many visits on, a day is searched with the large-day settings.
LARGE_DAY_VISITS = 400


@dataclass(frozen=True)
class SearchSettings:
    """What PyVRP's iterated local search is tuned with (SolveParams), and how many seeds."""

    num_neighbours: int = 50  # granular neighbourhood per client (PyVRP's default)
    max_perturbations: int = 25  # clients moved per perturbation (PyVRP's default)
    workers: int = 1  # seeds searched at once, one process each; the best plan is kept
    # Stop early after this many iterations without a better plan (None: only the time
    # limit). Small days converge fast; a large day still improves after 20,000.
    no_improvement: int | None = NO_IMPROVEMENT_ITERATIONS

    @classmethod
    def for_visits(cls, visits: int, cores: int | None = None) -> SearchSettings:
        if visits < LARGE_DAY_VISITS:
            return cls()
        return cls(workers=max(1, cores or available_cores()), no_improvement=None)

    def solve_params(self) -> Any:
        from pyvrp import SolveParams
        from pyvrp.search import NeighbourhoodParams, PerturbationParams

        return SolveParams(
            neighbourhood=NeighbourhoodParams(num_neighbours=self.num_neighbours),
            perturbation=PerturbationParams(max_perturbations=self.max_perturbations),
        )


LAMBDA_MB_PER_VCPU = 1769


def available_cores() -> int:
    """The cores a search may keep busy. A Lambda function sees 2 to 6 vCPUs but is given CPU
    time in proportion to its memory, one vCPU's worth per 1,769 MB (so 5.8 at 10,240 MB):
    more processes than that only share the same time."""
    seen = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if memory:
        return max(1, min(seen or 1, int(memory) // LAMBDA_MB_PER_VCPU))
    return seen or 1


@dataclass(frozen=True)
class SolveReport:
    """How the search went: iterations summed over seeds, the seeds searched."""

    iterations: int
    seeds: int


def solve(
    problem: RoutingProblem,
    travel: TravelTimeProvider | TravelTable,
    *,
    seed: int = 0,
    time_limit_seconds: float = 10,
    max_iterations: int | None = None,
    search: SearchSettings | None = None,
) -> Proposal:
    """Plan the day: an ordered route per technician and the visits that could not be placed.

    Results are deterministic for a seed when the search stops on iterations (small problems,
    or `max_iterations`); when the time limit stops it, they depend on machine speed.
    If the priority visits cannot all be served together, a second search with the same limits
    serves as many of them as it can, so the worst case takes twice the time limit.
    Raises `RoutingProblemError` for a malformed problem.
    """
    return solve_with_report(
        problem,
        travel,
        seed=seed,
        time_limit_seconds=time_limit_seconds,
        max_iterations=max_iterations,
        search=search,
    )[0]


def solve_with_report(
    problem: RoutingProblem,
    travel: TravelTimeProvider | TravelTable,
    *,
    seed: int = 0,
    time_limit_seconds: float = 10,
    max_iterations: int | None = None,
    search: SearchSettings | None = None,
    cpu_time_limit: bool = False,
) -> tuple[Proposal, SolveReport]:
    """`solve`, also saying how the search went; `travel` may be a table already built.
    With `cpu_time_limit`, the limit counts each search process's CPU time (benchmarks)."""
    validate_problem(problem)
    table = travel if isinstance(travel, TravelTable) else TravelTable.for_problem(problem, travel)
    impossible = impossible_visits(problem, table)
    model = _FleetModel.build(problem, table, excluded={item.visit_id for item in impossible})
    stop = _StopRule(time_limit_seconds, max_iterations, cpu_time_limit)
    settings = search or SearchSettings.for_visits(len(model.visits))
    found = model.solve(stop, seed, settings) if model.has_work else _NOTHING
    proposal = _proposal(problem, table, model.sequences(found), impossible)
    if violations := find_violations(problem, proposal, table):
        raise RuntimeError(f"solver returned an infeasible plan: {violations}")
    return proposal, SolveReport(found.iterations, found.seeds)


@dataclass(frozen=True)
class _StopRule:
    time_limit_seconds: float
    max_iterations: int | None
    cpu_time: bool = False  # the limit counts this process's CPU time, not the wall clock

    def criterion(self, no_improvement: int | None) -> Any:
        from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement

        limit = self.time_limit_seconds
        criteria = [_MaxCpuTime(limit) if self.cpu_time else MaxRuntime(limit)]
        if no_improvement is not None:
            criteria.append(NoImprovement(no_improvement))
        if self.max_iterations is not None:
            criteria.append(MaxIterations(self.max_iterations))
        return MultipleCriteria(criteria)


class _MaxCpuTime:
    """PyVRP stopping criterion on the process's CPU seconds: on a shared machine it gives each
    solve the same search as a dedicated core would (benchmarks; a function's vCPU is its own)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started: float | None = None

    def __call__(self, best_cost: float) -> bool:
        now = time.process_time()
        if self.started is None:
            self.started = now
        return now - self.started >= self.seconds


@dataclass(frozen=True)
class _Fleet:
    """Interchangeable technicians: one PyVRP vehicle type with one vehicle each."""

    technicians: list[Technician]
    start: Location
    home: Location
    start_time: int
    shift_end: int
    skills: frozenset[str]
    free_capacity: int | None
    keeps: str | None  # re-planning: the technician whose current visits cost nothing to keep


@dataclass(frozen=True)
class _FleetModel:
    problem: RoutingProblem
    table: TravelTable
    fleets: list[_Fleet]
    visits: list[Visit]
    skill_dimensions: list[str]

    @classmethod
    def build(cls, problem: RoutingProblem, table: TravelTable, excluded: set[str]) -> _FleetModel:
        pinned = problem.pinned_ids()
        visits = [v for v in problem.visits if v.id not in pinned and v.id not in excluded]
        skills = sorted({skill for visit in visits for skill in visit.required_skills})
        return cls(problem, table, _fleets(problem, table), visits, skills)

    @property
    def has_work(self) -> bool:
        return bool(self.fleets and self.visits)

    def solve(self, stop: _StopRule, seed: int, settings: SearchSettings) -> _Found:
        """The best plan found. Falls back to optional priority visits if all won't fit."""
        found = self._search(stop, seed, settings, priority_required=True)
        if not found.feasible:
            # Some priority visits cannot all be served together; rather than fail, serve as
            # many as possible, each worth more than every optional visit and all travel.
            first = found.iterations
            found = self._search(stop, seed, settings, priority_required=False)
            found = replace(found, iterations=first + found.iterations)
        return found

    def _search(
        self, stop: _StopRule, seed: int, settings: SearchSettings, *, priority_required: bool
    ) -> _Found:
        data = self._problem_data(priority_required)
        if settings.workers <= 1:
            return _search_once(data, stop, seed, settings)
        return _search_in_parallel(data, stop, seed, settings)

    def _problem_data(self, priority_required: bool) -> Any:
        import numpy as np
        import pyvrp

        locations = [pyvrp.Location(x=loc.lng, y=loc.lat) for loc in self.table.locations]
        depot_locations = _unique([fleet.start for fleet in self.fleets] + self._homes())
        depots = [pyvrp.Depot(location=self.table.index(loc)) for loc in depot_locations]
        depot_index = {loc: i for i, loc in enumerate(depot_locations)}
        vehicle_types = [self._vehicle_type(fleet, depot_index) for fleet in self.fleets]
        clients = [self._client(visit, priority_required) for visit in self.visits]
        matrix = np.asarray(self.table.matrix, dtype=np.int64)
        distances = self._distance_profiles(matrix)
        durations = [matrix] * len(distances)
        return pyvrp.ProblemData(locations, clients, depots, vehicle_types, distances, durations)

    def _distance_profiles(self, matrix: Any) -> list[Any]:
        """The travel matrix, and when re-planning one per technician who has visits now,
        where arriving at another one's visit costs the move penalty on top of the travel.

        PyVRP's objective is the distance (travel seconds here) of each vehicle type's
        profile, and the durations stay the true travel times, so the penalty changes which
        plan is cheapest, never which plan is feasible. A place is penalised for a technician
        when none of the visits there is theirs or anybody's yet.
        """
        import numpy as np

        keepers = self._keepers()
        if not keepers:
            return [matrix]
        owners: dict[int, set[str | None]] = {}
        for visit in self.visits:
            owners.setdefault(self.table.index(visit.location), set()).add(
                visit.current_technician_id
            )
        profiles = []
        for keeper in keepers:
            moved = [place for place, who in owners.items() if not who & {keeper, None}]
            profile = matrix.copy()
            profile[:, moved] += self.problem.move_penalty
            np.fill_diagonal(profile, 0)  # staying put is no move (PyVRP requires it)
            profiles.append(profile)
        return profiles

    def _profile(self, fleet: _Fleet) -> int:
        keepers = self._keepers()
        return keepers.index(fleet.keeps) if keepers else 0

    def _keepers(self) -> list[str | None]:
        """Each fleet's profile key, in profile order (none without a move penalty)."""
        if not any(fleet.keeps for fleet in self.fleets):
            return []
        return list(dict.fromkeys(fleet.keeps for fleet in self.fleets))

    def _homes(self) -> list[Location]:
        return [fleet.home for fleet in self.fleets]

    def _vehicle_type(self, fleet: _Fleet, depot_index: dict[Location, int]) -> Any:
        import pyvrp

        # No visit can need a skill more often than there are visits.
        plenty = len(self.visits)
        capacity = [plenty if skill in fleet.skills else 0 for skill in self.skill_dimensions]
        if fleet.free_capacity is not None:
            capacity.append(fleet.free_capacity)
        return pyvrp.VehicleType(
            num_available=len(fleet.technicians),
            capacity=capacity,
            start_depot=depot_index[fleet.start],
            end_depot=depot_index[fleet.home],
            fixed_cost=0,
            tw_early=fleet.start_time,
            tw_late=fleet.shift_end,
            unit_distance_cost=1,
            unit_duration_cost=0,
            profile=self._profile(fleet),
            name=",".join(tech.id for tech in fleet.technicians),
        )

    def _client(self, visit: Visit, priority_required: bool) -> Any:
        import pyvrp

        demand = [int(skill in visit.required_skills) for skill in self.skill_dimensions]
        if self.problem.capacity is not None:
            demand.append(visit.load)
        required = visit.priority and priority_required
        return pyvrp.Client(
            location=self.table.index(visit.location),
            delivery=demand,
            service_duration=visit.duration,
            tw_early=visit.window_start,
            tw_late=visit.window_end,
            prize=self._prize(visit, priority_required),
            required=required,
            name=visit.id,
        )

    def _prize(self, visit: Visit, priority_required: bool) -> int:
        if not visit.priority:
            return visit.prize
        if priority_required:
            return 0
        # Dropping a priority visit must never pay: it outweighs every optional prize plus
        # any travel the fleet could possibly do (travel <= shift length per technician).
        optional = sum(v.prize for v in self.visits if not v.priority)
        shifts = sum((f.shift_end - f.start_time) * len(f.technicians) for f in self.fleets)
        return optional + shifts + 1

    def sequences(self, found: _Found) -> dict[str, list[str]]:
        """Visit ids per technician."""
        if not found.feasible:
            return {}  # nothing trustworthy to propose; every visit is reported unassigned
        unused = [list(fleet.technicians) for fleet in self.fleets]
        sequences: dict[str, list[str]] = {}
        for vehicle_type, clients in found.routes:
            tech = unused[vehicle_type].pop(0)
            sequences[tech.id] = [self.visits[index].id for index in clients]
        return sequences


@dataclass(frozen=True)
class _Found:
    """A search's best solution, as plain data a seed's process can send back."""

    feasible: bool
    cost: float
    routes: list[tuple[int, list[int]]]  # (vehicle type, client indices in visiting order)
    iterations: int
    seeds: int = 1


_NOTHING = _Found(feasible=True, cost=0, routes=[], iterations=0, seeds=0)


def _search_once(data: Any, stop: _StopRule, seed: int, settings: SearchSettings) -> _Found:
    import pyvrp

    result = pyvrp.solve(
        data,
        stop=stop.criterion(settings.no_improvement),
        seed=seed,
        collect_stats=False,
        display=False,
        params=settings.solve_params(),
    )
    best = result.best
    routes = [
        (route.vehicle_type(), [a.idx for a in route.schedule() if a.is_client()])
        for route in best.routes()
    ]
    return _Found(best.is_feasible(), result.cost(), routes, result.num_iterations)


def _search_in_parallel(data: Any, stop: _StopRule, seed: int, settings: SearchSettings) -> _Found:
    """Seeds seed, seed+1, ... searched at once, one process each; the cheapest plan wins.

    Processes are forked and answer through a pipe: Lambda has no /dev/shm, so
    multiprocessing's Pool and Queue (which need it for semaphores) fail there; Pipe works.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    children = []
    for offset in range(1, settings.workers):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_search_and_send, args=(data, stop, seed + offset, settings, sender)
        )
        process.start()
        sender.close()
        children.append((receiver, process))
    found = [_search_once(data, stop, seed, settings)]
    for receiver, process in children:
        # A seed whose process died (out of memory, killed) sends nothing: the others stand.
        with contextlib.suppress(EOFError):
            found.append(receiver.recv())
        process.join()
    best = min(found, key=lambda f: (not f.feasible, f.cost))
    return replace(best, iterations=sum(f.iterations for f in found), seeds=len(found))


def _search_and_send(
    data: Any, stop: _StopRule, seed: int, settings: SearchSettings, sender: Any
) -> None:
    sender.send(_search_once(data, stop, seed, settings))
    sender.close()


def _fleets(problem: RoutingProblem, table: TravelTable) -> list[_Fleet]:
    """Group technicians who can still take work into interchangeable fleets."""
    groups: dict[tuple, list[Technician]] = {}
    keepers = _current_technicians(problem)
    for tech in problem.technicians:
        free = departure_after_pins(problem, tech, table)
        if free.time + table.seconds(free.location, tech.home) > tech.shift_end:
            continue  # the pinned visits already fill this technician's day
        capacity = None if problem.capacity is None else max(0, problem.capacity - free.load)
        keeps = tech.id if tech.id in keepers else None
        key = (free.location, tech.home, free.time, tech.shift_end, tech.skills, capacity, keeps)
        groups.setdefault(key, []).append(tech)
    return [_Fleet(techs, *key) for key, techs in groups.items()]


def _current_technicians(problem: RoutingProblem) -> set[str]:
    """Technicians whose current visits are cheaper to keep (re-planning with a penalty)."""
    if problem.move_penalty <= 0:
        return set()
    return {v.current_technician_id for v in problem.visits if v.current_technician_id}


def _unique(locations: list[Location]) -> list[Location]:
    return list(dict.fromkeys(locations))


def _proposal(
    problem: RoutingProblem,
    table: TravelTable,
    sequences: dict[str, list[str]],
    impossible: list[Unassigned],
) -> Proposal:
    routes = [
        schedule_route(problem, tech, [*tech.pinned_visit_ids, *sequences.get(tech.id, [])], table)
        for tech in problem.technicians
    ]
    placed = {vid for route in routes for vid in route.visit_ids}
    known_reasons = {item.visit_id: item for item in impossible}
    unassigned = [
        known_reasons.get(v.id) or Unassigned(v.id, unassigned_reason(problem, v, table))
        for v in problem.visits
        if v.id not in placed
    ]
    return Proposal(routes, unassigned)
