"""Benchmark Fieldline's route optimiser on Solomon VRPTW instances against OR-Tools.

    python -m bench.routing C101 R205 --seconds 2
    python -m bench.routing all --seconds 10 [--json]      # every Solomon instance
    python -m bench.routing path/to/X.vrptw --seconds 60   # any instance with a bks.csv beside it

Names are looked up under bench/data/ (Solomon, and Gehring–Homberger such as C1_10_1).

Each instance becomes a Fieldline `RoutingProblem` (technicians at the depot for the depot's
opening hours, every customer a priority visit) and is solved through
`chalicelib.integrations.routing_pyvrp.solve`, exactly as the dispatch API would. Both
solvers' routes are judged by `bench.check`, which reads only the parsed instance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from bench import check, ortools_baseline
from bench.solomon import BestKnown, Instance, all_instance_paths, best_known, load, resolve
from chalicelib.domain.routing import Location, RoutingProblem, Technician, Visit
from chalicelib.integrations import routing_pyvrp
from chalicelib.services import travel_matrix


@dataclass(frozen=True)
class EuclideanTravel:
    """Solomon's travel time: floor of the euclidean distance, coordinates already x10."""

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        return [[_floor_euclid(a, b) for b in locations] for a in locations]


def _floor_euclid(a: Location, b: Location) -> int:
    return math.floor(math.hypot(a.lat - b.lat, a.lng - b.lng))


@dataclass(frozen=True)
class InstanceRoads:
    """A deterministic stand-in for Amazon Location: each leg asked for is the instance's own
    (true) distance; SparseTravel counts the calls and routes it would be billed for."""

    def routes(self, departures, destinations) -> list[list[int | None]]:
        return [[_floor_euclid(a, b) for b in destinations] for a in departures]


def planar_distances(locations: Sequence[Location]) -> list[list[float]]:
    """Straight-line distance on the instance's plane (its coordinates are not degrees)."""
    return [[math.hypot(a.lat - b.lat, a.lng - b.lng) for b in locations] for a in locations]


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
class Attempt:
    routes: list[list[int]] | None  # None: the solver found no solution
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time: shows whether the machine was busy
    iterations: int | None = None  # ours: PyVRP's iterations, summed over seeds
    peak_mb: float | None = None  # peak resident memory of the bench and its seed processes
    bill: dict | None = None  # ours with --travel sparse: provider calls, routes, dollars


@dataclass(frozen=True)
class Score:
    vehicles: int
    distance: int  # x10 units
    gap_percent: float | None  # None when there is no solution at all
    feasible: bool
    seconds: float
    cpu_seconds: float
    violations: list[str]
    routes: list[list[int]]
    iterations: int | None = None
    peak_mb: float | None = None
    bill: dict | None = None


def timed(solver: Callable[[], list[list[int]] | None]) -> Attempt:
    wall, cpu = time.perf_counter(), time.process_time()
    routes = solver()
    return Attempt(routes, time.perf_counter() - wall, time.process_time() - cpu)


def peak_memory_mb() -> float:
    """The largest resident set so far of this process or any seed process it waited for
    (ru_maxrss, KiB on Linux): what the function running the solve must hold."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def run_ours(instance: Instance, options: Options) -> Attempt:
    problem = fieldline_problem(instance)
    reports = []

    def solve_on(travel) -> routing_pyvrp.Proposal:
        proposal, report = routing_pyvrp.solve_with_report(
            problem,
            travel,
            seed=options.seed,
            time_limit_seconds=options.seconds,
            search=options.search,
            cpu_time_limit=options.cpu_budget,
        )
        reports.append(report)
        return proposal

    bill: dict = {}

    def solve() -> list[list[int]]:
        if options.road_neighbours is None:
            proposal = solve_on(EuclideanTravel())
        else:
            proposal = _solve_sparse(problem, options.road_neighbours, solve_on, bill)
        return [[int(vid) for vid in route.visit_ids] for route in proposal.routes]

    attempt = timed(solve)
    iterations = sum(report.iterations for report in reports)
    return replace(attempt, iterations=iterations, peak_mb=peak_memory_mb(), bill=bill or None)


def _solve_sparse(problem, neighbours: int, solve_on, bill: dict) -> routing_pyvrp.Proposal:
    """The day on a sparse matrix (travel_matrix), refined where the plan drives; `bill` gets
    what the provider was asked."""
    travel = travel_matrix.SparseTravel(
        InstanceRoads(), neighbours=neighbours, straight_line_km=planar_distances
    )
    refined = travel_matrix.solve_refined(problem, travel, solve_on)
    bill |= {
        "calls": travel.bill.calls,
        "routes": travel.bill.routes,
        "usd": round(travel.bill.usd, 2),
        "refined_legs": refined.refined_legs,
        "resolved": refined.resolved,
    }
    return refined.proposal


def run_ortools(instance: Instance, options: Options) -> Attempt:
    # Always on the wall clock: OR-Tools' routing search ignores a CustomLimit on CPU time.
    return timed(lambda: ortools_baseline.solve(instance, options.seconds, options.ortools_drops))


@dataclass(frozen=True)
class Options:
    seconds: float
    seed: int = 0
    solvers: tuple[str, ...] = ("ours", "ortools")
    ortools_drops: bool = False
    search: routing_pyvrp.SearchSettings | None = None  # None: the adapter's own choice
    cpu_budget: bool = False  # ours: the seconds are CPU seconds of each search process
    road_neighbours: int | None = None  # ours: a sparse matrix with this many near legs asked


@dataclass(frozen=True)
class Row:
    instance: str
    best_known: BestKnown
    ours: Score | None
    ortools: Score | None

    @property
    def ours_worse(self) -> bool:
        if self.ours is None or self.ortools is None or not self.ortools.feasible:
            return False
        return not self.ours.feasible or self.ours.distance > self.ortools.distance


def benchmark(name: str, options: Options) -> Row:
    path = resolve(name)
    instance = load(path)
    best = best_known(path, instance.name)
    ours = ortools = None
    if "ours" in options.solvers:
        attempt = run_ours(instance, options)
        ours = score(instance, attempt, best)
    if "ortools" in options.solvers:
        attempt = run_ortools(instance, options)
        ortools = score(instance, attempt, best)
    return Row(instance.name, best, ours, ortools)


def score(instance: Instance, attempt: Attempt, best: BestKnown) -> Score:
    times = (attempt.seconds, attempt.cpu_seconds)
    search = {"iterations": attempt.iterations, "peak_mb": attempt.peak_mb, "bill": attempt.bill}
    if attempt.routes is None:
        return Score(0, 0, None, False, *times, ["no solution found"], [], **search)
    routes = [route for route in attempt.routes if route]
    distance = check.total_distance(instance, routes)
    gap = 100 * (distance - best.distance) / best.distance
    found = check.violations(instance, routes)
    return Score(len(routes), distance, gap, not found, *times, found, routes, **search)


SCORE_HEADER = (
    f"{'veh':>4} {'dist':>6} {'gap%':>6} {'feas':>4} {'s':>5} {'cpu':>5} {'iters':>6} {'MB':>5}"
)


def header(options: Options) -> str:
    parts = [f"{'instance':<8} {'bks veh/dist':>12}"]
    parts += [f"{solver:<7} {SCORE_HEADER}" for solver in options.solvers]
    return " | ".join(parts)


def format_row(row: Row) -> str:
    bks = f"{row.best_known.vehicles}/{row.best_known.distance}"
    parts = [f"{row.instance:<8} {bks:>12}"]
    parts += [f"{'ours':<7} {_format_score(row.ours)}"] if row.ours else []
    parts += [f"{'ortools':<7} {_format_score(row.ortools)}"] if row.ortools else []
    return " | ".join(parts)


def _format_score(s: Score) -> str:
    feasible = "yes" if s.feasible else "no"
    gap = "-" if s.gap_percent is None else f"{s.gap_percent:.2f}"
    times = f"{s.seconds:>5.1f} {s.cpu_seconds:>5.1f}"
    iterations = "-" if s.iterations is None else str(s.iterations)
    memory = "-" if s.peak_mb is None else f"{s.peak_mb:.0f}"
    bill = ""
    if s.bill:
        bill = (
            f" | provider {s.bill['calls']} calls {s.bill['routes']} routes ${s.bill['usd']:.2f}"
            f" (refined {s.bill['refined_legs']}, re-solved {s.bill['resolved']})"
        )
    return (
        f"{s.vehicles:>4} {s.distance:>6} {gap:>6} {feasible:>4} {times} {iterations:>6}"
        f" {memory:>5}{bill}"
    )


def summary(rows: list[Row]) -> dict:
    result: dict = {"instances": len(rows)}
    for solver in ("ours", "ortools"):
        scores = [getattr(row, solver) for row in rows if getattr(row, solver) is not None]
        if scores:
            result[f"mean_gap_percent_{solver}"] = _mean_gap(scores)
            result[f"feasible_{solver}"] = sum(s.feasible for s in scores)
    if "feasible_ours" in result and "feasible_ortools" in result:
        result["ours_worse_than_ortools"] = [row.instance for row in rows if row.ours_worse]
    return result


def _mean_gap(scores: list[Score]) -> float | None:
    """Mean over feasible solutions only: an infeasible route set has no meaningful gap."""
    gaps = [s.gap_percent for s in scores if s.feasible and s.gap_percent is not None]
    return round(sum(gaps) / len(gaps), 3) if gaps else None


SOLVER_NAMES = {"ours": "ours", "ortools": "OR-Tools"}


def format_summary(result: dict) -> str:
    total = result["instances"]
    parts = [
        f"{label}: mean gap {result[f'mean_gap_percent_{solver}']}% over feasible solutions,"
        f" feasible {result[f'feasible_{solver}']}/{total}"
        for solver, label in SOLVER_NAMES.items()
        if f"feasible_{solver}" in result
    ]
    if "ours_worse_than_ortools" in result:
        worse = ", ".join(result["ours_worse_than_ortools"]) or "none"
        parts.append(f"ours worse than OR-Tools on: {worse}")
    return "summary: " + "; ".join(parts)


def instance_names(args: list[str]) -> list[str]:
    if args == ["all"]:
        return [path.stem for path in all_instance_paths()]
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("instances", nargs="+", help="paths, names like C101 or C1_10_1, or 'all'")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per solver")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON, with routes")
    parser.add_argument("--solvers", default="ours,ortools", help="comma-separated: ours, ortools")
    parser.add_argument("--neighbours", type=int, help="ours: granular neighbourhood size")
    parser.add_argument("--perturbations", type=int, help="ours: most clients per perturbation")
    parser.add_argument("--workers", type=int, help="ours: seeds searched at once, a process each")
    parser.add_argument(
        "--road-neighbours",
        type=int,
        help="ours: sparse travel matrix, the provider asked for this many nearest legs a place",
    )
    parser.add_argument(
        "--cpu-budget",
        action="store_true",
        help="ours: count --seconds as CPU seconds per search process (a busy shared machine)",
    )
    parser.add_argument(
        "--ortools-drops",
        action="store_true",
        help="let OR-Tools drop customers at a penalty so it always has a first solution",
    )
    return parser.parse_args(argv)


def search_settings(args: argparse.Namespace) -> routing_pyvrp.SearchSettings | None:
    """The adapter's settings with what the command line overrides; None: all the adapter's."""
    given = {
        "num_neighbours": args.neighbours,
        "max_perturbations": args.perturbations,
        "workers": args.workers,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if not given:
        return None
    large = routing_pyvrp.SearchSettings.for_visits(routing_pyvrp.LARGE_DAY_VISITS)
    return replace(large, **given)


def machine_load() -> str:
    """The machine's state: solves stop on wall-clock time, so a busy machine searches less."""
    one, five, _ = os.getloadavg()
    cores = routing_pyvrp.available_cores()
    return f"{cores} cores, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    solvers = tuple(name.strip() for name in args.solvers.split(",") if name.strip())
    options = Options(
        args.seconds,
        args.seed,
        solvers,
        args.ortools_drops,
        search_settings(args),
        args.cpu_budget,
        args.road_neighbours,
    )
    if not args.json:
        print(f"# {options.search or 'adapter defaults'}; {machine_load()}", flush=True)
        print(header(options), flush=True)
    rows = []
    for name in instance_names(args.instances):
        rows.append(benchmark(name, options))
        if not args.json:
            print(format_row(rows[-1]), flush=True)
    result = summary(rows)
    if args.json:
        json.dump({"rows": [asdict(row) for row in rows], "summary": result}, sys.stdout, indent=1)
        print()
    else:
        print(format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
