"""On site: photos uploaded straight to S3 and recorded on the job, and visit checklists."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import datetime

import pytest
import requests

from chalicelib.config import get_settings
from chalicelib.services import photos
from tests.integration.helpers import CUSTOMER

DAY = "2030-06-03"  # a Monday; Chicago is on CDT (UTC-5)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
CHECKLIST = {
    "items": [
        {"id": "gas-off", "label": "Shut off gas", "required": True},
        {"id": "meter-photo", "label": "Photo of the meter", "required": True},
        {"id": "sweep", "label": "Sweep up"},
    ]
}


@pytest.fixture(scope="module")
def bucket(moto_endpoint):
    """The photos bucket in moto's S3 (the local stage creates it at start)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = get_settings().photo_bucket
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name)
    return s3, name


@pytest.fixture
def site(owner):
    """A job with Sam booked on a visit, and Sam's own API."""
    tech = owner.post(
        "/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177", "skills": ["gas"]}
    ).data
    job = owner.post("/leads", {"customer": CUSTOMER, "title": "Gas meter swap"}).data
    visit = owner.post(
        f"/jobs/{job['id']}/visits",
        {
            "window_start": f"{DAY}T09:00:00-05:00",
            "window_end": f"{DAY}T12:00:00-05:00",
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    ).data
    return job, visit, owner.as_role("technician", tech["id"])


def _start(api, job, content_type="image/jpeg"):
    started = api.post(
        f"/jobs/{job['id']}/photos", {"filename": "meter.jpg", "content_type": content_type}
    )
    assert started.status_code == 201, started.body
    return started.data


def _post_form(started, body=JPEG, content_type="image/jpeg", **changed_fields):
    """The upload as a phone or browser sends it: the form's fields, then the file, last."""
    fields = {**started["fields"], **changed_fields}
    return requests.post(
        started["upload_url"],
        data=fields,
        files={"file": ("meter.jpg", body, content_type)},
        headers=started["upload_headers"],
        timeout=10,
    )


def _upload(api, job, body=JPEG, content_type="image/jpeg"):
    started = _start(api, job, content_type)
    posted = _post_form(started, body, content_type)
    assert posted.status_code == 204, posted.text
    return started


def _keys(bucket, prefix):
    s3, name = bucket
    return [o["Key"] for o in s3.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents", [])]


def _events(owner, job):
    return [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]]


def test_a_technician_uploads_a_photo_that_the_job_records_once_confirmed(bucket, owner, site):
    job, _, sam = site

    # When Sam asks for an upload form and posts the photo with it
    upload = _upload(sam, job)
    assert upload["upload_method"] == "POST"
    assert upload["max_bytes"] == photos.MAX_PHOTO_BYTES
    # Not on the job until confirmed; the upload waits under the prefix that expires
    assert sam.get(f"/jobs/{job['id']}/photos").data["items"] == []
    photo_key = f"tenants/{owner.tenant_id}/jobs/{job['id']}/photos/{upload['photo_id']}.jpg"
    assert _keys(bucket, f"tenants/{owner.tenant_id}/") == []
    assert _keys(bucket, f"pending/tenants/{owner.tenant_id}/") == [f"pending/{photo_key}"]

    # And confirms it
    confirmed = sam.post(f"/jobs/{job['id']}/photos/{upload['photo_id']}/confirm")

    # Then the job has the photo, with its size, once, and the office can download it
    assert confirmed.status_code == 200, confirmed.body
    assert confirmed.data["status"] == "uploaded"
    assert confirmed.data["size_bytes"] == len(JPEG)
    again = sam.post(f"/jobs/{job['id']}/photos/{upload['photo_id']}/confirm")
    assert again.status_code == 200
    assert _events(owner, job).count("PhotoAdded") == 1
    listed = owner.get(f"/jobs/{job['id']}/photos").data["items"]
    assert [p["id"] for p in listed] == [upload["photo_id"]]
    assert requests.get(listed[0]["download_url"], timeout=10).content == JPEG
    # Kept under its own key, where nothing expires it; the upload is gone
    assert _keys(bucket, f"tenants/{owner.tenant_id}/") == [photo_key]
    assert _keys(bucket, f"pending/tenants/{owner.tenant_id}/") == []


def test_the_bucket_refuses_an_upload_over_the_size_limit_or_of_another_type(bucket, owner, site):
    # S3 enforces the form's signed policy; moto does not, the local stage's patch of it does
    job, _, sam = site
    started = _start(sam, job)

    # A file one byte over the limit, a PNG sent as the JPEG's form, another key: refused
    too_big = _post_form(started, b"\xff" * (photos.MAX_PHOTO_BYTES + 1))
    png = _post_form(started, content_type="image/png", **{"Content-Type": "image/png"})
    elsewhere = _post_form(started, key=f"tenants/{owner.tenant_id}/anything.jpg")

    assert (too_big.status_code, "<Code>EntityTooLarge</Code>" in too_big.text) == (400, True)
    assert (png.status_code, "<Code>AccessDenied</Code>" in png.text) == (403, True)
    assert (elsewhere.status_code, "<Code>AccessDenied</Code>" in elsewhere.text) == (403, True)
    # Nothing landed, so there is nothing to confirm
    assert _keys(bucket, f"pending/tenants/{owner.tenant_id}/") == []
    assert _keys(bucket, f"tenants/{owner.tenant_id}/") == []
    refused = sam.post(f"/jobs/{job['id']}/photos/{started['photo_id']}/confirm")
    assert refused.data["error"]["code"] == "upload_missing"
    # The same form takes the photo within the limits
    assert _post_form(started).status_code == 204


def test_the_upload_policy_caps_size_type_and_key_for_fifteen_minutes(bucket, owner, site):
    # What S3 enforces is the signed policy (moto does not: the local stage's emulator patch
    # checks the same conditions, localstage/emulators.py)
    job, _, sam = site
    started = _start(sam, job, "image/webp")
    fields = started["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))

    conditions = policy["conditions"]
    assert ["content-length-range", 1, photos.MAX_PHOTO_BYTES] in conditions
    assert {"Content-Type": "image/webp"} in conditions
    key = f"pending/tenants/{owner.tenant_id}/jobs/{job['id']}/photos/{started['photo_id']}.webp"
    assert {"key": key} in conditions and fields["key"] == key
    assert {"bucket": bucket[1]} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    lifetime = expires - datetime.fromisoformat(started["expires_at"])
    assert abs(lifetime.total_seconds()) <= 1
    # Signature Version 4: S3 refuses Version 2 on buckets made since June 2020
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "AWSAccessKeyId" not in fields


def test_confirming_before_anything_was_uploaded_is_409(bucket, owner, site):
    job, _, sam = site
    started = sam.post(
        f"/jobs/{job['id']}/photos", {"filename": "x.png", "content_type": "image/png"}
    ).data

    refused = sam.post(f"/jobs/{job['id']}/photos/{started['photo_id']}/confirm")

    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "upload_missing"
    assert "PhotoAdded" not in _events(owner, job)


def test_an_upload_over_todays_limit_is_422_at_confirmation_and_deleted(
    bucket, owner, site, monkeypatch
):
    # An upload made under a larger limit (a form handed out before the limit was lowered)
    job, _, sam = site
    upload = _upload(sam, job)
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 1024)

    refused = sam.post(f"/jobs/{job['id']}/photos/{upload['photo_id']}/confirm")

    assert refused.status_code == 422
    assert refused.data["error"]["code"] == "photo_too_large"
    assert _keys(bucket, f"tenants/{owner.tenant_id}/") == []
    assert _keys(bucket, f"pending/tenants/{owner.tenant_id}/") == []
    assert owner.get(f"/jobs/{job['id']}/photos").data["items"] == []


def test_only_photos_are_accepted_and_only_from_someone_on_the_job(bucket, owner, site):
    job, _, _ = site
    pdf = owner.post(
        f"/jobs/{job['id']}/photos", {"filename": "a.pdf", "content_type": "application/pdf"}
    )
    assert pdf.status_code == 422
    stranger = owner.as_role("technician", "someone-else")
    refused = stranger.post(
        f"/jobs/{job['id']}/photos", {"filename": "a.jpg", "content_type": "image/jpeg"}
    )
    assert refused.status_code == 404


def test_a_visit_cannot_be_completed_while_a_required_item_is_open(bucket, owner, site):
    # Given the office's checklist on Sam's visit, and Sam on site
    job, visit, sam = site
    base = f"/jobs/{job['id']}/visits/{visit['id']}"
    defined = owner.call("PUT", f"{base}/checklist", CHECKLIST)
    assert defined.status_code == 200, defined.body
    assert defined.data["open_required"] == ["gas-off", "meter-photo"]
    for status in ("en_route", "on_site"):
        assert sam.post(f"{base}/status", {"status": status}).status_code == 200

    # When Sam ticks one required item and tries to finish
    ticked = sam.post(f"{base}/checklist/gas-off", {"done": True, "note": "Valve at the street"})
    assert ticked.status_code == 200, ticked.body
    refused = sam.post(f"{base}/status", {"status": "completed"})

    # Then completion is refused naming the open item, and the visit stays on site
    assert refused.status_code == 422, refused.body
    assert refused.data["error"]["code"] == "checklist_incomplete"
    assert refused.data["error"]["details"] == [
        {"item_id": "meter-photo", "label": "Photo of the meter"}
    ]
    assert "Photo of the meter" in refused.data["error"]["message"]
    assert owner.get(base).data["status"] == "on_site"

    # When he ticks the last one with a photo of the meter, the visit completes
    upload = _upload(sam, job)
    assert sam.post(f"/jobs/{job['id']}/photos/{upload['photo_id']}/confirm").status_code == 200
    with_photo = sam.post(
        f"{base}/checklist/meter-photo", {"done": True, "photo_id": upload["photo_id"]}
    )
    assert with_photo.status_code == 200, with_photo.body
    item = next(i for i in with_photo.data["items"] if i["id"] == "meter-photo")
    assert item["photo_id"] == upload["photo_id"] and item["done_by"] == sam.owner_id
    done = sam.post(f"{base}/status", {"status": "completed"})
    assert done.status_code == 200, done.body
    assert "ChecklistItemChecked" in _events(owner, job)
    assert owner.get(base).data["checklist"][2]["done"] is False  # optional, never blocking


def test_a_checklist_item_may_only_point_at_a_confirmed_photo_of_the_job(bucket, owner, site):
    job, visit, sam = site
    base = f"/jobs/{job['id']}/visits/{visit['id']}"
    owner.call("PUT", f"{base}/checklist", CHECKLIST)
    pending = sam.post(
        f"/jobs/{job['id']}/photos", {"filename": "m.jpg", "content_type": "image/jpeg"}
    ).data

    for photo_id in (pending["photo_id"], "not-a-photo"):
        refused = sam.post(f"{base}/checklist/meter-photo", {"done": True, "photo_id": photo_id})
        assert refused.status_code == 422, refused.body


def test_only_the_office_defines_checklists_and_only_the_visits_technician_ticks(owner, site):
    job, visit, sam = site
    base = f"/jobs/{job['id']}/visits/{visit['id']}"
    assert sam.call("PUT", f"{base}/checklist", CHECKLIST).status_code == 403
    owner.call("PUT", f"{base}/checklist", CHECKLIST)
    eli = owner.post("/technicians", {"name": "Eli Watts", "phone": "(312) 555-0188"}).data
    eli_api = owner.as_role("technician", eli["id"])
    assert eli_api.post(f"{base}/checklist/sweep", {"done": True}).status_code == 404
    assert sam.post(f"{base}/checklist/nope", {"done": True}).status_code == 404
    assert sam.get(f"{base}/checklist").data["open_required"] == ["gas-off", "meter-photo"]
    # The office may tick too, and a stale If-Match is refused
    stale = owner.post(f"{base}/checklist/sweep", {"done": True}, headers={"If-Match": "1"})
    assert stale.status_code == 409
    assert owner.post(f"{base}/checklist/sweep", {"done": True}).status_code == 200


def test_too_many_checklist_items_or_duplicate_ids_are_422(owner, site):
    job, visit, _ = site
    base = f"/jobs/{job['id']}/visits/{visit['id']}"
    many = {"items": [{"id": f"i{n}", "label": f"Item {n}"} for n in range(51)]}
    twice = {"items": [CHECKLIST["items"][0], CHECKLIST["items"][0]]}
    for body in (many, twice):
        assert owner.call("PUT", f"{base}/checklist", body).status_code == 422
