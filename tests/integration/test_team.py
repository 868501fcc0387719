"""The team: an owner invites, the invited accept (a login), roles change, deactivation bites at
once; in deployed stages the same flow makes Cognito users (the adapter on moto's cognito-idp)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from tests.integration.helpers import CUSTOMER, Api

DAY = "2030-06-03"  # a Monday; Chicago is UTC-5 then


def at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00-05:00"


def _technician(owner, name="Sam Ortiz"):
    body = {"name": name, "phone": "(312) 555-0177", "skills": ["plumbing"]}
    response = owner.post("/technicians", body)
    assert response.status_code == 201, response.body
    return response.data


def _visit_for(owner, tech, start, title):
    job = owner.post("/leads", {"customer": CUSTOMER, "title": title}).data
    body = {
        "window_start": at(start),
        "window_end": at("17:00"),
        "duration_minutes": 60,
        "technician_ids": [tech["id"]],
    }
    response = owner.post(f"/jobs/{job['id']}/visits", body)
    assert response.status_code == 201, response.body
    return job, response.data


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _accept(client, url: str):
    return Api(client, "").post(f"/public/invitations/{_token_of(url)}/accept")


def _invited(owner, client, **body):
    invited = owner.post("/team/invitations", body)
    assert invited.status_code == 201, invited.body
    accepted = _accept(client, invited.data["accept_url"])
    assert accepted.status_code == 201, accepted.body
    return Api(client, accepted.data["token"], owner.tenant_id, accepted.data["user"]["id"])


def test_an_invited_technician_accepts_once_and_sees_only_their_day(owner, client):
    # Given Sam, a technician the office already books, on one job; Eli on another
    sam, eli = _technician(owner), _technician(owner, "Eli Watts")
    sams_job, sams_visit = _visit_for(owner, sam, "09:00", "Water heater leaking")
    elis_job, _ = _visit_for(owner, eli, "13:00", "Boiler service")
    # When the owner invites Sam by text as that technician
    invited = owner.post(
        "/team/invitations",
        {
            "name": "Sam Ortiz",
            "phone": "(312) 555-0188",
            "role": "technician",
            "technician_id": sam["id"],
        },
    )
    assert invited.status_code == 201, invited.body
    assert invited.data["status"] == "pending" and invited.data["technician_id"] == sam["id"]
    # Then Sam is texted the link
    texts = Api(client, "").get("/dev/outbox?to=%2B13125550188").data["items"]
    assert invited.data["accept_url"] in texts[0]["body"]
    # And accepting it makes Sam's login: the technician the office books, now with a token
    accepted = _accept(client, invited.data["accept_url"])
    assert accepted.status_code == 201, accepted.body
    assert accepted.data["user"]["id"] == sam["id"]
    assert accepted.data["user"]["role"] == "technician"
    # And the link cannot be used again
    again = _accept(client, invited.data["accept_url"])
    assert again.status_code == 409 and again.data["error"]["code"] == "invitation_accepted"
    # And with that token Sam sees his own day, and nothing of Eli's job or the office's
    as_sam = Api(client, accepted.data["token"], owner.tenant_id, sam["id"])
    day = as_sam.get(f"/me/visits?date={DAY}")
    assert day.status_code == 200, day.body
    assert [v["id"] for v in day.data["visits"]] == [sams_visit["id"]]
    assert as_sam.get(f"/jobs/{sams_job['id']}").status_code == 200
    assert as_sam.get(f"/jobs/{elis_job['id']}").status_code == 404
    assert as_sam.get("/team").status_code == 403
    assert as_sam.get(f"/dispatch/board?date={DAY}").status_code == 403


def test_the_texted_link_opens_a_page_that_accepts_once(owner, client):
    invited = owner.post(
        "/team/invitations", {"name": "Olive <b>Ong</b>", "phone": "312-555-0190", "role": "office"}
    )
    path = urlsplit(invited.data["accept_url"]).path
    assert path.startswith("/p/invitations/")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    shown = client.http.get(path)
    accepted = client.http.post(f"{path}/accept", headers=form, body=b"")
    again = client.http.post(f"{path}/accept", headers=form, body=b"")

    assert shown.status_code == 200 and b"Accept the invitation" in shown.body
    assert b"Olive &lt;b&gt;Ong&lt;/b&gt;" in shown.body  # what a person typed stays text
    assert accepted.status_code == 200 and b"Welcome to Acme Plumbing" in accepted.body
    assert again.status_code == 409 and b"already accepted" in again.body
    assert client.http.get(path).status_code == 409
    assert client.http.get(path + "x").status_code == 404


def test_a_deactivated_users_token_is_refused_on_the_next_request(owner, client):
    office = _invited(owner, client, name="Olive Office", email="olive@example.com", role="office")
    assert office.get("/customers").status_code == 200
    # The invitation was emailed too
    outbox = Api(client, "").get("/dev/outbox").data["items"]
    assert any(m["to"] == "olive@example.com" and m["channel"] == "email" for m in outbox)

    deactivated = owner.post(f"/team/{office.owner_id}/deactivate")

    assert deactivated.status_code == 200, deactivated.body
    assert deactivated.data["active"] is False
    refused = office.get("/customers")
    assert refused.status_code == 401 and refused.data["error"]["code"] == "unauthorized"
    # Listing the team shows who is active
    members = {m["id"]: m for m in owner.get("/team").data["items"]}
    assert members[office.owner_id]["active"] is False
    assert members[owner.owner_id]["role"] == "owner"


def test_a_role_change_takes_effect_at_once_and_an_owner_cannot_lock_themselves_out(owner, client):
    office = _invited(owner, client, name="Olive Office", email="olive2@example.com", role="office")
    changed = owner.patch(f"/team/{office.owner_id}", {"role": "technician"})
    assert changed.status_code == 200 and changed.data["role"] == "technician"
    # The token issued for the office role no longer opens anything
    assert office.get("/customers").status_code == 401
    # Only the owner manages the team, and not their own access
    myself = owner.post(f"/team/{owner.owner_id}/deactivate")
    assert myself.status_code == 422 and myself.data["error"]["code"] == "own_account"
    assert owner.as_role("office").post("/team/invitations", {}).status_code == 403


def test_an_expired_or_forged_invitation_is_refused(owner, client):
    invited = owner.post(
        "/team/invitations", {"name": "Late Larry", "email": "larry@example.com", "role": "office"}
    )
    later = clock.now() + timedelta(days=8)
    clock.set_clock(lambda: later)
    try:
        expired = _accept(client, invited.data["accept_url"])
    finally:
        clock.set_clock(None)
    assert expired.status_code == 422 and expired.data["error"]["code"] == "invitation_expired"
    assert _accept(client, invited.data["accept_url"] + "x").status_code == 404
    # An invitation reaches someone, and names a technician only for the technician role
    nobody = owner.post("/team/invitations", {"name": "No One", "role": "office"})
    assert nobody.status_code == 422
    tech = _technician(owner)
    wrong = owner.post(
        "/team/invitations",
        {"name": "X", "email": "x@example.com", "role": "office", "technician_id": tech["id"]},
    )
    assert wrong.status_code == 422


def _user_pool(name: str):
    """A pool shaped as the stack makes it: the three custom attributes, a group per role."""
    from chalicelib.integrations.aws import client as aws

    idp = aws("cognito-idp")
    pool = idp.create_user_pool(
        PoolName=name,
        Schema=[
            {"Name": attribute, "AttributeDataType": "String", "Mutable": True}
            for attribute in ("tenant_id", "role", "user_id")
        ],
    )["UserPool"]["Id"]
    for role in ("owner", "office", "technician"):
        idp.create_group(UserPoolId=pool, GroupName=role)
    return idp, pool


def test_in_a_deployed_stage_accepting_makes_the_cognito_login_and_deactivating_disables_it(
    owner, client, monkeypatch
):
    from chalicelib.config import get_settings

    idp, pool = _user_pool("team-deployed")
    monkeypatch.setattr(get_settings(), "user_pool_id", pool)
    sam = _technician(owner)
    invited = owner.post(
        "/team/invitations",
        {
            "name": "Sam Ortiz",
            "email": "sam@example.com",
            "role": "technician",
            "technician_id": sam["id"],
        },
    )
    accepted = _accept(client, invited.data["accept_url"])

    # Cognito sends the password; the app issues no token of its own
    assert accepted.status_code == 201, accepted.body
    assert accepted.data["token"] is None and accepted.data["login"] == "sam@example.com"
    user = idp.admin_get_user(UserPoolId=pool, Username="sam@example.com")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["custom:user_id"] == sam["id"]
    assert attributes["custom:tenant_id"] == owner.tenant_id
    assert _groups(idp, pool, "sam@example.com") == ["technician"]

    assert owner.post(f"/team/{sam['id']}/deactivate").status_code == 200
    assert idp.admin_get_user(UserPoolId=pool, Username="sam@example.com")["Enabled"] is False


def test_the_cognito_adapter_creates_re_roles_and_disables_a_login(moto_endpoint):
    from chalicelib.integrations import cognito

    idp, pool = _user_pool("team-test")

    login = cognito.create_user(pool, "tina@example.com", None, "t1", "technician", "u1")
    user = idp.admin_get_user(UserPoolId=pool, Username=login)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["custom:tenant_id"] == "t1" and attributes["custom:user_id"] == "u1"
    assert _groups(idp, pool, login) == ["technician"]

    # An accept tried again after its save failed finds its own login; another's is refused
    assert cognito.create_user(pool, "tina@example.com", None, "t1", "technician", "u1") == login
    with pytest.raises(Conflict) as refused:
        cognito.create_user(pool, "tina@example.com", None, "t2", "office", "u9")
    assert refused.value.code == "login_exists"

    cognito.change_role(pool, login, "technician", "office")
    assert _groups(idp, pool, login) == ["office"]
    cognito.disable_user(pool, login)
    assert idp.admin_get_user(UserPoolId=pool, Username=login)["Enabled"] is False


def _groups(idp, pool, login):
    groups = idp.admin_list_groups_for_user(UserPoolId=pool, Username=login)["Groups"]
    return [g["GroupName"] for g in groups]
