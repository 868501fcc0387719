"""Amazon Location's route matrix as a TravelTimeProvider, against botocore's Stubber."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.routing import Location, StraightLineTravel
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
    travel = AmazonLocationTravel("fieldline-routes", client=client)
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
    # Esri answers at most 10 x 10 positions a call; with blocks of 2, three places take four.
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client, block_size=2)
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
    travel = AmazonLocationTravel("fieldline-routes", client=client)
    no_route = {"Error": {"Code": "RouteNotFound", "Message": "no road"}}
    with Stubber(client) as stubber:
        _expect(
            stubber, [HOME, LEE], [HOME, LEE], [[_entry(0), no_route], [_entry(900), _entry(0)]]
        )
        matrix = travel.matrix([HOME, LEE])

    assert matrix == [[0, StraightLineTravel().seconds(HOME, LEE)], [900, 0]]


def test_a_failing_service_is_a_503_not_a_crash():
    client = _client()
    travel = AmazonLocationTravel("fieldline-routes", client=client)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "calculate_route_matrix", "ThrottlingException", http_status_code=429
        )
        with pytest.raises(Unavailable) as unavailable:
            travel.matrix([HOME, DANA])

    assert unavailable.value.status == 503
