"""What every route does at the HTTP level, as a client developer meets it: unknown routes and
methods, versions as ETags, replays flagged, CORS for a browser app, one time rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.config import get_settings
from tests.integration.helpers import CUSTOMER, Api
from tests.integration.test_quotes import a_sent_quote, public

CHALICE_CONFIG = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"
APP_ORIGIN = "http://localhost:5173"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    body = json.loads(response.body)
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["details"] == [] or isinstance(body["error"]["details"], list)
    return body["error"]


# --- unknown routes and methods ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/jobs/abc/nope", "/a/b/c/d", "/"])
@pytest.mark.parametrize("token", [None, "Bearer not-a-token"])
def test_an_unknown_route_is_404_in_the_api_error_body_whatever_the_token(client, path, token):
    headers = {"Authorization": token} if token else {}
    for method in ("GET", "POST", "DELETE"):
        _error(client.http.request(method, path, headers=headers), 404, "not_found")


@pytest.mark.parametrize("method", ["DELETE", "PUT", "HEAD", "TRACE", "CONNECT"])
def test_another_method_on_a_route_is_405_with_allow_and_no_token_asked(client, method):
    response = client.http.request(method, "/jobs/abc")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PATCH, OPTIONS"
    if method != "HEAD":
        _error(response, 405, "method_not_allowed")


def test_options_says_what_a_route_allows(client):
    response = client.http.request("OPTIONS", "/customers/abc")
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, PATCH, OPTIONS"
    assert "Access-Control-Allow-Origin" not in response.headers


# --- versions: ETag and If-Match --------------------------------------------------------------


def test_a_version_travels_as_an_etag_and_comes_back_as_if_match(owner):
    created = owner.post("/customers", CUSTOMER)
    path = f"/customers/{created.data['id']}"
    assert created.headers["ETag"] == f'"{created.data["version"]}"'
    read = owner.get(path)
    etag = read.headers["ETag"]
    assert etag == f'"{read.data["version"]}"'

    # The ETag as it came, a weak one, or the bare number: each is the version it names
    changed = owner.patch(path, {"name": "Dana W."}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.body
    assert changed.headers["ETag"] != etag
    weak = owner.patch(
        path, {"name": "Dana X."}, headers={"If-Match": f"W/{changed.headers['ETag']}"}
    )
    assert weak.status_code == 200, weak.body
    bare = owner.patch(path, {"name": "Dana Y."}, headers={"If-Match": str(weak.data["version"])})
    assert bare.status_code == 200, bare.body

    # A stale one is refused, naming the version now
    stale = owner.patch(path, {"name": "Nobody"}, headers={"If-Match": etag})
    error = _error(stale, 409, "version_conflict")
    assert error["details"] == [{"current_version": bare.data["version"]}]
    assert owner.get(path).data["name"] == "Dana Y."
    # `*` is any version
    assert owner.patch(path, {"name": "Dana Z."}, headers={"If-Match": "*"}).status_code == 200


def test_lists_carry_no_etag(owner):
    owner.post("/customers", CUSTOMER)
    assert "ETag" not in owner.get("/customers").headers


# --- idempotency ------------------------------------------------------------------------------


def test_a_replay_says_it_is_one(owner):
    headers = {"Idempotency-Key": "replayed-1"}
    first = owner.post("/customers", CUSTOMER, headers=headers)
    replay = owner.post("/customers", CUSTOMER, headers=headers)
    assert "Idempotent-Replayed" not in first.headers
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.data == first.data and replay.headers["ETag"] == first.headers["ETag"]


def test_the_customers_approval_from_a_flaky_phone_takes_effect_once(owner):
    job_id, quote, token = a_sent_quote(owner)
    option = quote["options"][1]["id"]
    customer = public(owner)
    approval = {"option_id": option, "signed_by": "Dana Whitfield"}
    headers = {"Idempotency-Key": "phone-retry-1"}

    first = customer.post(f"/public/quotes/{token}/approve", approval, headers=headers)
    retry = customer.post(f"/public/quotes/{token}/approve", approval, headers=headers)

    assert first.status_code == retry.status_code == 200, first.body
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.data == first.data
    types = [e["type"] for e in owner.get(f"/jobs/{job_id}/timeline").data["items"]]
    assert types.count("QuoteApproved") == 1
    # The key belongs to the link's business: another body with it is refused
    other = customer.post(
        f"/public/quotes/{token}/approve", {**approval, "signed_by": "Someone"}, headers=headers
    )
    _error(other, 422, "idempotency_key_reused")


def test_an_idempotency_key_longer_than_255_characters_is_400(owner):
    response = owner.post("/customers", CUSTOMER, headers={"Idempotency-Key": "k" * 256})
    _error(response, 400, "bad_request")


# --- CORS -------------------------------------------------------------------------------------


@pytest.fixture
def local_origins(monkeypatch):
    """The local stage's origins, as .chalice/config.json sets them."""
    stage = json.loads(CHALICE_CONFIG.read_text())["stages"]["local"]
    origins = stage["environment_variables"]["FIELDLINE_CORS_ORIGINS"]
    monkeypatch.setattr(get_settings(), "cors_origins", origins)
    return origins


@pytest.mark.parametrize("origin", [APP_ORIGIN, "http://127.0.0.1:3000", "http://localhost:80"])
def test_a_browser_app_on_a_local_port_passes_the_preflight(client, local_origins, origin):
    response = client.http.request(
        "OPTIONS",
        "/jobs/abc",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) >= {"GET", "PATCH"}
    allowed = {h.lower() for h in response.headers["Access-Control-Allow-Headers"].split(", ")}
    assert allowed >= {"authorization", "content-type", "idempotency-key", "if-match"}
    assert response.headers["Vary"] == "Origin"


def test_the_app_reads_the_headers_it_needs_and_errors_too(owner, local_origins):
    browser = Api(owner.client, owner.token, default_headers={"Origin": APP_ORIGIN})
    created = browser.post("/customers", CUSTOMER, headers={"Idempotency-Key": "cors-1"})
    assert created.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = set(created.headers["Access-Control-Expose-Headers"].split(", "))
    assert exposed >= {"ETag", "Idempotent-Replayed", "Retry-After"}
    missing = browser.get("/customers/nope")
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost.evil.example:80", "http://localhost"]
)
def test_another_origin_gets_no_cors_headers(client, local_origins, origin):
    preflight = client.http.request(
        "OPTIONS", "/jobs", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.http.get("/health", headers={"Origin": origin}).headers
    )


# --- one time rule ----------------------------------------------------------------------------


def test_every_moment_is_written_in_utc_whichever_route_shows_it(owner):
    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "312-555-0111"}).data
    job = owner.post("/leads", {"customer": CUSTOMER, "title": "Boiler"}).data
    window = {
        "window_start": "2030-06-03T09:00:00-05:00",
        "window_end": "2030-06-03T12:00:00-05:00",
    }
    visit = owner.post(
        f"/jobs/{job['id']}/visits",
        {**window, "duration_minutes": 60, "technician_ids": [tech["id"]]},
    ).data
    board = owner.get("/dispatch/board?date=2030-06-03").data
    [on_board] = [v for t in board["technicians"] for v in t["visits"]]
    detail = owner.get(f"/jobs/{job['id']}").data["visits"]

    # The same moment, 09:00 in Chicago, reads the same on the visit, the board and the job
    assert visit["window_start"] == on_board["window_start"] == "2030-06-03T14:00:00Z"
    assert [v["window_start"] for v in detail] == ["2030-06-03T14:00:00Z"]
    assert board["timezone"] == visit["timezone"] == "America/Chicago"
