"""S3 for job photos: presigned uploads, what actually landed, and removing what must not stay.

The client is boto3's, built once per process on first use (`integrations.aws.client`), so a
route that never touches photos does not pay for it. Locally it points at moto's S3.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import Unavailable
from chalicelib.integrations.aws import client

MISSING = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str | None


def presigned_put(bucket: str, key: str, content_type: str, expires_in: int) -> str:
    """A URL the phone PUTs the file to; the signature binds the Content-Type header.

    A presigned PUT cannot limit the size: the size is checked when the upload is confirmed.
    """
    return _s3().generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=expires_in,
        HttpMethod="PUT",
    )


def presigned_get(bucket: str, key: str, expires_in: int) -> str:
    return _s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


def head(bucket: str, key: str) -> StoredObject | None:
    """The object's size and type, or None if nothing was uploaded there."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return None
        raise _unavailable(exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc
    return StoredObject(size=int(found["ContentLength"]), content_type=found.get("ContentType"))


def delete(bucket: str, key: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _s3().delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc


def _s3():
    return client("s3")


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"photo storage is unavailable ({type(exc).__name__}); retry shortly")
