"""Benchmark Fieldline's route optimiser on Solomon VRPTW instances against OR-Tools.

    python -m bench.routing C101 R205 --seconds 2
    python -m bench.routing all --seconds 10 [--json]

Each instance becomes a Fieldline `RoutingProblem` (technicians at the depot for the depot's
opening hours, every customer a priority visit) and is solved through
`chalicelib.integrations.routing_pyvrp.solve`, exactly as the dispatch API would. Both
solvers' routes are judged by `bench.check`, which reads only the parsed instance.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench import check, ortools_baseline
from bench.solomon import BestKnown, Instance, all_instance_paths, load, load_best_known
from chalicelib.domain.routing import Location, RoutingProblem, Technician, Visit
from chalicelib.integrations import routing_pyvrp


@dataclass(frozen=True)
class EuclideanTravel:
    """Solomon's travel time: floor of the euclidean distance, coordinates already x10."""

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        return [[_floor_euclid(a, b) for b in locations] for a in locations]


def _floor_euclid(a: Location, b: Location) -> int:
    return math.floor(math.hypot(a.lat - b.lat, a.lng - b.lng))


def fieldline_problem(instance: Instance) -> RoutingProblem:
    """The instance in Fieldline's terms: x is `lat`, y is `lng`, ids are strings."""
    depot = instance.depot
    home = Location(lat=depot.x, lng=depot.y)
    technicians = [
        Technician(id=f"vehicle-{n}", home=home, shift_start=depot.ready, shift_end=depot.due)
        for n in range(1, instance.vehicles + 1)
    ]
    visits = [
        Visit(
            id=str(node.id),
            location=Location(lat=node.x, lng=node.y),
            window_start=node.ready,
            window_end=node.due,
            duration=node.service,
            priority=True,
            load=node.demand,
        )
        for node in instance.customers
    ]
    return RoutingProblem(technicians, visits, capacity=instance.capacity)


@dataclass(frozen=True)
class Score:
    vehicles: int
    distance: int  # x10 units
    gap_percent: float | None  # None when there is no solution at all
    feasible: bool
    seconds: float
    violations: list[str]
    routes: list[list[int]]


def score(
    instance: Instance, routes: list[list[int]] | None, best: BestKnown, seconds: float
) -> Score:
    if routes is None:
        return Score(0, 0, None, False, seconds, ["no solution found"], [])
    routes = [route for route in routes if route]
    distance = check.total_distance(instance, routes)
    gap = 100 * (distance - best.distance) / best.distance
    found = check.violations(instance, routes)
    return Score(len(routes), distance, gap, not found, seconds, found, routes)


def run_ours(instance: Instance, seconds: float, seed: int) -> tuple[list[list[int]], float]:
    started = time.perf_counter()
    proposal = routing_pyvrp.solve(
        fieldline_problem(instance), EuclideanTravel(), seed=seed, time_limit_seconds=seconds
    )
    elapsed = time.perf_counter() - started
    return [[int(vid) for vid in route.visit_ids] for route in proposal.routes], elapsed


def run_ortools(instance: Instance, seconds: float) -> tuple[list[list[int]] | None, float]:
    started = time.perf_counter()
    routes = ortools_baseline.solve(instance, seconds)
    return routes, time.perf_counter() - started


@dataclass(frozen=True)
class Row:
    instance: str
    best_known: BestKnown
    ours: Score
    ortools: Score | None

    @property
    def ours_worse(self) -> bool:
        if self.ortools is None or not self.ortools.feasible:
            return False
        return not self.ours.feasible or self.ours.distance > self.ortools.distance


def benchmark(name: str, seconds: float, seed: int, with_ortools: bool) -> Row:
    instance = load(name)
    best = load_best_known()[instance.name]
    routes, elapsed = run_ours(instance, seconds, seed)
    ours = score(instance, routes, best, elapsed)
    ortools = None
    if with_ortools:
        routes, elapsed = run_ortools(instance, seconds)
        ortools = score(instance, routes, best, elapsed)
    return Row(instance.name, best, ours, ortools)


HEADER = (
    f"{'instance':<8} {'bks':>12} | {'ours veh':>8} {'dist':>7} {'gap%':>6} {'feas':>4}"
    f" {'s':>5} | {'ortools veh':>11} {'dist':>7} {'gap%':>6} {'feas':>4} {'s':>5}"
)


def format_row(row: Row) -> str:
    bks = f"{row.best_known.vehicles}/{row.best_known.distance}"
    text = f"{row.instance:<8} {bks:>12} | {_format_score(row.ours, 8)}"
    if row.ortools is not None:
        text += f" | {_format_score(row.ortools, 11)}"
    return text


def _format_score(s: Score, width: int) -> str:
    feasible = "yes" if s.feasible else "no"
    gap = "-" if s.gap_percent is None else f"{s.gap_percent:.2f}"
    return f"{s.vehicles:>{width}} {s.distance:>7} {gap:>6} {feasible:>4} {s.seconds:>5.1f}"


def summary(rows: list[Row]) -> dict:
    ortools = [row.ortools for row in rows if row.ortools is not None]
    return {
        "instances": len(rows),
        "mean_gap_percent_ours": _mean_gap([row.ours for row in rows]),
        "mean_gap_percent_ortools": _mean_gap(ortools) if ortools else None,
        "feasible_ours": sum(row.ours.feasible for row in rows),
        "feasible_ortools": sum(s.feasible for s in ortools) if ortools else None,
        "ours_worse_than_ortools": [row.instance for row in rows if row.ours_worse],
    }


def _mean_gap(scores: list[Score]) -> float | None:
    """Mean over feasible solutions only: an infeasible route set has no meaningful gap."""
    gaps = [s.gap_percent for s in scores if s.feasible]
    return round(sum(gaps) / len(gaps), 3) if gaps else None


def format_summary(result: dict) -> str:
    worse = ", ".join(result["ours_worse_than_ortools"]) or "none"
    feasible_ortools = result["feasible_ortools"]
    return (
        f"summary: mean gap ours {result['mean_gap_percent_ours']}%,"
        f" mean gap OR-Tools {result['mean_gap_percent_ortools']}%"
        f" (means over feasible solutions);"
        f" feasible ours {result['feasible_ours']}/{result['instances']},"
        f" OR-Tools {feasible_ortools}/{result['instances']};"
        f" ours worse than OR-Tools on: {worse}"
    )


def instance_names(args: list[str]) -> list[str]:
    if args == ["all"]:
        return [path.stem for path in all_instance_paths()]
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__)
    parser.add_argument("instances", nargs="+", help="paths, names like C101, or 'all'")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per solver")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON with routes")
    parser.add_argument("--skip-ortools", action="store_true", help="run only our solver")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    if not args.json:
        print(HEADER, flush=True)
    for name in instance_names(args.instances):
        row = benchmark(name, args.seconds, args.seed, with_ortools=not args.skip_ortools)
        rows.append(row)
        if not args.json:
            print(format_row(row), flush=True)
    result = summary(rows)
    if args.json:
        json.dump({"rows": [asdict(row) for row in rows], "summary": result}, sys.stdout, indent=1)
        print()
    else:
        print(format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
