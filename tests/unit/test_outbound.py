"""Outbound webhooks' pure rules: event types, signatures, the retry schedule, the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import outbound
from chalicelib.domain.errors import Invalid

START = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "public"),
    [
        ("InvoicePaid", "invoice.paid"),
        ("LeadCreated", "lead.created"),
        ("JobStageChanged", "job_stage.changed"),
        ("PaymentMethodSaved", "payment_method.saved"),
        ("TechnicianAssigned", "technician.assigned"),
    ],
)
def test_timeline_names_become_dotted_lower_case_types(name, public):
    assert outbound.event_type(name) == public


def test_a_receiver_verifies_the_signature_with_the_standard_library():
    body = outbound.body_bytes({"id": "e1", "type": "invoice.paid", "data": {"amount": 1250}})
    header = outbound.signature(["whsec_new", "whsec_old"], 1767225600, body)
    parts = [part.split("=", 1) for part in header.split(",")]
    assert parts[0] == ["t", "1767225600"]
    for secret, (_, given) in zip(["whsec_new", "whsec_old"], parts[1:], strict=True):
        expected = hmac.new(secret.encode(), b"1767225600." + body, hashlib.sha256).hexdigest()
        assert given == expected
    # A body changed by one byte no longer matches
    other = hmac.new(b"whsec_new", b"1767225600." + body + b" ", hashlib.sha256).hexdigest()
    assert other not in header


def test_retries_double_up_to_an_hour_apart_and_stop_after_a_day():
    moments, now, attempts = [], START, 1
    while (due := outbound.next_attempt(attempts, START, now)) is not None:
        moments.append(due - now)
        now, attempts = due, attempts + 1
    assert moments[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(moments) == timedelta(hours=1)
    assert now - START <= timedelta(hours=24) < now + timedelta(hours=1) - START
    assert 25 <= attempts <= 35


def test_the_local_stage_runs_the_schedule_faster_by_its_scale():
    due = outbound.next_attempt(1, START, START, scale=3600)
    assert due - START == timedelta(seconds=30) / 3600
    assert outbound.next_attempt(2, START, START + timedelta(seconds=25), scale=3600) is None


def test_an_attempt_moves_the_delivery_to_delivered_pending_or_failed():
    pending = outbound.Delivery(
        delivery_id="d", subscription_id="s", event_id="e", job_id="j", type="lead.created",
        sequence=1, created_at=START,
    )  # fmt: skip
    retried = outbound.tried(pending, 500, "", START, 1.0)
    assert (retried.status, retried.attempts, retried.last_status_code) == ("pending", 1, 500)
    assert retried.next_attempt_at == START + timedelta(seconds=30)
    assert outbound.tried(retried, 204, "", START, 1.0).status == "delivered"
    late = START + timedelta(hours=24)
    gave_up = outbound.tried(retried, None, "ReadTimeoutError", late, 1.0)
    assert (gave_up.status, gave_up.next_attempt_at) == ("failed", None)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # the instance metadata service
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",  # the metadata service over IPv6
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
    ],
)
def test_addresses_inside_a_network_are_refused(address):
    assert outbound.refused_address(address) is not None


def test_public_addresses_are_allowed_and_loopback_only_locally():
    assert outbound.refused_address("93.184.215.14") is None
    assert outbound.refused_address("2606:4700::1111") is None
    assert outbound.refused_address("127.0.0.1", allow_local=True) is None
    assert outbound.refused_address("169.254.169.254", allow_local=True) is not None
    assert outbound.refused_address("::1", allow_local=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "https://user:pass@hooks.example.com/in",
        "https:///no-host",
        "http://127.0.0.1:8080/in",  # a deployed stage takes https only
        "https://hooks.example.com:99999/in",
    ],
)
def test_receiver_urls_that_are_not_plain_https_are_refused(url):
    with pytest.raises(Invalid) as refused:
        outbound.receiver(url, allow_local=False)
    assert refused.value.code == "unsafe_webhook_url"


def test_the_local_stage_also_takes_http_on_127_0_0_1():
    assert outbound.receiver("http://127.0.0.1:8080/in", allow_local=True) == (
        "http",
        "127.0.0.1",
        8080,
    )
    with pytest.raises(Invalid):
        outbound.receiver("http://10.0.0.5:8080/in", allow_local=True)


def test_an_event_filter_is_every_event_or_dotted_types():
    assert outbound.check_event_filter(["invoice.paid", "invoice.paid"]) == ["invoice.paid"]
    for bad in (["*", "invoice.paid"], ["InvoicePaid"], ["invoice"]):
        with pytest.raises(Invalid):
            outbound.check_event_filter(bad)
