"""Job photos: a presigned upload straight to S3, recorded on the job once the file is there.

The phone uploads the file itself (the API never carries image bytes): `start_upload` writes a
pending photo and hands out a presigned POST whose signed policy makes S3 refuse a file over
`MAX_PHOTO_BYTES`, another content type or another key. The upload lands under the bucket's
`pending/` prefix; `confirm` checks what landed (HeadObject: nothing there is 409, too large
or of another type is 422 and deleted), copies it to the photo's own key and records it on
the job with its `PhotoAdded` event. Whatever is never confirmed is removed: the pending photo
by the table's ttl, its upload by the bucket's lifecycle rule, both after a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import jobs as job_rules
from chalicelib.domain.callers import Caller
from chalicelib.domain.errors import Conflict, Invalid, NotFound, Unavailable
from chalicelib.domain.ids import new_id
from chalicelib.domain.timeline import event
from chalicelib.integrations import s3
from chalicelib.logs import logger
from chalicelib.services import jobs
from chalicelib.services.common import retrying
from chalicelib.store import keys
from chalicelib.store.db import Transaction
from chalicelib.store.jobs import JobCollection
from chalicelib.store.records import record

# What phones produce; the file extension names the type for anyone reading the bucket.
CONTENT_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "image/webp": "webp",
}
MAX_PHOTO_BYTES = 20 * 1024 * 1024
UPLOAD_URL_SECONDS = 15 * 60
DOWNLOAD_URL_SECONDS = 60 * 60
# A pending photo nobody confirms leaves the table a day later (ttl), as its upload leaves the
# bucket (the lifecycle rule on the upload prefix: a day, counted to the next midnight UTC).
PENDING_TTL = timedelta(days=1)
ATTEMPTS = 3


class Photo(BaseModel):
    photo_id: str
    job_id: str
    filename: str
    content_type: str
    object_key: str  # where the photo is kept once confirmed
    # Where the phone uploads it (under s3.UPLOAD_PREFIX); None for photos uploaded straight
    # to object_key before uploads had a prefix of their own.
    upload_key: str | None = None
    status: Literal["pending", "uploaded"] = "pending"
    size_bytes: int | None = None
    uploaded_by: str
    created_at: datetime
    recorded_at: datetime | None = None
    version: int | None = None


def start_upload(caller: Caller, job_id: str, filename: str, content_type: str) -> dict[str, Any]:
    """A pending photo and the presigned POST to upload it with (staff, or a technician on it)."""
    jobs.load(caller, job_id)  # 404 unless the caller may see the job
    extension = CONTENT_TYPES.get(content_type)
    if extension is None:
        raise Invalid(
            f"content_type must be one of {', '.join(CONTENT_TYPES)}",
            details=[{"field": "content_type", "allowed": list(CONTENT_TYPES)}],
        )
    photo_id = new_id()
    moment = clock.now()
    object_key = keys.photo_object(caller.tenant_id, job_id, photo_id, extension)
    photo = Photo(
        photo_id=photo_id,
        job_id=job_id,
        filename=filename,
        content_type=content_type,
        object_key=object_key,
        upload_key=s3.UPLOAD_PREFIX + object_key,
        uploaded_by=caller.user_id,
        created_at=moment,
    )
    tx = Transaction()
    tx.put(_item(caller.tenant_id, photo, pending=True), label="photo", entity=photo)
    tx.commit()
    upload = s3.presigned_post(
        get_settings().photo_bucket,
        photo.upload_key,
        content_type,
        MAX_PHOTO_BYTES,
        UPLOAD_URL_SECONDS,
    )
    return {
        "photo_id": photo_id,
        "upload_url": upload.url,
        "upload_method": "POST",
        # A multipart form: its own Content-Type header (with the boundary), no other.
        "upload_headers": {},
        "fields": upload.fields,
        "expires_at": moment + timedelta(seconds=UPLOAD_URL_SECONDS),
        "max_bytes": MAX_PHOTO_BYTES,
    }


def confirm(caller: Caller, job_id: str, photo_id: str) -> dict[str, Any]:
    """Record the uploaded photo on the job (once): 409 if nothing was uploaded yet."""
    bucket = get_settings().photo_bucket

    def attempt() -> dict[str, Any]:
        collection = jobs.load(caller, job_id)
        photo = _photo_in(collection, photo_id)
        if photo.status == "uploaded":
            return view(photo)  # confirming twice is harmless
        uploaded_to = photo.upload_key or photo.object_key
        stored = s3.head(bucket, uploaded_to)
        if stored is None:
            raise Conflict(
                "the photo has not been uploaded yet: POST it to its upload_url first",
                details=[{"photo_id": photo_id}],
                code="upload_missing",
            )
        _refuse_unless_acceptable(bucket, photo, stored, uploaded_to)
        if uploaded_to != photo.object_key:
            # Kept before it is recorded: a recorded photo always has its object.
            s3.copy(bucket, uploaded_to, photo.object_key)
        job = collection.header()
        photo.status, photo.size_bytes, photo.recorded_at = "uploaded", stored.size, clock.now()
        job_rules.touch(job)
        added = event(
            job_id,
            "PhotoAdded",
            caller.user_id,
            photo_id=photo_id,
            filename=photo.filename,
            content_type=photo.content_type,
            size_bytes=stored.size,
        )
        tx = Transaction()
        tx.put(_item(caller.tenant_id, photo, pending=False), label="photo", entity=photo)
        jobs.save(tx, caller, job, added)
        tx.commit()
        _remove_upload(bucket, uploaded_to, photo)
        return view(photo)

    return retrying(attempt, ATTEMPTS, reraise=True)


def list_photos(caller: Caller, job_id: str) -> dict[str, Any]:
    """The job's recorded photos, oldest first, each with a short-lived download URL."""
    collection = jobs.load(caller, job_id)
    photos = sorted(
        (p for p in collection.children("photo", Photo) if p.status == "uploaded"),
        key=lambda p: p.photo_id,
    )
    return {"items": [view(p) for p in photos], "next_cursor": None}


def require_uploaded(caller: Caller, job_id: str, photo_id: str) -> None:
    """A checklist item may point only at a photo recorded on the same job (422 otherwise)."""
    try:
        photo = _photo_in(jobs.load(caller, job_id), photo_id)
    except NotFound:
        photo = None
    if photo is None or photo.status != "uploaded":
        raise Invalid(
            f"photo {photo_id} is not a confirmed photo of this job",
            details=[{"field": "photo_id", "message": "confirm the photo's upload first"}],
        )


def view(photo: Photo) -> dict[str, Any]:
    shown = photo.model_dump(exclude={"object_key", "upload_key"})
    if photo.status == "uploaded":
        shown["download_url"] = s3.presigned_get(
            get_settings().photo_bucket, photo.object_key, DOWNLOAD_URL_SECONDS
        )
    return shown


def _remove_upload(bucket: str, uploaded_to: str, photo: Photo) -> None:
    """The upload is copied and recorded; left behind, the lifecycle rule removes it anyway."""
    if uploaded_to == photo.object_key:
        return
    try:
        s3.delete(bucket, uploaded_to)
    except Unavailable:
        logger.warning("confirmed upload left for the lifecycle rule", extra={"key": uploaded_to})


def _refuse_unless_acceptable(
    bucket: str, photo: Photo, stored: s3.StoredObject, uploaded_to: str
) -> None:
    problem = None
    if stored.size > MAX_PHOTO_BYTES:
        problem = (
            f"the photo is {stored.size} bytes; at most {MAX_PHOTO_BYTES} are accepted",
            "photo_too_large",
        )
    elif stored.content_type and stored.content_type != photo.content_type:
        problem = (f"the upload is {stored.content_type}, not {photo.content_type}", "wrong_type")
    if problem is None:
        return
    # What must not stay is removed; the same upload form can take a smaller file meanwhile.
    s3.delete(bucket, uploaded_to)
    message, code = problem
    raise Invalid(message, details=[{"photo_id": photo.photo_id}], code=code)


def _photo_in(collection: JobCollection, photo_id: str) -> Photo:
    for photo in collection.children("photo", Photo):
        if photo.photo_id == photo_id:
            return photo
    raise NotFound("photo not found")


def _item(tenant_id: str, photo: Photo, pending: bool):
    expires = int((clock.now() + PENDING_TTL).timestamp()) if pending else None
    return record(
        keys.photo(tenant_id, photo.job_id, photo.photo_id), "photo", tenant_id, photo, ttl=expires
    )
