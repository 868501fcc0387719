"""Travel times a business can afford: a sparse road-time matrix, refined where the plan drives.

A full matrix of a 1,000-place day is a million routes, and Amazon Location bills
`CalculateRouteMatrix` per route (departures x destinations of each call). So:

1. the provider is asked only for each place's `neighbours` nearest places by straight line
   (both directions; by default as many as NEAREST_LEGS_BUDGET affords), one call per
   departure, so the bill is exactly the legs wanted;
2. every other leg is estimated: straight-line km x the seconds per km of the legs the provider
   did answer (their 90th percentile: estimates err long, so plans stay feasible once refined),
   which folds the road detour and the speed into one factor;
3. after the solve, the legs the plan actually drives that were estimated are asked for, the
   plan is re-timed on them, and re-solved once if it no longer holds (`solve_refined`);
4. every answered leg is cached by its pair of places (coordinates rounded to ~11 m) with a
   ttl, so the next plan over the same customers asks for little or nothing.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from chalicelib.domain import clock
from chalicelib.domain.routing import (
    Location,
    Proposal,
    RoutingProblem,
    TravelTable,
    find_violations,
    schedule_route,
)

# Amazon Location's CalculateRouteMatrix price, Core bucket (Car, Truck, Pedestrian): $0.50 per
# 1,000 routes, a route being one departure-destination pair (docs/ARCHITECTURE.md).
ROUTE_PRICE_USD = 0.50 / 1000
DEFAULT_NEIGHBOURS = 10
# Routes asked for up front (before the legs a plan drives, about one per visit): $0.50. Each
# place's k nearest both ways are about 2k routes a place.
NEAREST_LEGS_BUDGET = 1_000
LEG_TTL = timedelta(days=30)  # road times change slowly; traffic is not modelled
PLACE_DECIMALS = 4  # 1e-4 degree is about 11 m: the same door, whatever the geocoder's noise
# Before any road time is known: 1.3 x the straight line at 40 km/h (StraightLineTravel's).
DEFAULT_SECONDS_PER_KM = 1.3 / 40 * 3600
CONCURRENT_CALLS = 8
ESTIMATE_PERCENTILE = 90  # of the known legs' seconds per straight-line km
FIT_SAMPLE = 100  # legs asked for only to fit the estimate, when no neighbours are asked

Pair = tuple[str, str]


@runtime_checkable
class LegSource(Protocol):
    def routes(
        self, departures: Sequence[Location], destinations: Sequence[Location]
    ) -> list[list[int | None]]:
        """Road seconds from each departure to each destination; None where there is no
        route. Billed per departure-destination pair."""
        ...


class LegCache(Protocol):
    def get(self, pairs: list[Pair]) -> dict[Pair, int]: ...

    def put(self, seconds: dict[Pair, int]) -> None: ...


@dataclass
class MemoryLegCache:
    legs: dict[Pair, int] = field(default_factory=dict)

    def get(self, pairs: list[Pair]) -> dict[Pair, int]:
        return {pair: self.legs[pair] for pair in pairs if pair in self.legs}

    def put(self, seconds: dict[Pair, int]) -> None:
        self.legs.update(seconds)


@dataclass
class StoredLegCache:
    """The tenant's legs in DynamoDB (store.travel_legs), kept for LEG_TTL."""

    tenant_id: str

    def get(self, pairs: list[Pair]) -> dict[Pair, int]:
        from chalicelib.store import travel_legs

        return travel_legs.get_legs(self.tenant_id, pairs)

    def put(self, seconds: dict[Pair, int]) -> None:
        from chalicelib.store import travel_legs

        if seconds:
            travel_legs.put_legs(self.tenant_id, seconds, clock.now() + LEG_TTL)


@dataclass
class ProviderBill:
    calls: int = 0
    routes: int = 0  # billed departure-destination pairs
    cached: int = 0  # legs read from the cache instead

    @property
    def usd(self) -> float:
        return self.routes * ROUTE_PRICE_USD


def place_key(location: Location) -> str:
    return f"{location.lat:.{PLACE_DECIMALS}f},{location.lng:.{PLACE_DECIMALS}f}"


def haversine_km_matrix(locations: Sequence[Location]) -> Any:
    """Great-circle km between every two places (numpy: a million pairs in milliseconds)."""
    import numpy as np

    lat = np.radians([loc.lat for loc in locations])
    lng = np.radians([loc.lng for loc in locations])
    dlat, dlng = lat[None, :] - lat[:, None], lng[None, :] - lng[:, None]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlng / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(1.0, h)))


@dataclass
class _Built:
    locations: list[Location]
    km: Any  # straight-line km, n x n
    matrix: Any  # seconds, n x n int64
    measured: Any  # n x n bool: the provider's (or the cache's) time, not an estimate


@dataclass
class SparseTravel:
    """A `TravelTimeProvider` that asks the provider for few legs and estimates the rest."""

    source: LegSource
    cache: LegCache = field(default_factory=MemoryLegCache)
    # Nearest places asked for each place; None: as many as NEAREST_LEGS_BUDGET affords (10 for
    # a day of 50 places, 5 for 100, 1 up to 500, then only the fitting sample).
    neighbours: int | None = None
    straight_line_km: Callable[[Sequence[Location]], Any] = haversine_km_matrix
    round_to_seconds: int = 1  # 60: whole minutes, as the dispatch plans in
    bill: ProviderBill = field(default_factory=ProviderBill)
    seconds_per_km: float = DEFAULT_SECONDS_PER_KM  # fitted on each build
    _built: _Built | None = None

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        import numpy as np

        locations = list(locations)
        km = np.asarray(self.straight_line_km(locations), dtype=float)
        size = len(locations)
        measured = np.zeros((size, size), dtype=bool)
        matrix = np.zeros((size, size), dtype=np.int64)
        known = self._road_times(locations, self._nearest_pairs(km))
        self.seconds_per_km = _fitted_seconds_per_km(known, km)
        matrix[:] = self._rounded(np.ceil(km * self.seconds_per_km))
        for (i, j), seconds in known.items():
            matrix[i, j], measured[i, j] = self._rounded(seconds), True
        np.fill_diagonal(matrix, 0)
        self._built = _Built(locations, km, matrix, measured)
        return matrix.tolist()

    def estimated_legs(self) -> int:
        """Legs of the last matrix that are estimates (the diagonal is not a leg)."""
        built = self._require_built()
        return int(built.measured.size - built.measured.sum() - len(built.locations))

    def refine(self, legs: Iterable[tuple[Location, Location]]) -> TravelTable | None:
        """Ask for the given legs that are still estimates; the updated table, or None when
        every one of them was already a road time."""
        built = self._require_built()
        index = {loc: i for i, loc in enumerate(built.locations)}
        wanted = {
            (index[a], index[b])
            for a, b in legs
            if a != b and not built.measured[index[a], index[b]]
        }
        if not wanted:
            return None
        for (i, j), seconds in self._road_times(built.locations, wanted).items():
            built.matrix[i, j], built.measured[i, j] = self._rounded(seconds), True
        return TravelTable(built.locations, built.matrix.tolist())

    def _nearest_pairs(self, km: Any) -> set[tuple[int, int]]:
        """Each place's nearest places by straight line, both ways. With no neighbours, only
        a sample of places' nearest leg (FIT_SAMPLE of them): enough to fit the estimate,
        leaving the bill to the legs the plan drives."""
        import numpy as np

        size = len(km)
        if size < 2:
            return set()
        wanted = self.neighbours
        if wanted is None:
            wanted = min(DEFAULT_NEIGHBOURS, NEAREST_LEGS_BUDGET // (2 * size))
        k = min(max(wanted, 1), size - 1)
        distances = km + np.diag(np.full(size, np.inf))
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        places = range(size) if wanted > 0 else range(0, size, -(-size // FIT_SAMPLE))
        if wanted <= 0:
            return {(i, int(nearest[i, 0])) for i in places}
        pairs = set()
        for i in places:
            for j in nearest[i].tolist():
                pairs.add((i, j))
                pairs.add((j, i))
        return pairs

    def _road_times(
        self, locations: list[Location], pairs: set[tuple[int, int]]
    ) -> dict[tuple[int, int], int]:
        """Road seconds of the pairs: from the cache, else from the provider (then cached)."""
        keys = [place_key(loc) for loc in locations]
        by_pair = {(keys[i], keys[j]): (i, j) for i, j in pairs if keys[i] != keys[j]}
        cached = self.cache.get(list(by_pair))
        self.bill.cached += len(cached)
        found = {by_pair[pair]: seconds for pair, seconds in cached.items()}
        missing: dict[int, list[int]] = {}
        for pair, (i, j) in by_pair.items():
            if pair not in cached:
                missing.setdefault(i, []).append(j)
        asked = self._ask(locations, missing)
        self.cache.put({(keys[i], keys[j]): seconds for (i, j), seconds in asked.items()})
        return found | asked

    def _ask(
        self, locations: list[Location], missing: dict[int, list[int]]
    ) -> dict[tuple[int, int], int]:
        """One call per departure, with exactly its wanted destinations: billed for no more."""
        departures = sorted(missing)

        def ask(i: int) -> list[int | None]:
            return self.source.routes([locations[i]], [locations[j] for j in missing[i]])[0]

        if not departures:
            return {}
        with ThreadPoolExecutor(max_workers=min(CONCURRENT_CALLS, len(departures))) as pool:
            answers = list(pool.map(ask, departures))
        self.bill.calls += len(departures)
        self.bill.routes += sum(len(missing[i]) for i in departures)
        return {
            (i, j): seconds
            for i, row in zip(departures, answers, strict=True)
            for j, seconds in zip(missing[i], row, strict=True)
            if seconds is not None  # unroutable: the estimate stands
        }

    def _rounded(self, seconds: Any) -> Any:
        step = self.round_to_seconds
        return -(-seconds // step) * step

    def _require_built(self) -> _Built:
        if self._built is None:
            raise RuntimeError("no matrix built yet")
        return self._built


def _fitted_seconds_per_km(known: dict[tuple[int, int], int], km: Any) -> float:
    """A high quantile of the known legs' seconds per km, not their median: an estimate that
    errs long keeps a plan feasible once its legs are known (arriving early only means
    waiting), where one that errs short makes windows fail and forces a re-solve."""
    ratios = [seconds / km[i, j] for (i, j), seconds in known.items() if km[i, j] > 0]
    if len(ratios) < 2:
        return ratios[0] if ratios else DEFAULT_SECONDS_PER_KM
    return statistics.quantiles(ratios, n=100)[ESTIMATE_PERCENTILE - 1]


# --- solving with a sparse matrix -------------------------------------------------------------


@dataclass(frozen=True)
class Refined:
    proposal: Proposal
    table: TravelTable
    refined_legs: int  # estimated legs of the first plan asked for afterwards
    resolved: bool  # the first plan broke on road times and was solved again


def solve_refined(
    problem: RoutingProblem,
    travel: SparseTravel,
    solve: Callable[[TravelTable], Proposal],
    resolve: Callable[[TravelTable], Proposal] | None = None,
) -> Refined:
    """Solve on the sparse matrix, then ask for the estimated legs the plan drives; keep the
    plan re-timed on them if it still holds, else solve once more (`resolve`, by default
    `solve`) on the refined matrix."""
    table = TravelTable.for_problem(problem, travel)
    proposal = solve(table)
    before = travel.bill.routes + travel.bill.cached
    refined = travel.refine(driven_legs(problem, proposal))
    if refined is None:
        return Refined(proposal, table, 0, resolved=False)
    asked = travel.bill.routes + travel.bill.cached - before
    retimed = retime(problem, proposal, refined)
    if not find_violations(problem, retimed, refined):
        return Refined(retimed, refined, asked, resolved=False)
    return Refined((resolve or solve)(refined), refined, asked, resolved=True)


def driven_legs(problem: RoutingProblem, proposal: Proposal) -> list[tuple[Location, Location]]:
    """Home → each stop → home, per technician with stops."""
    homes = {tech.id: tech.home for tech in problem.technicians}
    legs = []
    for route in proposal.routes:
        if not route.stops:
            continue
        home = homes[route.technician_id]
        path = [home, *(problem.visit(s.visit_id).location for s in route.stops), home]
        legs += list(zip(path, path[1:], strict=False))
    return legs


def retime(problem: RoutingProblem, proposal: Proposal, table: TravelTable) -> Proposal:
    """The same routes, scheduled on the given travel times."""
    techs = {tech.id: tech for tech in problem.technicians}
    routes = [
        schedule_route(problem, techs[route.technician_id], route.visit_ids, table)
        for route in proposal.routes
    ]
    return Proposal(routes, proposal.unassigned)
