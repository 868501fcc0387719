"""Amazon Location's route matrix as a TravelTimeProvider, against botocore's Stubber."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.routing import Location, StraightLineTravel
from chalicelib.integrations import travel_location
from chalicelib.integrations.travel_location import AmazonLocationTravel

HOME = Location(41.88, -87.63)
DANA = Location(41.89, -87.66)
LEE = Location(41.95, -87.70)


def _client():
    return boto3.client(
        "location",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _entry(seconds: float) -> dict:
    return {"Distance": seconds / 60, "DurationSeconds": seconds}


def _expect(stubber, departures, destinations, rows) -> None:
    stubber.add_response(
        "calculate_route_matrix",
        {
            "RouteMatrix": rows,
            "Summary": {
                "DataSource": "Esri",
                "RouteCount": len(departures) * len(destinations),
                "ErrorCount": 1,  # the model says at least 1, even without errors
                "DistanceUnit": "Kilometers",
            },
        },
        {
            "CalculatorName": "fieldline-routes",
            "DeparturePositions": [[p.lng, p.lat] for p in departures],
            "DestinationPositions": [[p.lng, p.lat] for p in destinations],
            "TravelMode": "Car",
            "DistanceUnit": "Kilometers",
        },
    )


def test_road_times_fill_the_matrix_rounded_up_to_whole_seconds():
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client, block_size=10)
    with Stubber(client) as stubber:
        _expect(
            stubber,
            [HOME, DANA],
            [HOME, DANA],
            [[_entry(0), _entry(300.2)], [_entry(310), _entry(0)]],
        )
        matrix = travel.matrix([HOME, DANA])
        stubber.assert_no_pending_responses()

    assert matrix == [[0, 301], [310, 0]]


def test_a_matrix_larger_than_a_block_is_asked_for_block_by_block():
    # Esri answers at most 10 x 10 positions a call; with blocks of 2, three places take four
    # (one call at a time here: the stubber expects its calls in order).
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client, block_size=2, concurrency=1)
    first, second = [HOME, DANA], [LEE]
    with Stubber(client) as stubber:
        _expect(stubber, first, first, [[_entry(0), _entry(60)], [_entry(70), _entry(0)]])
        _expect(stubber, first, second, [[_entry(600)], [_entry(500)]])
        _expect(stubber, second, first, [[_entry(610), _entry(510)]])
        _expect(stubber, second, second, [[_entry(0)]])
        matrix = travel.matrix([HOME, DANA, LEE])
        stubber.assert_no_pending_responses()

    assert matrix == [[0, 60, 600], [70, 0, 500], [610, 510, 0]]


def test_a_pair_without_a_route_falls_back_to_the_straight_line_estimate():
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client, block_size=10)
    no_route = {"Error": {"Code": "RouteNotFound", "Message": "no road"}}
    with Stubber(client) as stubber:
        _expect(
            stubber, [HOME, LEE], [HOME, LEE], [[_entry(0), no_route], [_entry(900), _entry(0)]]
        )
        matrix = travel.matrix([HOME, LEE])

    assert matrix == [[0, StraightLineTravel().seconds(HOME, LEE)], [900, 0]]


def test_a_failing_service_is_a_503_not_a_crash():
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client, block_size=10)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "calculate_route_matrix", "ThrottlingException", http_status_code=429
        )
        with pytest.raises(Unavailable) as unavailable:
            travel.matrix([HOME, DANA])

    assert unavailable.value.status == 503


class FakeCalculator:
    """A route calculator of one data provider: a route takes 100 s per 0.01 degree moved.

    It refuses what the real one refuses (more positions than its provider takes), records
    every call, and holds the first `meet` calls until that many are in flight at once.
    """

    def __init__(self, data_source: str, meet: int = 0):
        self.data_source = data_source
        self.limit = travel_location.BLOCK_SIZES[data_source]
        self.calls: list[tuple[int, int]] = []
        self.describes = 0
        self.meet = meet
        self._lock = threading.Lock()
        self._meeting = threading.Barrier(meet, timeout=30) if meet else None

    def describe_route_calculator(self, CalculatorName):
        self.describes += 1
        return {"CalculatorName": CalculatorName, "DataSource": self.data_source}

    def calculate_route_matrix(self, DeparturePositions, DestinationPositions, **_):
        if max(len(DeparturePositions), len(DestinationPositions)) > self.limit:
            raise AssertionError(f"{self.data_source} takes at most {self.limit} positions")
        with self._lock:
            self.calls.append((len(DeparturePositions), len(DestinationPositions)))
            held = len(self.calls) <= self.meet
        if held:
            self._meeting.wait()  # calls made one after another never get past this
        return {
            "RouteMatrix": [
                [{"DurationSeconds": _seconds(a, b)} for b in DestinationPositions]
                for a in DeparturePositions
            ]
        }


def _seconds(a, b) -> float:
    return (abs(a[0] - b[0]) + abs(a[1] - b[1])) * 10_000


def _places(count: int) -> list[Location]:
    return [Location(41.80 + i * 0.003, -87.70 + (i % 7) * 0.01) for i in range(count)]


def _expected(places: list[Location]) -> list[list[int]]:
    return [
        [
            0 if i == j else int(-(-_seconds([a.lng, a.lat], [b.lng, b.lat]) // 1))
            for j, b in enumerate(places)
        ]
        for i, a in enumerate(places)
    ]


def test_a_here_calculator_answers_a_hundred_places_in_one_call():
    calculator = FakeCalculator("Here")
    places = _places(100)

    matrix = AmazonLocationTravel("fieldline-here", client=calculator).matrix(places)

    assert calculator.calls == [(100, 100)]
    assert matrix == _expected(places)


def test_an_esri_calculator_is_asked_in_ten_by_ten_blocks_several_at_once():
    # 25 places: blocks of 10, 10 and 5 each way, nine calls; four are in flight together
    calculator = FakeCalculator("Esri", meet=4)
    places = _places(25)

    matrix = AmazonLocationTravel("fieldline-esri", client=calculator).matrix(places)

    assert sorted(calculator.calls) == sorted(
        (rows, columns) for rows in (10, 10, 5) for columns in (10, 10, 5)
    )
    assert matrix == _expected(places)


def test_the_calculators_provider_is_asked_once_per_process():
    calculator = FakeCalculator("Grab")
    for _ in range(3):
        AmazonLocationTravel("fieldline-grab", client=calculator).matrix(_places(3))

    assert calculator.describes == 1
    assert calculator.calls == [(3, 3)] * 3
