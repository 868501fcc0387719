"""Twilio calls these: inbound texts and delivery status. Each verifies X-Twilio-Signature."""

from __future__ import annotations

from urllib.parse import parse_qsl

from chalice import Response

from chalicelib.api.http import Api, error_response
from chalicelib.config import get_settings
from chalicelib.domain.errors import BadRequest, Forbidden
from chalicelib.domain.phones import to_e164
from chalicelib.services import conversations, delivery

api = Api(__name__, "webhooks")
FORM = "application/x-www-form-urlencoded"


def verified_form(request, path: str) -> dict[str, str]:
    """The form Twilio posted, once its signature over our public URL + params checks out."""
    from twilio.request_validator import RequestValidator  # lazy: only these routes pay for it

    try:
        params = dict(parse_qsl((request.raw_body or b"").decode(), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not a form") from exc
    signature = (request.headers or {}).get("x-twilio-signature", "")
    url = get_settings().public_base_url.rstrip("/") + path
    if request.query_params:
        url += "?" + "&".join(f"{k}={v}" for k, v in request.query_params.items())
    if not signature or not RequestValidator(get_settings().twilio_auth_token).validate(
        url, params, signature
    ):
        raise Forbidden("the Twilio signature does not match", code="invalid_signature")
    return params


def twiml(reply: str | None) -> Response:
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(body=str(response), status_code=200, headers={"Content-Type": "text/xml"})


def _field(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        raise BadRequest(f"'{name}' is missing")
    return params[name]


@api.route("/webhooks/twilio/sms", "POST", roles=None, content_types=[FORM], raw=True)
def inbound_sms(request):
    """An inbound text (Twilio messaging webhook); replies with TwiML."""
    try:
        params = verified_form(request, "/webhooks/twilio/sms")
        to, from_ = to_e164(_field(params, "To")), to_e164(_field(params, "From"))
        reply = conversations.receive(
            to, from_, params.get("Body", ""), _field(params, "MessageSid")
        )
    except (BadRequest, Forbidden) as error:
        return error_response(error)
    return twiml(reply)


@api.route("/webhooks/twilio/status", "POST", roles=None, content_types=[FORM], raw=True)
def message_status(request):
    """A delivery status callback for a text we sent."""
    try:
        params = verified_form(request, "/webhooks/twilio/status")
        delivery.update_status(
            _field(params, "MessageSid"),
            _field(params, "MessageStatus"),
            params.get("ErrorCode") or None,
        )
    except (BadRequest, Forbidden) as error:
        return error_response(error)
    return Response(body="", status_code=204)
