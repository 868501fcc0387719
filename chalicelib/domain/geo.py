"""Distances and arrival estimates from coordinates alone (no routing service on this path).

A straight line underestimates a drive, so it is stretched by a detour factor and driven at an
average urban speed. Good enough for "arriving in about 25 minutes"; the dispatch optimizer has
its own travel model.
"""

from __future__ import annotations

import math

from chalicelib.domain.users import Point

EARTH_RADIUS_KM = 6371.0088
DETOUR_FACTOR = 1.3
AVERAGE_SPEED_KMH = 40.0
ETA_STEP_MINUTES = 5


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance between two points, in kilometres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlng = math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def eta_minutes(
    origin: Point,
    destination: Point,
    detour_factor: float = DETOUR_FACTOR,
    speed_kmh: float = AVERAGE_SPEED_KMH,
) -> int:
    """Minutes to drive from origin to destination, rounded up to the next 5 (at least 5).

    Rounding up: a customer told "about 25 minutes" forgives 20 more easily than 30.
    """
    minutes = haversine_km(origin, destination) * detour_factor / speed_kmh * 60
    steps = max(1, math.ceil(round(minutes, 6) / ETA_STEP_MINUTES))
    return steps * ETA_STEP_MINUTES
