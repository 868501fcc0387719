"""The dispatch optimisation problem in Fieldline's own words, solver-free.

Times are integer seconds on one planning timeline (e.g. seconds since local midnight of the
day being planned). A visit's window bounds the *start* of service: a technician may arrive
early and wait, but must start by `window_end`. A technician leaves home no earlier than
`shift_start` and must be back home by `shift_end`.

Pinned visits (en route or on site) are commitments, not choices: they stay first on their
technician's route in the given order, and they are not held to their window end, the
technician's skills or the capacity; everything placed after them is.

This module is pure: the solver adapter lives in `chalicelib.integrations.routing_pyvrp`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple, Protocol

# An optional visit is worth this many seconds of extra travel: a full day, so the solver
# drops an optional visit only when it cannot fit at all, never to save driving.
DEFAULT_OPTIONAL_PRIZE = 24 * 3600

NO_SKILL_REASON = "no technician has skills {skills}"
UNREACHABLE_REASON = "window cannot be reached within any shift"
OVER_CAPACITY_REASON = "load {load} exceeds capacity {capacity}"
NO_TIME_REASON = "left out: not enough time in the day"


class RoutingProblemError(ValueError):
    """The problem is malformed (duplicate ids, unknown pinned visits, inverted windows)."""


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float


@dataclass(frozen=True)
class Technician:
    id: str
    home: Location
    shift_start: int
    shift_end: int
    skills: frozenset[str] = frozenset()
    pinned_visit_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Callers naturally pass sets and lists; store immutable copies so the problem hashes.
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "pinned_visit_ids", tuple(self.pinned_visit_ids))


@dataclass(frozen=True)
class Visit:
    id: str
    location: Location
    window_start: int
    window_end: int
    duration: int
    required_skills: frozenset[str] = frozenset()
    priority: bool = False
    load: int = 0
    prize: int = DEFAULT_OPTIONAL_PRIZE
    # Re-planning: who has the visit now. Giving it to someone else costs the problem's
    # move_penalty (in seconds of travel), so a plan moves only what it must.
    current_technician_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "required_skills", frozenset(self.required_skills))


@dataclass(frozen=True)
class RoutingProblem:
    technicians: tuple[Technician, ...]
    visits: tuple[Visit, ...]
    capacity: int | None = None  # None: loads are not limited
    move_penalty: int = 0  # seconds of travel a visit's change of technician is worth

    def __post_init__(self) -> None:
        object.__setattr__(self, "technicians", tuple(self.technicians))
        object.__setattr__(self, "visits", tuple(self.visits))

    def visit(self, visit_id: str) -> Visit:
        return self.visits_by_id[visit_id]

    @cached_property
    def visits_by_id(self) -> dict[str, Visit]:
        return {visit.id: visit for visit in self.visits}

    def pinned_ids(self) -> set[str]:
        return {vid for tech in self.technicians for vid in tech.pinned_visit_ids}

    def all_locations(self) -> list[Location]:
        """Distinct locations, homes first, in a stable order."""
        seen: dict[Location, None] = {}
        for tech in self.technicians:
            seen.setdefault(tech.home)
        for visit in self.visits:
            seen.setdefault(visit.location)
        return list(seen)


class Stop(NamedTuple):
    visit_id: str
    arrival: int
    start_service: int
    departure: int


class Unassigned(NamedTuple):
    visit_id: str
    reason: str


@dataclass(frozen=True)
class TechnicianRoute:
    technician_id: str
    stops: list[Stop]
    travel_seconds: int
    back_home: int  # when the technician is home again; shift_start for an empty route

    @property
    def visit_ids(self) -> list[str]:
        return [stop.visit_id for stop in self.stops]


@dataclass(frozen=True)
class Proposal:
    routes: list[TechnicianRoute]  # one per technician, in the problem's order
    unassigned: list[Unassigned] = field(default_factory=list)

    @property
    def total_travel_seconds(self) -> int:
        return sum(route.travel_seconds for route in self.routes)

    def route_of(self, technician_id: str) -> TechnicianRoute:
        return next(r for r in self.routes if r.technician_id == technician_id)


class TravelTimeProvider(Protocol):
    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        """Travel seconds from each location to each other, in the given order."""
        ...


@dataclass(frozen=True)
class StraightLineTravel:
    """Great-circle distance stretched by a detour factor, driven at an average speed."""

    detour_factor: float = 1.3
    speed_kmh: float = 40.0

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        return [[self.seconds(a, b) for b in locations] for a in locations]

    def seconds(self, a: Location, b: Location) -> int:
        if a == b:
            return 0
        hours = haversine_km(a, b) * self.detour_factor / self.speed_kmh
        return math.ceil(hours * 3600)


EARTH_RADIUS_KM = 6371.0088


def haversine_km(a: Location, b: Location) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class TravelTable:
    """The travel matrix over a problem's distinct locations, asked for once."""

    locations: list[Location]
    matrix: list[list[int]]

    @classmethod
    def for_problem(cls, problem: RoutingProblem, travel: TravelTimeProvider) -> TravelTable:
        locations = problem.all_locations()
        matrix = travel.matrix(locations)
        size = len(locations)
        if len(matrix) != size or any(len(row) != size for row in matrix):
            raise ValueError(f"travel matrix must be {size}x{size}")
        if any(not isinstance(s, int) or s < 0 for row in matrix for s in row):
            raise ValueError("travel times must be non-negative whole seconds")
        return cls(locations, matrix)

    def index(self, location: Location) -> int:
        return self._indices[location]

    def seconds(self, a: Location, b: Location) -> int:
        return self.matrix[self._indices[a]][self._indices[b]]

    @cached_property
    def _indices(self) -> dict[Location, int]:
        return {location: i for i, location in enumerate(self.locations)}


# --- validation -------------------------------------------------------------------------


def validate_problem(problem: RoutingProblem) -> None:
    _require_unique("technician", [tech.id for tech in problem.technicians])
    _require_unique("visit", [visit.id for visit in problem.visits])
    for tech in problem.technicians:
        if tech.shift_end < tech.shift_start:
            raise RoutingProblemError(f"technician {tech.id}: shift ends before it starts")
    for visit in problem.visits:
        _validate_visit(visit)
    _validate_pins(problem)
    if problem.capacity is not None and problem.capacity < 0:
        raise RoutingProblemError("capacity must not be negative")


def _require_unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item_id in ids:
        if item_id in seen:
            raise RoutingProblemError(f"duplicate {kind} id {item_id}")
        seen.add(item_id)


def _validate_visit(visit: Visit) -> None:
    if visit.window_end < visit.window_start:
        raise RoutingProblemError(f"visit {visit.id}: window ends before it starts")
    if min(visit.duration, visit.load, visit.prize) < 0:
        raise RoutingProblemError(f"visit {visit.id}: duration, load and prize must be >= 0")


def _validate_pins(problem: RoutingProblem) -> None:
    known = problem.visits_by_id
    owner: dict[str, str] = {}
    for tech in problem.technicians:
        for visit_id in tech.pinned_visit_ids:
            if visit_id not in known:
                raise RoutingProblemError(f"technician {tech.id}: unknown pinned visit {visit_id}")
            if visit_id in owner:
                raise RoutingProblemError(f"visit {visit_id} is pinned more than once")
            owner[visit_id] = tech.id


# --- schedules ----------------------------------------------------------------------------


def schedule_route(
    problem: RoutingProblem, tech: Technician, visit_ids: Sequence[str], table: TravelTable
) -> TechnicianRoute:
    """Earliest-start schedule: leave home at shift start, wait at a stop if early."""
    visits = problem.visits_by_id
    stops: list[Stop] = []
    here, clock, travel_total = tech.home, tech.shift_start, 0
    for visit_id in visit_ids:
        visit = visits[visit_id]
        leg = table.seconds(here, visit.location)
        arrival = clock + leg
        start = max(arrival, visit.window_start)
        clock = start + visit.duration
        stops.append(Stop(visit_id, arrival, start, clock))
        here, travel_total = visit.location, travel_total + leg
    leg_home = table.seconds(here, tech.home)
    back_home = clock + leg_home if stops else tech.shift_start
    travel_total += leg_home if stops else 0
    return TechnicianRoute(tech.id, stops, travel_total, back_home)


@dataclass(frozen=True)
class Departure:
    """Where and when a technician is free to take new visits (after any pinned ones)."""

    location: Location
    time: int
    load: int


def departure_after_pins(
    problem: RoutingProblem, tech: Technician, table: TravelTable
) -> Departure:
    if not tech.pinned_visit_ids:
        return Departure(tech.home, tech.shift_start, 0)
    pinned = schedule_route(problem, tech, tech.pinned_visit_ids, table)
    visits = problem.visits_by_id
    last = visits[tech.pinned_visit_ids[-1]]
    load = sum(visits[vid].load for vid in tech.pinned_visit_ids)
    return Departure(last.location, pinned.stops[-1].departure, load)


# --- why a visit was left out --------------------------------------------------------------


def unassigned_reason(problem: RoutingProblem, visit: Visit, table: TravelTable) -> str:
    """The most specific simple explanation; the fallback means the day was simply full."""
    skilled = [t for t in problem.technicians if visit.required_skills <= t.skills]
    if not skilled:
        return NO_SKILL_REASON.format(skills=", ".join(sorted(visit.required_skills)))
    if problem.capacity is not None and visit.load > problem.capacity:
        return OVER_CAPACITY_REASON.format(load=visit.load, capacity=problem.capacity)
    if not any(can_serve_alone(problem, tech, visit, table) for tech in skilled):
        return UNREACHABLE_REASON
    return NO_TIME_REASON


def can_serve_alone(
    problem: RoutingProblem, tech: Technician, visit: Visit, table: TravelTable
) -> bool:
    """Could this technician serve the visit if it were their only new stop of the day?"""
    free = departure_after_pins(problem, tech, table)
    arrival = free.time + table.seconds(free.location, visit.location)
    start = max(arrival, visit.window_start)
    back_home = start + visit.duration + table.seconds(visit.location, tech.home)
    return start <= visit.window_end and back_home <= tech.shift_end


def impossible_visits(problem: RoutingProblem, table: TravelTable) -> list[Unassigned]:
    """Unpinned visits no plan can contain, found by the simple checks alone."""
    pinned = problem.pinned_ids()
    left_out = []
    for visit in problem.visits:
        if visit.id in pinned:
            continue
        reason = unassigned_reason(problem, visit, table)
        if reason != NO_TIME_REASON:
            left_out.append(Unassigned(visit.id, reason))
    return left_out


# --- feasibility ----------------------------------------------------------------------------


def find_violations(
    problem: RoutingProblem, proposal: Proposal, travel: TravelTimeProvider | TravelTable
) -> list[str]:
    """Every broken rule of a proposal, in words; an empty list means it is feasible.

    Times are recomputed from the travel matrix rather than trusted from the proposal.
    """
    table = travel if isinstance(travel, TravelTable) else TravelTable.for_problem(problem, travel)
    problems = _coverage_violations(problem, proposal)
    techs = {tech.id: tech for tech in problem.technicians}
    for route in proposal.routes:
        tech = techs.get(route.technician_id)
        if tech is None:
            problems.append(f"unknown technician {route.technician_id}")
            continue
        problems += _route_violations(problem, tech, route, table)
    return problems


def is_feasible(
    problem: RoutingProblem, proposal: Proposal, travel: TravelTimeProvider | TravelTable
) -> bool:
    return not find_violations(problem, proposal, travel)


def _coverage_violations(problem: RoutingProblem, proposal: Proposal) -> list[str]:
    """Each visit exactly once: on one route or in the unassigned list."""
    counts: dict[str, int] = {}
    placed = [vid for route in proposal.routes for vid in route.visit_ids]
    for visit_id in placed + [item.visit_id for item in proposal.unassigned]:
        counts[visit_id] = counts.get(visit_id, 0) + 1
    known = problem.visits_by_id
    problems = [f"visit {vid} appears {n} times" for vid, n in counts.items() if n > 1]
    problems += [f"unknown visit {vid}" for vid in counts if vid not in known]
    problems += [f"visit {vid} is missing from the proposal" for vid in known if vid not in counts]
    techs = [route.technician_id for route in proposal.routes]
    problems += [f"technician {t} has two routes" for t in sorted(set(techs)) if techs.count(t) > 1]
    return problems


def _route_violations(
    problem: RoutingProblem, tech: Technician, route: TechnicianRoute, table: TravelTable
) -> list[str]:
    known = problem.visits_by_id
    if any(vid not in known for vid in route.visit_ids):
        return []  # already reported as unknown visits
    pins = list(tech.pinned_visit_ids)
    problems = []
    if route.visit_ids[: len(pins)] != pins:
        problems.append(f"technician {tech.id}: pinned visits {pins} are not first, in order")
    expected = schedule_route(problem, tech, route.visit_ids, table)
    problems += _timing_violations(tech, route, expected, set(pins), known)
    added = [known[vid] for vid in route.visit_ids if vid not in set(pins)]
    if added:
        problems += _added_visit_violations(problem, tech, expected, added)
    return problems


def _timing_violations(
    tech: Technician,
    route: TechnicianRoute,
    expected: TechnicianRoute,
    pinned: set[str],
    visits: dict[str, Visit],
) -> list[str]:
    problems = []
    if route.stops != expected.stops or route.travel_seconds != expected.travel_seconds:
        problems.append(f"technician {tech.id}: times or travel disagree with the travel matrix")
    for stop in expected.stops:
        if stop.visit_id not in pinned and stop.start_service > visits[stop.visit_id].window_end:
            problems.append(f"visit {stop.visit_id} starts after its window closes")
    return problems


def _added_visit_violations(
    problem: RoutingProblem, tech: Technician, expected: TechnicianRoute, added: list[Visit]
) -> list[str]:
    problems = [
        f"technician {tech.id} lacks skills for visit {visit.id}"
        for visit in added
        if not visit.required_skills <= tech.skills
    ]
    if expected.back_home > tech.shift_end:
        problems.append(f"technician {tech.id} is home after the shift ends")
    load = sum(problem.visit(vid).load for vid in expected.visit_ids)
    # Pinned load alone may exceed capacity (it is already on board); only added load can break it.
    added_load = sum(visit.load for visit in added)
    if problem.capacity is not None and added_load and load > problem.capacity:
        problems.append(f"technician {tech.id} carries {load} over capacity {problem.capacity}")
    return problems
