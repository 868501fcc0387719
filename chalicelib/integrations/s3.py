"""S3 for job photos: presigned uploads, what actually landed, and removing what must not stay.

The client is boto3's, built once per process on first use (`integrations.aws.client`), so a
route that never touches photos does not pay for it. Locally it points at moto's S3.

Presigned requests are signed with Signature Version 4 by a client of their own: botocore
presigns S3 requests with the legacy Version 2 in us-east-1 unless told otherwise, and S3
refuses Version 2 on buckets created since June 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from chalicelib.domain.errors import Unavailable
from chalicelib.integrations.aws import client

MISSING = ("404", "NoSuchKey", "NotFound")
# Uploads land under this prefix and are copied to their own key once confirmed; the bucket's
# lifecycle rule (infra/parts/data.py) expires whatever stays here, unconfirmed.
UPLOAD_PREFIX = "pending/"


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str | None


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]  # the form's fields, sent before the file (S3 ignores any after it)


def presigned_post(
    bucket: str, key: str, content_type: str, max_bytes: int, expires_in: int
) -> PresignedPost:
    """A form upload of one file to `key`, whose signed policy S3 itself enforces: a file
    larger than `max_bytes` is refused (400 EntityTooLarge), as is an empty one, another
    Content-Type or another key (403 AccessDenied), or a form sent after `expires_in` seconds.
    """
    answer = _presigner().generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )
    return PresignedPost(url=answer["url"], fields=answer["fields"])


def presigned_get(bucket: str, key: str, expires_in: int) -> str:
    return _presigner().generate_presigned_url(
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


def copy(bucket: str, source: str, destination: str) -> None:
    """Copy an object within the bucket (one CopyObject: photos are far below its 5 GB)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _s3().copy_object(
            Bucket=bucket, Key=destination, CopySource={"Bucket": bucket, "Key": source}
        )
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc


def delete(bucket: str, key: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _s3().delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise _unavailable(exc) from exc


def _s3():
    return client("s3")


@cache
def _presigner():
    """Signs URLs and forms offline (no call is made), with Signature Version 4."""
    import boto3
    from botocore.config import Config

    from chalicelib.config import get_settings

    settings = get_settings()
    return boto3.client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(signature_version="s3v4"),
    )


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"photo storage is unavailable ({type(exc).__name__}); retry shortly")
