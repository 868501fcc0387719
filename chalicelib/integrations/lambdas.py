"""Invoking one of the app's own functions asynchronously (work too long for a request).

With `InvocationType=Event` Lambda queues the event and answers 202 at once; the function runs
in its own invocation, with its own timeout. An event is at most 1 MB, may be delivered more
than once, and is retried after a function error unless the function's event invoke config
says otherwise (the stack sets it): the handler must tolerate a second delivery.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.errors import Unavailable
from chalicelib.integrations.aws import client


def invoke_async(function_name: str | None, payload: dict[str, Any]) -> None:
    """Queue one invocation of `function_name` with `payload`; 503 if Lambda did not take it."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not function_name:
        raise Unavailable("the function for this work is not configured", code="no_function")
    try:
        response = client("lambda").invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload, separators=(",", ":")).encode(),
        )
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(
            f"the work could not be started ({type(exc).__name__}); retry shortly",
            code="function_unavailable",
        ) from exc
    if response.get("StatusCode") != 202:
        raise Unavailable(
            "the work could not be started; retry shortly", code="function_unavailable"
        )
