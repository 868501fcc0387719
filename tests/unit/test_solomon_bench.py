"""The Solomon benchmark's parser and its independent referee."""

from __future__ import annotations

import pytest

from bench import check
from bench.routing import EuclideanTravel, fieldline_problem
from bench.solomon import load, parse

TINY = """NAME : TINY
TYPE : CVRPTW
DIMENSION : 4
VEHICLES : 2
CAPACITY : 10
SERVICE_TIME : 1
SCALE : 10
EDGE_WEIGHT_TYPE : FLOOR_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 0 5
4 6 8
DEMAND_SECTION
1 0
2 4
3 5
4 6
TIME_WINDOW_SECTION
1 0 100
2 0 20
3 0 100
4 0 12
DEPOT_SECTION
1
-1
EOF
"""


def test_c101_is_parsed_in_tenths():
    instance = load("C101")

    assert (instance.name, instance.vehicles, instance.capacity) == ("C101", 10, 200)
    assert len(instance.nodes) == 101 and instance.depot.id == 1
    assert {node.service for node in instance.customers} == {900}
    assert instance.depot.service == 0
    assert (instance.depot.x, instance.depot.y, instance.depot.due) == (400, 500, 12360)
    second = instance.nodes[1]
    assert (second.id, second.x, second.y, second.demand) == (2, 450, 680, 10)
    assert (second.ready, second.due) == (9120, 9670)


def test_c101_one_route_per_customer_breaks_only_the_fleet_size():
    instance = load("C101")

    found = check.violations(instance, [[node.id] for node in instance.customers])

    assert found == ["100 vehicles used, 10 available"]


def test_edges_are_floored_euclidean_distances_in_tenths():
    instance = parse(TINY)

    # (0,0) -> (3,4) is exactly 5.0, i.e. 50; (3,4) -> (0,5) is 3.162..., i.e. 31.
    assert instance.distance_matrix()[0][1] == 50
    assert instance.distance_matrix()[1][2] == 31


def test_checker_accepts_a_feasible_plan():
    instance = parse(TINY)
    routes = [[4], [2, 3]]  # 9 of capacity 10 on the second route; windows all met

    assert check.violations(instance, routes) == []
    assert check.total_distance(instance, routes) == (100 + 100) + (50 + 31 + 50)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ([[2, 3, 4]], "route 1: load 15 over capacity 10"),
        ([[2], [3, 4]], "route 2: customer 4 starts at 127 after 120"),
        ([[4], [2]], "customer 3 never served"),
        ([[4], [2, 3], [3]], "customer 3 served 2 times"),
        ([[4], [2], [3]], "3 vehicles used, 2 available"),
    ],
)
def test_checker_rejects_each_broken_rule(routes, expected):
    assert expected in check.violations(parse(TINY), routes)


def test_checker_rejects_a_late_return_to_the_depot():
    instance = parse(TINY.replace("\n1 0 100\n", "\n1 0 16\n"))

    assert check.violations(instance, [[4], [2, 3]]) == [
        "route 1: back at the depot at 210 after 160"
    ]


def test_bench_problem_is_fieldline_domain_objects_with_solomon_travel():
    instance = parse(TINY)

    problem = fieldline_problem(instance)
    matrix = EuclideanTravel().matrix(problem.all_locations())

    assert len(problem.technicians) == 2 and problem.capacity == 10
    assert all(visit.priority for visit in problem.visits)
    assert [visit.id for visit in problem.visits] == ["2", "3", "4"]
    assert matrix == instance.distance_matrix()


def test_every_solomon_instance_ships_with_its_best_known_solution():
    from bench.solomon import all_instance_paths, best_known

    paths = all_instance_paths()
    # Solomon's six sets: C1 9, C2 8, R1 12, R2 11, RC1 8, RC2 8 instances.
    sets = {"C1": 9, "C2": 8, "R1": 12, "R2": 11, "RC1": 8, "RC2": 8}
    names = [path.stem for path in paths]
    assert names == sorted(f"{s}{i:02d}" for s, n in sets.items() for i in range(1, n + 1))
    for path in paths:
        instance = load(path)
        assert len(instance.customers) == 100
        # The fleet is the best-known solution's, as `python -m bench.routing` compares them.
        assert instance.vehicles == best_known(path, path.stem).vehicles
