"""Twilio's webhook signature, computed the way Twilio documents it (not with its SDK):
base64(HMAC-SHA1(auth token, URL + each POST param name and value, sorted by name))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from chalicelib.config import get_settings

FORM = "application/x-www-form-urlencoded"


def signature(url: str, params: dict[str, str], token: str) -> str:
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def post_signed(client, path: str, params: dict[str, str], forged: bool = False):
    settings = get_settings()
    url = settings.public_base_url + path
    token = "not-the-token" if forged else settings.twilio_auth_token
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature(url, params, token)}
    return client.http.post(path, headers=headers, body=urlencode(params))


def inbound(client, to: str, from_: str, body: str, sid: str, forged: bool = False):
    params = {"To": to, "From": from_, "Body": body, "MessageSid": sid, "AccountSid": "AC1"}
    return post_signed(client, "/webhooks/twilio/sms", params, forged)


def status(client, sid: str, status: str, error_code: str | None = None):
    params = {"MessageSid": sid, "MessageStatus": status}
    if error_code:
        params["ErrorCode"] = error_code
    return post_signed(client, "/webhooks/twilio/status", params)
