"""Domain rules with no I/O: phones, stage flow, signed links."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import jobs, links
from chalicelib.domain.errors import BadRequest, Conflict, Invalid
from chalicelib.domain.phones import search_prefix, to_e164
from chalicelib.domain.tenants import require_timezone

SECRET = "test-secret"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("(312) 555-0142", "US", "+13125550142"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phones_are_normalised_to_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "123", "+1 555"])
def test_an_impossible_phone_is_a_bad_request(raw):
    with pytest.raises(BadRequest):
        to_e164(raw)


def test_a_phone_query_becomes_an_e164_prefix_and_a_name_query_does_not():
    assert search_prefix("312-555") == "+1312555"
    assert search_prefix("+4420") == "+4420"
    assert search_prefix("dana") is None


def test_an_unknown_time_zone_is_invalid():
    assert require_timezone("America/Chicago") == "America/Chicago"
    with pytest.raises(Invalid):
        require_timezone("Mars/Olympus")


def _job(stage="lead"):
    job, _ = jobs.new_lead("j1", "c1", "Fix sink", actor="u1")
    job.stage = stage
    return job


def test_a_job_moves_forward_and_a_late_signal_never_moves_it_back():
    job = _job("scheduled")
    assert jobs.advance(job, "approved", "u1") is None
    assert job.stage == "scheduled"
    moved = jobs.advance(job, "in_progress", "u1")
    assert moved.type == "JobStageChanged" and moved.data["previous"] == "scheduled"
    assert job.stage == "in_progress"


def test_a_closed_job_cannot_move_or_close_again():
    job = _job()
    jobs.close(job, "lost", "price", "u1")
    with pytest.raises(Conflict):
        jobs.advance(job, "quoted", "u1")
    with pytest.raises(Conflict):
        jobs.close(job, "cancelled", "again", "u1")


def _claims(expires_at=NOW + timedelta(days=1), kind="quote"):
    return links.LinkClaims(kind, "t1", "j1", "q1", expires_at)


def test_a_signed_link_verifies_until_it_expires():
    token = links.sign(_claims(), SECRET)
    assert links.verify(token, "quote", SECRET, NOW).object_id == "q1"
    assert links.verify(token, "quote", SECRET, NOW + timedelta(days=2)) is None
    assert links.is_expired_link(token, "quote", SECRET, NOW + timedelta(days=2))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
        lambda t: "x" + t,
        lambda t: t.split(".")[0],
        lambda t: "",
    ],
)
def test_an_altered_link_does_not_verify(mangle):
    token = links.sign(_claims(), SECRET)
    assert links.verify(mangle(token), "quote", SECRET, NOW) is None


def test_a_link_of_another_kind_or_secret_does_not_verify():
    token = links.sign(_claims(), SECRET)
    assert links.verify(token, "invoice", SECRET, NOW) is None
    assert links.verify(token, "quote", "other-secret", NOW) is None
