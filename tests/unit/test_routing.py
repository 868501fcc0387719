"""Dispatch optimisation: the domain's rules and the PyVRP adapter that plans within them."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from chalicelib.domain.routing import (
    NO_TIME_REASON,
    UNREACHABLE_REASON,
    Location,
    Proposal,
    RoutingProblem,
    RoutingProblemError,
    Stop,
    StraightLineTravel,
    Technician,
    TechnicianRoute,
    Unassigned,
    Visit,
    find_violations,
)
from chalicelib.integrations.routing_pyvrp import solve

HOUR = 3600
# Small iteration budgets keep each solve well under a second and make results exact repeats.
FAST = {"max_iterations": 300, "time_limit_seconds": 30}


class GridTravel:
    """A city of blocks: one minute per block, along streets (manhattan distance)."""

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        return [[60 * _blocks(a, b) for b in locations] for a in locations]


def _blocks(a: Location, b: Location) -> int:
    return round(abs(a.lat - b.lat) + abs(a.lng - b.lng))


def at(x: int, y: int = 0) -> Location:
    return Location(lat=x, lng=y)


def tech(tech_id: str, *, home=at(0), start=0, end=8 * HOUR, skills=(), pinned=()) -> Technician:
    return Technician(tech_id, home, start, end, frozenset(skills), tuple(pinned))


def visit(visit_id: str, where: Location, *, window=(0, 8 * HOUR), minutes=30, **extra) -> Visit:
    return Visit(visit_id, where, window[0], window[1], minutes * 60, **extra)


def plan(technicians, visits, **kwargs) -> tuple[RoutingProblem, Proposal]:
    problem = RoutingProblem(tuple(technicians), tuple(visits))
    proposal = solve(problem, GridTravel(), **{**FAST, **kwargs})
    assert find_violations(problem, proposal, GridTravel()) == []
    return problem, proposal


def reasons(proposal: Proposal) -> dict[str, str]:
    return dict(proposal.unassigned)


def test_gas_visit_goes_only_to_a_gas_certified_technician():
    # Given a gas job next door to an uncertified technician and far from the certified one
    technicians = [tech("near", home=at(1)), tech("certified", home=at(30), skills={"gas"})]
    visits = [visit("boiler", at(2), required_skills={"gas"}, priority=True)]

    # When the day is planned
    _, proposal = plan(technicians, visits)

    # Then the certified technician makes the trip
    assert proposal.route_of("certified").visit_ids == ["boiler"]
    assert proposal.route_of("near").visit_ids == []


def test_visit_needing_a_skill_nobody_has_is_unassigned_with_the_skill_named():
    technicians = [tech("ann", skills={"gas"})]
    visits = [visit("rewire", at(3), required_skills={"electrical", "gas"}, priority=True)]

    _, proposal = plan(technicians, visits)

    assert proposal.unassigned == [Unassigned("rewire", "no technician has skills electrical, gas")]


def test_technician_waits_for_a_window_to_open_and_never_starts_after_it_closes():
    technicians = [tech("ann")]
    visits = [
        visit("late-morning", at(5), window=(3 * HOUR, 3 * HOUR + 900)),
        visit("early", at(10), window=(HOUR, HOUR + 600)),
    ]

    problem, proposal = plan(technicians, visits)

    stops = {stop.visit_id: stop for stop in proposal.route_of("ann").stops}
    for item in problem.visits:
        assert item.window_start <= stops[item.id].start_service <= item.window_end
    assert stops["early"].arrival < HOUR == stops["early"].start_service  # waited at the door


def test_visit_beyond_the_shift_is_unassigned_as_unreachable():
    # A 40-minute drive each way plus 30 minutes on site cannot fit in a one-hour shift.
    technicians = [tech("ann", end=HOUR)]
    visits = [visit("far", at(40), priority=True)]

    _, proposal = plan(technicians, visits)

    assert proposal.route_of("ann").stops == []
    assert reasons(proposal) == {"far": UNREACHABLE_REASON}


def test_optional_visit_is_dropped_before_a_priority_one_when_the_day_is_full():
    # Each visit fits alone in the two-hour shift, both together do not; the optional one
    # is even closer to home, so only its lack of priority decides.
    technicians = [tech("ann", end=2 * HOUR)]
    visits = [
        visit("routine", at(10), minutes=60),
        visit("urgent", at(-15), minutes=60, priority=True),
    ]

    _, proposal = plan(technicians, visits)

    assert proposal.route_of("ann").visit_ids == ["urgent"]
    assert proposal.unassigned == [Unassigned("routine", NO_TIME_REASON)]


def test_priority_visits_that_cannot_all_fit_are_served_as_far_as_possible():
    # Two priority visits in the same half hour at opposite ends of town: one must give way.
    technicians = [tech("ann")]
    window = (HOUR, HOUR + 1800)
    visits = [
        visit("east", at(20), window=window, priority=True),
        visit("west", at(-20), window=window, priority=True),
        visit("extra", at(1), window=(5 * HOUR, 6 * HOUR)),
    ]

    _, proposal = plan(technicians, visits)

    served = proposal.route_of("ann").visit_ids
    assert len({"east", "west"} & set(served)) == 1 and "extra" in served
    assert [item.reason for item in proposal.unassigned] == [NO_TIME_REASON]


def test_pinned_visits_stay_first_on_their_technician_in_the_given_order():
    # Ann is already heading to "second-pin" before "first-pin", although the reverse is
    # shorter, and Bob lives next to both: the pins still stay Ann's, in her order.
    technicians = [
        tech("ann", home=at(0), pinned=["second-pin", "first-pin"]),
        tech("bob", home=at(11)),
    ]
    visits = [
        visit("first-pin", at(5)),
        visit("second-pin", at(10)),
        visit("next-door-to-ann", at(1), priority=True),
        visit("next-door-to-bob", at(12), priority=True),
    ]

    _, proposal = plan(technicians, visits)

    assert proposal.route_of("ann").visit_ids[:2] == ["second-pin", "first-pin"]
    assert "second-pin" not in proposal.route_of("bob").visit_ids
    assert proposal.unassigned == []


def test_same_seed_gives_the_same_proposal():
    technicians = [tech("ann", home=at(0, 0)), tech("bob", home=at(10, 10), skills={"gas"})]
    visits = [
        visit(f"v{n}", at(n * 7 % 13, n * 5 % 11), required_skills={"gas"} if n % 4 == 0 else ())
        for n in range(1, 16)
    ]

    _, first = plan(technicians, visits, seed=7)
    _, second = plan(technicians, visits, seed=7)

    assert first == second


def _brute_force_best_travel(problem: RoutingProblem, travel: GridTravel) -> int:
    """Shortest feasible tour over every order of the visits, from first principles."""
    only = problem.technicians[0]
    places = [only.home] + [item.location for item in problem.visits]
    matrix = travel.matrix(places)
    best = None
    for order in itertools.permutations(range(1, len(places))):
        here, clock, total = 0, only.shift_start, 0
        for stop in order:
            item = problem.visits[stop - 1]
            total += matrix[here][stop]
            clock = max(clock + matrix[here][stop], item.window_start)
            if clock > item.window_end:
                break
            clock, here = clock + item.duration, stop
        else:
            total += matrix[here][0]
            if clock + matrix[here][0] <= only.shift_end and (best is None or total < best):
                best = total
    assert best is not None
    return best


def test_seven_visit_day_is_planned_optimally():
    # Windows make the nearest-neighbour tour wrong: the optimum is not obvious.
    technicians = [tech("ann", home=at(0, 0), end=10 * HOUR)]
    visits = [
        visit("a", at(2, 9), priority=True),
        visit("b", at(8, 1), window=(0, 2 * HOUR), priority=True),
        visit("c", at(5, 5), priority=True),
        visit("d", at(9, 8), window=(4 * HOUR, 6 * HOUR), priority=True),
        visit("e", at(1, 4), priority=True),
        visit("f", at(6, 2), priority=True),
        visit("g", at(3, 7), window=(HOUR, 3 * HOUR), priority=True),
    ]

    problem, proposal = plan(technicians, visits, max_iterations=2000)

    assert proposal.unassigned == []
    assert proposal.total_travel_seconds == _brute_force_best_travel(problem, GridTravel())


def test_checker_accepts_an_honest_plan_and_rejects_a_dishonest_one():
    problem = RoutingProblem(
        (tech("ann"), tech("bob", skills={"gas"})),
        (visit("boiler", at(2), required_skills={"gas"}), visit("tap", at(3))),
    )
    honest = Proposal(
        [
            TechnicianRoute("ann", [], 0, 0),
            TechnicianRoute("bob", [Stop("boiler", 120, 120, 1920)], 240, 2040),
        ],
        [Unassigned("tap", NO_TIME_REASON)],
    )
    dishonest = Proposal(
        [
            TechnicianRoute(
                "ann", [Stop("boiler", 120, 120, 1920), Stop("tap", 1980, 1980, 3780)], 360, 3960
            ),
            TechnicianRoute("bob", [Stop("tap", 100, 180, 1980)], 360, 2160),
        ]
    )

    assert find_violations(problem, honest, GridTravel()) == []
    found = find_violations(problem, dishonest, GridTravel())
    assert "visit tap appears 2 times" in found
    assert "technician ann lacks skills for visit boiler" in found
    assert "technician bob: times or travel disagree with the travel matrix" in found


def test_malformed_problem_is_refused():
    problem = RoutingProblem((tech("ann", pinned=["ghost"]),), (visit("tap", at(1)),))

    with pytest.raises(RoutingProblemError, match="unknown pinned visit ghost"):
        solve(problem, GridTravel(), **FAST)


def test_straight_line_travel_is_a_symmetric_whole_number_of_seconds():
    one_degree_north = [Location(45.0, -73.0), Location(46.0, -73.0)]

    matrix = StraightLineTravel().matrix(one_degree_north)

    # 111.2 km x 1.3 detour at 40 km/h is about 3 h 37 min.
    assert matrix[0][0] == matrix[1][1] == 0
    assert matrix[0][1] == matrix[1][0]
    assert 13_000 <= matrix[0][1] <= 13_020


def test_importing_the_adapter_does_not_load_the_solver():
    # A cold start of a Lambda that never optimises must not pay for pyvrp and numpy.
    code = (
        "import sys, chalicelib.integrations.routing_pyvrp;"
        "print(sorted({'pyvrp', 'numpy'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_a_replan_moves_a_visit_to_another_technician_only_when_that_is_worth_the_penalty():
    # Given Ann's two visits, both nearer Bo's home than hers
    technicians = [tech("ann", home=at(0)), tech("bo", home=at(10))]
    visits = [
        visit("v1", at(9), current_technician_id="ann"),
        visit("v2", at(8), current_technician_id="ann"),
        visit("new", at(11)),  # nobody's yet: no penalty whoever takes it
    ]

    def routes(penalty: int) -> dict[str, list[str]]:
        problem = RoutingProblem(tuple(technicians), tuple(visits), move_penalty=penalty)
        proposal = solve(problem, GridTravel(), **FAST)
        assert find_violations(problem, proposal, GridTravel()) == []
        return {r.technician_id: sorted(r.visit_ids) for r in proposal.routes}

    # Without a penalty Bo takes everything (16 minutes less driving); with a penalty of half
    # an hour per moved visit Ann keeps hers, and the new visit goes where it is cheapest
    assert routes(0) == {"ann": [], "bo": ["new", "v1", "v2"]}
    assert routes(1800) == {"ann": ["v1", "v2"], "bo": ["new"]}
