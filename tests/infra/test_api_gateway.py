"""API Gateway answers in the API's words: every path and method reaches the app (which says
404, 405 or answers a preflight), and what the gateway answers itself has the error body."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.errors import CODES
from chalicelib.api.routing import CATCH_ALL, GATEWAY_METHODS
from tests.infra.conftest import require_tooling

pytestmark = pytest.mark.infra


def _definition(synthesized) -> dict:
    (api,) = synthesized.resources("AWS::Serverless::Api").values()
    return api["Properties"]["DefinitionBody"]


def test_every_path_and_method_no_route_declares_reaches_the_app(synthesized):
    paths = _definition(synthesized)["paths"]
    # Any method on any path no resource has (and an undeclared method on one that has it)
    assert set(paths[CATCH_ALL]) >= {m.lower() for m in GATEWAY_METHODS}
    assert set(paths["/"]) >= {m.lower() for m in GATEWAY_METHODS}
    # Each declared path answers its own OPTIONS (preflights), through the app
    for path, methods in paths.items():
        assert "options" in methods, path
        integration = methods["options"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path


def test_what_the_gateway_answers_itself_is_in_the_error_body(synthesized):
    responses = _definition(synthesized)["x-amazon-apigateway-gateway-responses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
        assert responses[kind]["statusCode"] == "429"
        assert responses[kind]["responseParameters"]["gatewayresponse.header.Retry-After"]
    for kind, answer in responses.items():
        template = answer["responseTemplates"]["application/json"]
        body = json.loads(template.replace("$context.error.messageString", '"x"'))
        assert body["error"]["code"] in CODES, kind
        assert body["error"]["details"] == []


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ("https://app.example.com", "'https://app.example.com'"),
        ("http://localhost:*,http://127.0.0.1:*", "'*'"),
        ("", None),
    ],
)
def test_a_browser_on_the_stages_origins_can_read_the_gateways_errors(origins, allowed):
    require_tooling()
    from infra.parts.api import gateway_responses

    throttled = gateway_responses({"FIELDLINE_CORS_ORIGINS": origins})["THROTTLED"]
    headers = throttled["responseParameters"]
    assert headers.get("gatewayresponse.header.Access-Control-Allow-Origin") == allowed
    if allowed:
        exposed = headers["gatewayresponse.header.Access-Control-Expose-Headers"]
        assert "Retry-After" in exposed
