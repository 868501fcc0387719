"""The one error hierarchy. Each error knows its HTTP status; the API maps it in one place."""

from __future__ import annotations

from typing import Any


class FieldlineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[Any] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code


class BadRequest(FieldlineError):
    status, code = 400, "bad_request"


class Unauthorized(FieldlineError):
    status, code = 401, "unauthorized"


class Forbidden(FieldlineError):
    status, code = 403, "forbidden"


class NotFound(FieldlineError):
    status, code = 404, "not_found"


class Conflict(FieldlineError):
    status, code = 409, "conflict"


class PayloadTooLarge(FieldlineError):
    status, code = 413, "payload_too_large"


class Invalid(FieldlineError):
    """Well-formed but semantically invalid (422)."""

    status, code = 422, "validation_error"


class TooManyRequests(FieldlineError):
    """Over a limit (429); `retry_after` seconds until it lets the caller in again."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int, code: str | None = None):
        super().__init__(message, details=[{"retry_after_seconds": retry_after}], code=code)
        self.retry_after = retry_after


class Unavailable(FieldlineError):
    """An upstream (DynamoDB, Stripe, Twilio) is unavailable; safe to retry."""

    status, code = 503, "upstream_unavailable"
