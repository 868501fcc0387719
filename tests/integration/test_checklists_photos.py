"""On site: photos uploaded straight to S3 and recorded on the job, and visit checklists."""

from __future__ import annotations

import contextlib

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


def _upload(api, job, body=JPEG, content_type="image/jpeg"):
    started = api.post(
        f"/jobs/{job['id']}/photos", {"filename": "meter.jpg", "content_type": content_type}
    )
    assert started.status_code == 201, started.body
    put = requests.put(
        started.data["upload_url"],
        data=body,
        headers=started.data["upload_headers"],
        timeout=10,
    )
    assert put.status_code == 200, put.text
    return started.data


def _events(owner, job):
    return [e["type"] for e in owner.get(f"/jobs/{job['id']}/timeline").data["items"]]


def test_a_technician_uploads_a_photo_that_the_job_records_once_confirmed(bucket, owner, site):
    job, _, sam = site

    # When Sam asks for an upload URL and puts the photo there
    upload = _upload(sam, job)
    assert upload["upload_method"] == "PUT"
    assert upload["max_bytes"] == photos.MAX_PHOTO_BYTES
    # Not on the job until confirmed
    assert sam.get(f"/jobs/{job['id']}/photos").data["items"] == []

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


def test_confirming_before_anything_was_uploaded_is_409(bucket, owner, site):
    job, _, sam = site
    started = sam.post(
        f"/jobs/{job['id']}/photos", {"filename": "x.png", "content_type": "image/png"}
    ).data

    refused = sam.post(f"/jobs/{job['id']}/photos/{started['photo_id']}/confirm")

    assert refused.status_code == 409
    assert refused.data["error"]["code"] == "upload_missing"
    assert "PhotoAdded" not in _events(owner, job)


def test_a_photo_over_the_size_limit_is_422_and_deleted(bucket, owner, site, monkeypatch):
    s3, bucket_name = bucket
    job, _, sam = site
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 1024)
    upload = _upload(sam, job)

    refused = sam.post(f"/jobs/{job['id']}/photos/{upload['photo_id']}/confirm")

    assert refused.status_code == 422
    assert refused.data["error"]["code"] == "photo_too_large"
    listed = s3.list_objects_v2(Bucket=bucket_name, Prefix=f"tenants/{owner.tenant_id}/")
    assert listed.get("KeyCount", 0) == 0
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
