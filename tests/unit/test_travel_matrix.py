"""The sparse travel matrix: road times for near legs, estimates for the rest, a leg cache, and
the legs a plan drives refined after the solve."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from chalicelib.domain.ids import new_id
from chalicelib.domain.routing import Location, RoutingProblem, Technician, Visit
from chalicelib.integrations.routing_pyvrp import solve
from chalicelib.services.travel_matrix import (
    FIT_SAMPLE,
    NEAREST_LEGS_BUDGET,
    MemoryLegCache,
    SparseTravel,
    StoredLegCache,
    driven_legs,
    solve_refined,
)

HOUR = 3600


def planar_km(locations: Sequence[Location]) -> list[list[float]]:
    """Coordinates read as km on a plane: easy to reason about in a test."""
    return [[math.hypot(a.lat - b.lat, a.lng - b.lng) for b in locations] for a in locations]


class Roads:
    """Roads at 2 minutes per straight-line km, except across the river (lng 5): a bridge far
    away makes every crossing an hour longer. Counts what it was asked, like a bill."""

    def __init__(self) -> None:
        self.asked: list[tuple[Location, Location]] = []

    def seconds(self, a: Location, b: Location) -> int:
        crossing = (a.lng < 5) != (b.lng < 5)
        return math.ceil(120 * math.hypot(a.lat - b.lat, a.lng - b.lng)) + HOUR * crossing

    def routes(self, departures, destinations) -> list[list[int | None]]:
        self.asked += [(a, b) for a in departures for b in destinations]
        return [[self.seconds(a, b) for b in destinations] for a in departures]

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        return [[self.seconds(a, b) for b in locations] for a in locations]


# Two rows of houses, 1 km apart, on both banks of the river.
PLACES = [Location(float(row), float(col)) for row in range(2) for col in (0, 1, 2, 3, 7, 8, 9)]


def sparse(roads: Roads, cache: MemoryLegCache | None = None, neighbours: int = 3):
    return SparseTravel(
        roads, cache or MemoryLegCache(), neighbours=neighbours, straight_line_km=planar_km
    )


def test_near_legs_come_from_the_provider_and_the_rest_are_estimated():
    roads = Roads()
    travel = sparse(roads)

    matrix = travel.matrix(PLACES)

    km = planar_km(PLACES)
    near = {
        (i, j)
        for i in range(len(PLACES))
        for j in sorted(range(len(PLACES)), key=lambda j: (km[i][j], j))[1:4]
    }
    wanted = near | {(j, i) for i, j in near}
    # Only those legs were asked for, each once, and the bill counts them.
    assert sorted(roads.asked, key=str) == sorted(
        ((PLACES[i], PLACES[j]) for i, j in wanted), key=str
    )
    assert travel.bill.routes == len(wanted) and travel.bill.calls == len(PLACES)
    for i, j in wanted:
        assert matrix[i][j] == roads.seconds(PLACES[i], PLACES[j])
    # The fitted rate is the near legs' (none of them crosses the river): 2 min per km, a
    # little more where their rounding up shows (the estimate errs long, never short)
    assert 120 <= travel.seconds_per_km < 121
    far = PLACES.index(Location(0.0, 0.0)), PLACES.index(Location(1.0, 9.0))
    assert far not in wanted
    estimate = matrix[far[0]][far[1]]
    assert estimate == math.ceil(travel.seconds_per_km * math.hypot(1, 9))
    assert estimate >= roads.seconds(PLACES[far[0]], PLACES[far[1]]) - 3600  # bridge aside
    assert travel.estimated_legs() == len(PLACES) * (len(PLACES) - 1) - len(wanted)


def test_a_second_build_over_the_same_places_reads_the_cache_instead_of_the_provider():
    cache = MemoryLegCache()
    first = sparse(Roads(), cache).matrix(PLACES)
    roads = Roads()
    again = sparse(roads, cache)

    assert again.matrix(PLACES) == first
    assert roads.asked == [] and again.bill.routes == 0
    assert again.bill.cached == len(cache.legs) > 0


def test_the_cache_in_dynamodb_keeps_legs_per_tenant(moto_endpoint):
    tenant, other = new_id(), new_id()
    sparse(Roads(), StoredLegCache(tenant)).matrix(PLACES)

    roads = Roads()
    again = sparse(roads, StoredLegCache(tenant))
    again.matrix(PLACES)
    elsewhere = sparse(Roads(), StoredLegCache(other))
    elsewhere.matrix(PLACES)

    assert roads.asked == [] and again.bill.cached > 0
    assert elsewhere.bill.cached == 0 and elsewhere.bill.routes > 0


def test_the_legs_a_plan_drives_are_asked_for_and_the_plan_holds_on_road_times():
    # One technician on the west bank; west-bank visits from 10:00, and across the river a
    # visit due by 08:30 that only an estimated crossing (no hour for the bridge) can reach.
    home, east = Location(0.0, 0.0), Location(0.0, 8.0)
    west = [place for place in PLACES if place.lng < 5 and place != home]
    # (Two colleagues live across the river, off today: their homes make the east visit's
    # nearest places east-bank ones, so no crossing is among the legs asked for up front.)
    off = tuple(Technician(f"off{n}", Location(1.0, 8.0 + n), 8 * HOUR, 8 * HOUR) for n in (0, 1))
    problem = RoutingProblem(
        (Technician("tech", home, 8 * HOUR, 18 * HOUR), *off),
        (Visit("east", east, 8 * HOUR, 8 * HOUR + 30 * 60, 30 * 60),)
        + tuple(Visit(f"w{n}", p, 10 * HOUR, 17 * HOUR, 600) for n, p in enumerate(west)),
    )
    roads = Roads()
    travel = sparse(roads, neighbours=2)

    result = solve_refined(problem, travel, lambda table: solve(problem, table, max_iterations=300))

    # The first plan crossed on an estimate; asking for its legs showed the bridge, and the
    # plan solved again on them leaves the east visit out rather than arrive an hour late.
    assert result.refined_legs > 0 and result.resolved
    assert [u.visit_id for u in result.proposal.unassigned] == ["east"]
    assert len(result.proposal.routes[0].stops) == len(west)
    driven = driven_legs(problem, result.proposal)
    assert all(result.table.seconds(a, b) == roads.seconds(a, b) for a, b in driven)


def test_with_no_neighbours_only_a_sample_is_asked_to_fit_the_estimates():
    places = [Location(float(n // 20), float(n % 20)) for n in range(400)]
    roads = Roads()
    travel = SparseTravel(roads, neighbours=0, straight_line_km=planar_km)

    matrix = travel.matrix(places)

    # At most FIT_SAMPLE legs, one per sampled place, and the estimate is fitted on them
    assert 0 < travel.bill.routes == len(roads.asked) <= 100
    assert len({a for a, _ in roads.asked}) == len(roads.asked)
    assert travel.seconds_per_km >= 120
    assert travel.estimated_legs() == 400 * 399 - travel.bill.routes
    assert matrix[0][399] == math.ceil(travel.seconds_per_km * math.hypot(19, 19))


@pytest.mark.parametrize("size", [20, 100, 400, 600])
def test_by_default_the_legs_asked_up_front_stay_within_the_budget(size):
    places = [Location(float(n // 20), float(n % 20)) for n in range(size)]
    travel = SparseTravel(Roads(), straight_line_km=planar_km)

    travel.matrix(places)

    # Small days get every place's nearest legs (k up to 10), large ones only the fitting sample
    assert 0 < travel.bill.routes <= NEAREST_LEGS_BUDGET
    if size == 20:
        assert travel.bill.calls == size and travel.bill.routes >= 10 * size
    if size == 600:
        assert travel.bill.routes <= FIT_SAMPLE
