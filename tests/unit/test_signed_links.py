"""Customer links and list cursors are signed with rotating secrets, newest first: a rotation
breaks nothing already handed out, and retiring a secret ends what it signed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import Settings
from chalicelib.domain import links
from chalicelib.domain.errors import BadRequest
from chalicelib.store import db

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OLD, NEW = "the-secret-links-were-texted-with", "the-secret-put-in-front-of-it"


def claims(expires_at=NOW + timedelta(days=30)) -> links.LinkClaims:
    return links.LinkClaims("invoice", "t1", "j1", "i1", expires_at)


def test_a_link_texted_before_a_rotation_opens_until_it_expires():
    # Given a link signed before the rotation
    texted = links.sign(claims(), [OLD])
    # When the new secret is put in front of the old one
    rotated = [NEW, OLD]
    # Then the link still opens, until it expires, and then it is a genuine expired link
    assert links.verify(texted, "invoice", rotated, NOW).object_id == "i1"
    assert links.verify(texted, "invoice", rotated, NOW + timedelta(days=31)) is None
    assert links.is_expired_link(texted, "invoice", rotated, NOW + timedelta(days=31))


def test_new_links_are_signed_with_the_newest_secret_and_retiring_one_ends_its_links():
    texted = links.sign(claims(), [OLD])
    fresh = links.sign(claims(), [NEW, OLD])
    # The new link needs only the new secret
    assert links.verify(fresh, "invoice", [NEW], NOW) is not None
    # Once the old secret is retired, what it signed opens nothing (not even as "expired")
    assert links.verify(texted, "invoice", [NEW], NOW) is None
    assert not links.is_expired_link(texted, "invoice", [NEW], NOW + timedelta(days=31))


def test_one_secret_may_be_given_alone():
    assert links.verify(links.sign(claims(), OLD), "invoice", [OLD], NOW) is not None


@pytest.mark.parametrize("secrets", [[], [""], ""])
def test_signing_needs_a_secret(secrets):
    with pytest.raises(ValueError):
        links.sign(claims(), secrets)


@pytest.mark.parametrize("typed", ["", ".", "a.b", "é.é", "x" * 5000, "Zm9v.Zm9v"])
def test_whatever_is_typed_as_a_link_is_simply_not_one(typed):
    assert links.verify(typed, "invoice", [NEW, OLD], NOW) is None
    assert not links.is_expired_link(typed, "invoice", [NEW, OLD], NOW)


def test_every_change_to_a_signature_is_refused():
    # A signature has one spelling: any other last character is another signature.
    token = links.sign(claims(), [OLD])
    body, _, signature = token.rpartition(".")
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        if other != signature[-1]:
            altered = f"{body}.{signature[:-1]}{other}"
            assert links.verify(altered, "invoice", [OLD], NOW) is None, other


# --- settings: where the list comes from --------------------------------------------------------


def test_the_environment_names_rotated_secrets_newest_first():
    settings = Settings(secret_values={"link_secret": f"{NEW}, {OLD}"})
    assert settings.link_secrets == (NEW, OLD)


# --- list cursors -----------------------------------------------------------------------------


@pytest.fixture
def secrets_in_use(monkeypatch):
    """Point the cursors at settings the test rotates."""
    settings = Settings(secret_values={"link_secret": OLD})
    monkeypatch.setattr(db, "get_settings", lambda: settings)
    return settings.secret_values


def test_a_cursor_handed_out_before_a_rotation_still_reads(secrets_in_use):
    last_key = {"PK": {"S": "T#t1#JOB#j1"}, "SK": {"S": "JOB"}}
    cursor = db.encode_cursor(last_key, "t1", "jobs")
    secrets_in_use["link_secret"] = f"{NEW},{OLD}"
    assert db.decode_cursor(cursor, "t1", "jobs") == last_key
    # Retired, the old secret's cursors are refused like forged ones
    secrets_in_use["link_secret"] = NEW
    with pytest.raises(BadRequest):
        db.decode_cursor(cursor, "t1", "jobs")


@pytest.mark.parametrize("forged", ["nope", "é.é", "e30.e30"])
def test_a_forged_or_foreign_cursor_is_a_bad_request(secrets_in_use, forged):
    with pytest.raises(BadRequest) as refused:
        db.decode_cursor(forged, "t1", "jobs")
    assert refused.value.code == "invalid_cursor"
    theirs = db.encode_cursor({"PK": {"S": "T#t2#JOB#j"}}, "t2", "jobs")
    with pytest.raises(BadRequest):
        db.decode_cursor(theirs, "t1", "jobs")


def test_a_cursor_is_opaque_and_opens_only_its_own_list(secrets_in_use):
    last_key = {"GSI1SK": {"S": "NAME#dana whitfield#c1"}, "PK": {"S": "T#t1#CUST#c1"}}
    cursor = db.encode_cursor(last_key, "t1", "customers named da")
    assert "dana" not in base64.urlsafe_b64decode(cursor + "==").decode("latin-1")
    with pytest.raises(BadRequest) as refused:
        db.decode_cursor(cursor, "t1", "jobs")
    assert refused.value.code == "invalid_cursor"
