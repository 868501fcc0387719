"""OpenAPI 3.1 generated from the same route declarations and pydantic models that run.

Written for generated clients: a request field with a default is optional and says its default
in words (a `default` keyword makes some generators, openapi-typescript among them, declare
the field required); every response field is required (the server always writes it, null
included); error codes are an enum; headers the server sends or reads are declared.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from chalicelib.api import cors
from chalicelib.api.http import JSON, MAX_IDEMPOTENCY_KEY, RETRY_AFTER_SECONDS, Route
from chalicelib.api.routing import declared_routes, stage_modules
from chalicelib.api.schemas import ErrorOut
from chalicelib.config import get_settings

ERRORS = {
    "400": "Malformed request (`malformed_json`, `invalid_cursor`, a bad header, ...)",
    "401": "Missing or invalid token",
    "403": "Role not allowed",
    "404": "Not found (or another tenant's)",
    "409": "Conflict: stale version, illegal transition, busy (see the code)",
    "413": "Body larger than 256 KiB",
    "415": "Content-Type not accepted",
    "422": "Semantically invalid (see the code and `details`)",
    "429": "Too many requests: wait `Retry-After` seconds",
    "503": "An upstream is unavailable and nothing was changed: retry after `Retry-After`",
}
REF = "#/components/schemas/{model}"
HTML = "text/html"
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "description": 'The object\'s ETag (`"3"`, or `W/"3"`) or bare version (`3`): the change '
    "is refused with 409 `version_conflict` if the object changed since. `*` checks nothing.",
    "schema": {"type": "string", "pattern": r'^(\*|(W/)?"?[0-9]{1,15}"?)$'},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "A key of the client's choosing: a retry with the same key and body "
    "returns the first response (with `Idempotent-Replayed: true`) and takes effect once. "
    "Kept 24 hours; the same key with another body is 422 `idempotency_key_reused`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}
HEADERS = {
    "ETag": {
        "description": 'The object\'s version as an entity tag (`"3"`): send it as If-Match',
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the "
        "same Idempotency-Key (nothing was done again)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Location": {"description": "Where to follow up", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0, "examples": [RETRY_AFTER_SECONDS]},
    },
}
CONVENTIONS = f"""Conventions every route follows (docs/API.md has them in full).

- **Auth**: `Authorization: Bearer <JWT>`; customers' links carry their own signed token.
- **Errors**: `{{"error": {{"code", "message", "details"}}}}`; branch on `code` (an enum, each
  value described); 404 for an unknown route, 405 with `Allow` for another method.
- **Versions**: objects carry `version` and answer with `ETag: "<version>"`; send `If-Match`
  to refuse a stale change (409 `version_conflict`).
- **Idempotency**: every POST takes `Idempotency-Key`; a replay answers the first response
  with `Idempotent-Replayed: true`.
- **Lists**: `limit` and `cursor`; `next_cursor` is null on the last page. Cursors are opaque
  and open only the list (and filters) that made them: anything else is 400 `invalid_cursor`.
- **Time**: every date-time a response carries is RFC 3339 in UTC (`Z`); requests may give
  any offset but must give one. Dates (`YYYY-MM-DD`) are in the tenant's time zone.
- **Money**: integer minor units (`*_cents`) beside an ISO 4217 `currency`.
- **PATCH** is a JSON Merge Patch: an absent field is unchanged, `null` clears it where the
  schema allows null; a null anywhere else is 422 naming the field.
- **Rate limits**: over the stage's rate, 429 with `Retry-After`; a 503 says `Retry-After` too.
- **CORS**: browser origins allowed per stage; preflights take
  {", ".join(cors.ALLOW_HEADERS)}; {", ".join(cors.EXPOSE_HEADERS)} are readable.
"""


class ClientSchema(GenerateJsonSchema):
    """No `default` keyword: in a request a non-null default is said in the description; in a
    response every field is required (the server always writes it)."""

    def default_schema(self, schema):
        json_schema = super().default_schema(schema)
        default = json_schema.pop("default", None)
        if self.mode == "validation" and default not in (None, [], {}):
            json_schema[DEFAULT_NOTE] = default
        return json_schema

    def field_is_required(self, field, total: bool) -> bool:
        return True if self.mode == "serialization" else super().field_is_required(field, total)


DEFAULT_NOTE = "x-fieldline-default"  # moved into the description once the schema is built


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    routes = declared_routes(stage_modules(local=get_settings().is_local))
    refs, definitions = models_json_schema(
        _models(routes), ref_template=REF, schema_generator=ClientSchema
    )
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return _say_defaults(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Fieldline API",
                "version": get_settings().version,
                "description": CONVENTIONS,
            },
            "servers": [{"url": get_settings().public_base_url}],
            "paths": paths,
            "components": {
                "schemas": definitions.get("$defs", {}),
                "headers": HEADERS,
                "responses": {status: _error(status) for status in ERRORS},
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }
    )


Refs = dict[tuple[type[BaseModel], str], dict[str, str]]


def _models(routes: list[Route]) -> list[tuple[type[BaseModel], str]]:
    """Bodies as they are validated; responses as they are serialized (an `id` that a model
    reads from `customer_id` is written as `id`)."""
    found = {(ErrorOut, "serialization")}
    for route in routes:
        if route.body is not None:
            found.add((route.body, "validation"))
        if route.response is not None:
            found.add((route.response, "serialization"))
        if route.accepted is not None:
            found.add((route.accepted, "serialization"))
    return sorted(found, key=lambda pair: (pair[0].__name__, pair[1]))


def _operation(route: Route, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": _raw_responses(route) if route.raw else _responses(route, refs),
    }
    if route.roles is None:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}]
        op["description"] = "Roles: " + ", ".join(route.roles)
    if route.body is not None:
        body = refs[(route.body, "validation")]
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    elif JSON not in route.content_types and not route.raw:  # a text body (a CSV file)
        text = {"schema": {"type": "string"}}
        op["requestBody"] = {"required": True, "content": dict.fromkeys(route.content_types, text)}
    elif route.raw and route.method == "POST":
        op["requestBody"] = {"content": {ct: {"schema": {}} for ct in route.content_types}}
    return op


def _parameters(route: Route) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        schema = route.query.model_json_schema(by_alias=True)
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": _query_schema(prop),
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    if route.if_match:
        params.append(IF_MATCH)
    if route.takes_idempotency_key:
        params.append(IDEMPOTENCY_KEY)
    return params


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string: never null."""
    schema = {k: v for k, v in prop.items() if k not in ("title", "description", "anyOf")}
    if schema.get("default", 0) is None:
        del schema["default"]
    branches = [branch for branch in prop.get("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        return {**branches[0], **schema}
    return {**schema, "anyOf": branches} if branches else schema


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    content = {JSON: {"schema": refs[(route.response, "serialization")]}} if route.response else {}
    if route.response is None and route.path == "/openapi.json":
        content = {JSON: {"schema": {"type": "object"}}}
    ok: dict[str, Any] = {"description": "Success", **({"content": content} if content else {})}
    headers = {}
    if route.location:
        headers["Location"] = {"$ref": "#/components/headers/Location"}
    if route.response is not None and "version" in route.response.model_fields:
        headers["ETag"] = {"$ref": "#/components/headers/ETag"}
    if route.takes_idempotency_key:
        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
    if headers:
        ok["headers"] = headers
    accepted = {}
    if route.accepted is not None:
        schema = refs[(route.accepted, "serialization")]
        accepted["202"] = {
            "description": "Accepted: the work goes on in the background",
            "content": {JSON: {"schema": schema}},
        }
    return {
        str(route.status): ok,
        **accepted,
        **{code: {"$ref": f"#/components/responses/{code}"} for code in _error_codes(route)},
    }


def _error_codes(route: Route) -> list[str]:
    """Every error status the route can answer (a client, and the fuzzer, may rely on it)."""
    if route.roles is not None:
        return list(ERRORS)
    codes = {"400", "413", "415", "422", "429"}
    if route.tag != "meta":  # everything public but health and this document reads the table
        codes |= {"409", "503"}
    if re.search(r"{\w+}", route.path):
        codes.add("404")  # an unknown, expired or altered link
    return sorted(codes)


# What each kind of raw route (it writes its own response) answers: status -> (description,
# media types, comma-separated; "" for no body). A customer page is HTML even when it fails;
# a form post answers 303 back to its page; Twilio gets TwiML; a static file may be 304.
PAGE = {
    "200": ("The page", HTML),
    "404": ("An unknown, altered or expired link: a page saying so", HTML),
    "409": ("A quote a newer one replaced: a page saying so", HTML),
    "503": ("A page asking to try again in a minute", HTML),
}
FORM_POST = {
    "303": ("Done (or refused, said on the page): back to the page", ""),
    "404": ("An unknown, altered or expired link: a page saying so", HTML),
    "503": ("A page asking to try again in a minute", HTML),
}
RAW_ANSWERS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("GET", "/p/static/"): {
        "200": ("The file", "text/css, text/javascript"),
        "304": ("Not modified (If-None-Match)", ""),
        "404": ("No such file", HTML),
    },
    ("GET", "/p/"): PAGE,
    ("POST", "/p/"): FORM_POST,
    ("GET", "/docs"): {"200": ("This reference, rendered", HTML)},
    ("GET", "/pricebook/export"): {
        "200": ("The price book, one item a row (the import's columns)", "text/csv"),
        "401": ("", JSON),
        "403": ("", JSON),
        "503": ("", JSON),
    },
    ("GET", "/exports/tenant"): {
        "200": ("Every record of the business, one JSON object a line", "application/x-ndjson"),
        "401": ("", JSON),
        "403": ("", JSON),
        "422": ("", JSON),
        "503": ("", JSON),
    },
    ("POST", "/webhooks/stripe"): {
        "200": ("Applied, or already applied", JSON),
        "400": ("A forged, stale or malformed event", JSON),
        "503": ("Not applied: Stripe delivers it again", JSON),
    },
    ("POST", "/webhooks/twilio/sms"): {
        "200": ("The reply, as TwiML", "text/xml"),
        "400": ("Not a form Twilio sends", JSON),
        "403": ("The Twilio signature does not match", JSON),
    },
    ("POST", "/webhooks/twilio/status"): {
        "204": ("Recorded", ""),
        "400": ("Not a form Twilio sends", JSON),
        "403": ("The Twilio signature does not match", JSON),
    },
}


def raw_answers(route: Route) -> dict[str, tuple[str, str]]:
    """The answers of a raw route: the entry of the longest path prefix it starts with."""
    found = [
        (len(prefix), answers)
        for (method, prefix), answers in RAW_ANSWERS.items()
        if method == route.method and route.path.startswith(prefix)
    ]
    if not found:
        raise LookupError(f"{route.method} {route.path}: a raw route openapi.RAW_ANSWERS lacks")
    return max(found, key=lambda entry: entry[0])[1]


def _raw_responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, media_type) in raw_answers(route).items():
        if media_type == JSON and status in ERRORS:
            responses[status] = {"$ref": f"#/components/responses/{status}"}
            continue
        answer: dict[str, Any] = {"description": description}
        if media_type:
            schema = {"type": "object"} if media_type == JSON else {"type": "string"}
            answer["content"] = {kind: {"schema": schema} for kind in media_type.split(", ")}
        if status == "303":
            answer["headers"] = {"Location": {"$ref": "#/components/headers/Location"}}
        responses[status] = answer
    # Refused before the route runs, in the API's error body: too large, not its type, too many.
    for status in ("413", "415", "429"):
        responses.setdefault(status, {"$ref": f"#/components/responses/{status}"})
    return responses


def _error(status: str) -> dict[str, Any]:
    error: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {JSON: {"schema": {"$ref": REF.format(model="ErrorOut")}}},
    }
    if status in ("429", "503"):
        error["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
    return error


def _say_defaults(node: Any) -> Any:
    """A request field's default, taken out of the `default` keyword, said in its description."""
    if isinstance(node, dict):
        if DEFAULT_NOTE in node:
            said = f"Default: `{node.pop(DEFAULT_NOTE)}`."
            node["description"] = f"{node['description']} {said}" if "description" in node else said
        for value in node.values():
            _say_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _say_defaults(value)
    return node
