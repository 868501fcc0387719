"""How every route parses, authorizes, runs and answers. One place, so every route agrees.

A route declares its body, query and response models and the roles allowed; the same
declarations feed `/openapi.json` and the route manifest Chalice registers them from
(`chalicelib/api/routing.py`).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalice import Response
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from chalicelib.domain.callers import ANYONE, Caller
from chalicelib.domain.errors import BadRequest, FieldlineError, Forbidden, Invalid
from chalicelib.logs import logger

current_caller: ContextVar[Caller | None] = ContextVar("current_caller", default=None)
current_request: ContextVar[Any] = ContextVar("current_request", default=None)
JSON = "application/json"


@dataclass
class Route:
    path: str
    method: str
    name: str
    module: str  # the chalicelib.api module that declares it (the manifest loads it from there)
    summary: str
    roles: tuple[str, ...] | None  # None: public (no token)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # The route's other answer, 202: the work was started, not done (the handler returns
    # `Accepted(result)`, shaped by this model), when it is too long for a request.
    accepted: type[BaseModel] | None = None
    tag: str = ""
    content_types: list[str] = field(default_factory=lambda: [JSON])
    raw: bool = False  # the handler reads the request itself (webhooks) and returns a Response
    if_match: bool = False  # the handler takes `if_match` (the If-Match header's version)
    # A Location header, filled from the response body ("/things/{id}"): where to follow up.
    location: str | None = None
    # The kind of customer link in the `{token}` path parameter of a public route: its tenant
    # scopes the route's Idempotency-Key, as a token's tenant scopes a staff route's.
    link: str | None = None
    # A public route whose path names its tenant otherwise (an online booking page's slug):
    # the tenant it names (None: none), which scopes the route's Idempotency-Key.
    tenant_of: Callable[[dict[str, str]], str | None] | None = None

    @property
    def takes_idempotency_key(self) -> bool:
        """Every POST a client makes (webhooks and form posts have their own dedupe); the local
        stage's /dev helpers belong to no tenant and take none."""
        scoped = self.roles is not None or self.link is not None or self.tenant_of is not None
        return self.method == "POST" and not self.raw and scoped


ROUTES: list[Route] = []


@dataclass
class Accepted:
    """A handler's answer when the work goes on in the background: 202 with `result` (the
    route's `accepted` model), instead of the route's usual status and response."""

    result: Any


# Seconds a client waits before trying again after a 503 (the app's) or a 429 (the gateway's).
RETRY_AFTER_SECONDS = 5


def error_response(error: FieldlineError, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    if error.status in (429, 503):
        wait = getattr(error, "retry_after", None) or RETRY_AFTER_SECONDS
        headers = {"Retry-After": str(wait), **(headers or {})}
    return Response(body=body, status_code=error.status, headers=headers or {})


def caller() -> Caller:
    found = current_caller.get()
    if found is None:  # a route declared with roles always runs behind the auth middleware
        raise Forbidden("no caller")
    return found


class Api:
    """The routes of one module, each declaring its models and roles."""

    def __init__(self, import_name: str, tag: str):
        self.module = import_name.rpartition(".")[2]
        self.tag = tag
        self.handlers: dict[tuple[str, str], tuple[Route, Callable]] = {}

    def route(
        self,
        path: str,
        method: str,
        *,
        summary: str = "",
        roles: tuple[str, ...] | None = ANYONE,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        accepted: type[BaseModel] | None = None,
        content_types: list[str] | None = None,
        raw: bool = False,
        location: str | None = None,
        link: str | None = None,
        tenant_of: Callable[[dict[str, str]], str | None] | None = None,
    ) -> Callable:
        def register(handler: Callable) -> Callable:
            spec = Route(
                path=path,
                method=method,
                name=handler.__name__,
                module=self.module,
                summary=summary or (handler.__doc__ or handler.__name__).strip().split("\n")[0],
                roles=roles,
                body=body,
                query=query,
                response=response,
                status=status,
                accepted=accepted,
                tag=self.tag,
                content_types=content_types or [JSON],
                raw=raw,
                if_match="if_match" in inspect.signature(handler).parameters,
                location=location,
                link=link,
                tenant_of=tenant_of,
            )
            ROUTES.append(spec)
            self.handlers[(method, path)] = (spec, handler)
            return handler

        return register

    def handle(self, method: str, path: str, request, path_params: dict[str, str]) -> Response:
        spec, handler = self.handlers[(method, path)]
        token = current_request.set(request)
        try:
            return _run(spec, handler, request, path_params)
        finally:
            current_request.reset(token)


def _run(spec: Route, handler: Callable, request, path_params: dict[str, str]) -> Response:
    started = time.perf_counter()
    try:
        if spec.raw:
            response = handler(request, **path_params)
        else:
            response = _run_declared(spec, handler, request, path_params)
    except FieldlineError as error:
        response = error_response(error)
    except ValidationError as exc:  # a change a body allowed but the entity refuses (a null name)
        response = error_response(_invalid(exc))
    except Exception:
        logger.exception("unhandled error")
        response = error_response(
            FieldlineError("something went wrong on our side", code="internal_error")
        )
        response.status_code = 500
    logger.info(
        "request handled",
        extra={
            "route": f"{spec.method} {spec.path}",
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


def _run_declared(spec: Route, handler: Callable, request, path_params: dict[str, str]):
    if spec.roles is not None:
        caller().require(*spec.roles)
    kwargs: dict[str, Any] = dict(path_params)
    if spec.query:
        kwargs["query"] = validate(spec.query, dict(request.query_params or {}))
    raw_body = None
    if spec.body:
        raw_body = parse_json(request.raw_body)
        kwargs["body"] = validate(spec.body, raw_body)
    elif JSON not in spec.content_types:  # a text body (a CSV file) the handler reads itself
        raw_body = kwargs["text"] = parse_text(request.raw_body)
    if_match = (request.headers or {}).get("if-match")
    if if_match is not None and spec.if_match:  # where no version is checked, it is ignored
        kwargs["if_match"] = parse_if_match(if_match)

    def compute() -> dict:
        result = handler(**kwargs)
        if isinstance(result, Accepted) and spec.accepted is not None:
            body = shape(spec.accepted, result.result)
            return {"status": 202, "body": body, "headers": {}}
        body = shape(spec.response, result)
        return {"status": spec.status, "body": body, "headers": _headers(spec, body)}

    key = idempotency_key() if spec.takes_idempotency_key else None
    scope = _idempotency_scope(spec, path_params) if key else None
    replayed = False
    if scope is None:
        outcome = compute()
    else:
        from chalicelib.services.idempotency import run_once

        route = f"POST {spec.path} {path_params}"
        context = getattr(request, "lambda_context", None)
        outcome, replayed = run_once(scope, route, key, raw_body, compute, context)
    headers = dict(outcome.get("headers") or {})
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body=outcome["body"], status_code=outcome["status"], headers=headers)


def _headers(spec: Route, body: Any) -> dict[str, str]:
    headers = {"Location": spec.location.format(**body)} if spec.location else {}
    if isinstance(body, dict) and isinstance(body.get("version"), int):
        # The object's version as an entity tag: send it back as If-Match to change it.
        headers["ETag"] = f'"{body["version"]}"'
    return headers


def _idempotency_scope(spec: Route, path_params: dict[str, str]) -> str | None:
    """The tenant whose keys this request's key joins: the token's, or the customer link's.
    None (the key is ignored) for a link that is not genuine: the route answers 404 anyway."""
    who = current_caller.get()
    if who is not None:
        return who.tenant_id
    if spec.tenant_of is not None:
        return spec.tenant_of(path_params)
    if spec.link and path_params.get("token"):
        from chalicelib.config import get_settings
        from chalicelib.domain import clock, links

        claims = links.verify(
            path_params["token"], spec.link, get_settings().link_secrets, clock.now()
        )
        return claims.tenant_id if claims is not None else None
    return None


def source_ip() -> str | None:
    """The current request's client address, as API Gateway saw it (a client cannot set it,
    unlike X-Forwarded-For's first entry)."""
    request = current_request.get()
    identity = (getattr(request, "context", None) or {}).get("identity") or {}
    return identity.get("sourceIp")


MAX_IDEMPOTENCY_KEY = 255


def idempotency_key() -> str | None:
    """The current request's Idempotency-Key (also for a service that passes it on, to Stripe)."""
    request = current_request.get()
    key = (request.headers or {}).get("idempotency-key") if request is not None else None
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise BadRequest(f"Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return key


def parse_json(raw: bytes | None) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # [[[[... nested too deep
        raise BadRequest("the request body is not valid JSON", code="malformed_json") from exc


def parse_text(raw: bytes | None) -> str:
    """A text body: UTF-8, without the byte-order mark spreadsheets write before a CSV."""
    try:
        return (raw or b"").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not UTF-8 text") from exc


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _invalid(exc: ValidationError) -> Invalid:
    details = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return Invalid("the request is not valid", details=details)


def parse_if_match(value: str) -> int | None:
    """The version an If-Match names: the ETag as sent (`"3"`, or weak `W/"3"`) or the bare
    number. `*` (any version) checks nothing."""
    value = value.strip()
    if value == "*":
        return None
    try:
        return int(value.removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise BadRequest('If-Match is the ETag ("3") or the version number (3)') from exc


def shape(model: type[BaseModel] | None, result: Any) -> Any:
    if model is None or result is None:
        return result
    if not isinstance(result, model):
        try:
            result = model.model_validate(result, from_attributes=True)
        except ValidationError as exc:  # our bug, not the client's: a 500, not a 422
            raise ResponseShapeError(f"{model.__name__}: {exc}") from exc
    return to_jsonable_python(in_utc(result.model_dump(by_alias=True)))


def in_utc(value: Any) -> Any:
    """Every moment a response carries is written in UTC (API.md: one time rule for every
    route), whatever zone a service computed it in; the object's `timezone` says where."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {key: in_utc(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [in_utc(item) for item in value]
    return value


class ResponseShapeError(Exception):
    """A handler returned something its declared response model refuses."""
