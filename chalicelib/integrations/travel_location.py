"""Road travel times from Amazon Location's route calculator, as a `TravelTimeProvider`.

`CalculateRouteMatrix` answers departures x destinations in one call, but how many positions
one call may carry depends on the calculator's data provider (Esri: 10 x 10; HERE and Grab:
up to 350 x 350). Billing is per route, not per call, so the matrix is asked for in blocks of
`block_size` positions each way, which every provider accepts by default.

A pair the calculator cannot route (an island, a position far from any road) falls back to the
straight-line estimate rather than failing the whole plan; a failing call is a 503.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.routing import Location, StraightLineTravel, TravelTimeProvider
from chalicelib.logs import logger

ESRI_MAX_POSITIONS = 10


@dataclass
class AmazonLocationTravel:
    calculator_name: str
    client: Any = None  # a boto3 "location" client; the shared one when None
    block_size: int = ESRI_MAX_POSITIONS
    travel_mode: str = "Car"
    fallback: TravelTimeProvider = field(default_factory=StraightLineTravel)

    def matrix(self, locations: Sequence[Location]) -> list[list[int]]:
        size = len(locations)
        seconds = [[0] * size for _ in range(size)]
        positions = [[location.lng, location.lat] for location in locations]
        blocks = [range(i, min(i + self.block_size, size)) for i in range(0, size, self.block_size)]
        unroutable: list[tuple[int, int]] = []
        for rows in blocks:
            for columns in blocks:
                answer = self._call([positions[i] for i in rows], [positions[j] for j in columns])
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
            raise Unavailable(
                f"travel times are unavailable ({type(exc).__name__}); retry shortly",
                code="travel_times_unavailable",
            ) from exc

    def _client(self) -> Any:
        if self.client is None:
            from chalicelib.integrations.aws import client

            self.client = client("location")
        return self.client
