"""Road travel times from Amazon Location's route calculator, as a `TravelTimeProvider`.

`CalculateRouteMatrix` answers departures x destinations in one call; how many positions one
call may carry depends on the calculator's data provider: Esri takes at most 10 departures and
10 destinations, HERE and Grab up to 350 each (the API's own limit). The provider is read once
per process (`DescribeRouteCalculator`'s `DataSource`) and the matrix is asked for in blocks of
that size each way, a few blocks at a time: billing is per route, not per call, so the blocks
cost the same as one call would, and with HERE a day of up to 350 places is one call.

A pair the calculator cannot route (an island, a position far from any road) falls back to the
straight-line estimate rather than failing the whole plan; a failing call is a 503.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.routing import Location, StraightLineTravel, TravelTimeProvider
from chalicelib.logs import logger

ESRI_MAX_POSITIONS = 10
MAX_POSITIONS = 350  # CalculateRouteMatrix's DeparturePositions / DestinationPositions maximum
# Positions per call each way, by the calculator's DataSource; an unknown one gets Esri's.
BLOCK_SIZES = {"Esri": ESRI_MAX_POSITIONS, "Here": MAX_POSITIONS, "Grab": MAX_POSITIONS}
# Calls in flight at once: a boto3 client, once made, is thread-safe; botocore pools 10
# connections.
CONCURRENT_CALLS = 4

_block_sizes: dict[str, int] = {}  # calculator name → block size, read once per process


@dataclass
class AmazonLocationTravel:
    calculator_name: str
    client: Any = None  # a boto3 "location" client; the shared one when None
    block_size: int | None = None  # None: the calculator's data provider says
    travel_mode: str = "Car"
    fallback: TravelTimeProvider = field(default_factory=StraightLineTravel)
    concurrency: int = CONCURRENT_CALLS

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        size = len(locations)
        seconds = [[0] * size for _ in range(size)]
        if size == 0:
            return seconds
        positions = [[location.lng, location.lat] for location in locations]
        self._client()  # made here: creating clients (boto3's session) is not thread-safe
        step = self._block_size()
        blocks = [range(i, min(i + step, size)) for i in range(0, size, step)]
        pairs = [(rows, columns) for rows in blocks for columns in blocks]

        def ask(pair: tuple[range, range]) -> dict:
            rows, columns = pair
            return self._call([positions[i] for i in rows], [positions[j] for j in columns])

        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(pairs))) as pool:
            answers = list(pool.map(ask, pairs))  # in order; the first failure is raised
        unroutable: list[tuple[int, int]] = []
        for (rows, columns), answer in zip(pairs, answers, strict=True):
            for r, i in enumerate(rows):
                for c, j in enumerate(columns):
                    entry = answer["RouteMatrix"][r][c]
                    if i == j:
                        continue
                    if entry.get("Error") or entry.get("DurationSeconds") is None:
                        unroutable.append((i, j))
                    else:
                        seconds[i][j] = math.ceil(entry["DurationSeconds"])
        if unroutable:
            logger.warning("route matrix pairs without a route", extra={"pairs": len(unroutable)})
            estimate = self.fallback.matrix(locations)
            for i, j in unroutable:
                seconds[i][j] = estimate[i][j]
        return seconds

    def routes(
        self, departures: Sequence[Location], destinations: Sequence[Location]
    ) -> list[list[int | None]]:
        """Seconds from each departure to each destination, None where there is no route
        (services.travel_matrix's `LegSource`): billed departures x destinations."""
        step = self._block_size()
        rows: list[list[int | None]] = [[] for _ in departures]
        for first in range(0, len(departures), step):
            chunk = departures[first : first + step]
            for start in range(0, len(destinations), step):
                targets = destinations[start : start + step]
                answer = self._call(_positions(chunk), _positions(targets))
                for r, row in enumerate(answer["RouteMatrix"]):
                    rows[first + r] += [_seconds(entry) for entry in row]
        return rows

    def _block_size(self) -> int:
        if self.block_size is None:
            if self.calculator_name not in _block_sizes:
                source = self._describe()["DataSource"]
                _block_sizes[self.calculator_name] = BLOCK_SIZES.get(source, ESRI_MAX_POSITIONS)
            self.block_size = _block_sizes[self.calculator_name]
        return self.block_size

    def _describe(self) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client().describe_route_calculator(CalculatorName=self.calculator_name)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def _call(self, departures: list[list[float]], destinations: list[list[float]]) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._client().calculate_route_matrix(
                CalculatorName=self.calculator_name,
                DeparturePositions=departures,
                DestinationPositions=destinations,
                TravelMode=self.travel_mode,
                DistanceUnit="Kilometers",
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc

    def _client(self) -> Any:
        if self.client is None:
            from chalicelib.integrations.aws import client

            self.client = client("location")
        return self.client


def _positions(locations: Sequence[Location]) -> list[list[float]]:
    return [[location.lng, location.lat] for location in locations]


def _seconds(entry: dict) -> int | None:
    if entry.get("Error") or entry.get("DurationSeconds") is None:
        return None
    return math.ceil(entry["DurationSeconds"])


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(
        f"travel times are unavailable ({type(exc).__name__}); retry shortly",
        code="travel_times_unavailable",
    )
