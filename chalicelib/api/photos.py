"""Job photos: presigned uploads to S3, recorded on the job once the upload is there."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from chalicelib.api.enums import PhotoStatus
from chalicelib.api.http import Api, caller
from chalicelib.api.schemas import Out, PageOut, Strict
from chalicelib.domain.callers import ANYONE
from chalicelib.services import photos

api = Api(__name__, "photos")

ContentType = Literal[tuple(photos.CONTENT_TYPES)]  # type: ignore[valid-type]


class PhotoIn(Strict):
    filename: str = Field(min_length=1, max_length=255)
    content_type: ContentType


class PhotoUploadOut(Out):
    """POST a multipart form to `upload_url`: every one of `fields`, then the file as `file`."""

    photo_id: str
    upload_url: str
    upload_method: Literal["POST"]
    upload_headers: dict[str, str]
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int  # S3 refuses a larger file (400 EntityTooLarge)


class PhotoOut(Out):
    id: str = Field(validation_alias="photo_id")
    job_id: str
    filename: str
    content_type: ContentType
    status: PhotoStatus
    size_bytes: int | None
    uploaded_by: str
    created_at: datetime
    recorded_at: datetime | None
    download_url: str | None = None
    version: int


class PhotoPage(PageOut[PhotoOut]):
    pass


@api.route(
    "/jobs/{job_id}/photos", "POST", roles=ANYONE, body=PhotoIn, response=PhotoUploadOut, status=201
)
def start_photo_upload(job_id: str, body: PhotoIn):
    """A presigned S3 POST form for one photo (S3 enforces size and type); then confirm it."""
    return photos.start_upload(caller(), job_id, body.filename, body.content_type)


@api.route("/jobs/{job_id}/photos/{photo_id}/confirm", "POST", roles=ANYONE, response=PhotoOut)
def confirm_photo(job_id: str, photo_id: str):
    """Record the uploaded photo on the job: 409 if not uploaded yet, 422 if too large."""
    return photos.confirm(caller(), job_id, photo_id)


@api.route("/jobs/{job_id}/photos", "GET", roles=ANYONE, response=PhotoPage)
def list_photos(job_id: str):
    """The job's photos, each with a short-lived download URL."""
    return photos.list_photos(caller(), job_id)
