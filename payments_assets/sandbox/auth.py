"""Checking each provider's credentials the way the real API would, and issuing OAuth2 tokens.

Every comparison is constant-time and no credential is ever echoed back, logged or counted: a
refusal says what was wrong (missing, malformed, unknown, expired), never with what value.
"""

import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs

from payments_assets.sandbox import credentials as cred
from payments_assets.sandbox.errors import ApiError


class TokenIssuer:
    """Gateway access tokens: unique per issue, valid for `ttl` seconds or until revoked."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = f"gw_at_{uuid.uuid4().hex}"
        self._expiry[token] = time.monotonic() + self.ttl
        return token

    def is_valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and time.monotonic() < expiry

    def expire_all(self) -> None:
        """Make every token issued so far invalid, as a provider-side revocation would."""
        self._expiry.clear()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _basic(headers: Mapping[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def client_credentials(headers: Mapping[str, str], body: bytes) -> str:
    """Validate an OAuth2 client-credentials request; return the grant type asked for.

    The client may authenticate in the form (`client_id`, `client_secret`) or with HTTP basic.
    """
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    pair = _basic(headers) or (form.get("client_id"), form.get("client_secret"))
    if not (_same(pair[0], cred.GATEWAY_CLIENT_ID) and _same(pair[1], cred.GATEWAY_CLIENT_SECRET)):
        raise ApiError(401, "invalid_client", "unknown client_id or wrong client_secret")
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "grant_type must be client_credentials")
    return grant


def check_request(
    provider: str, headers: Mapping[str, str], query: Mapping[str, str], tokens: TokenIssuer
) -> None:
    """Raise a 401 `ApiError` unless the request carries `provider`'s credentials."""
    if provider == "gateway":
        token = _bearer(headers)
        if token is None or not tokens.is_valid(token):
            raise ApiError(
                401,
                "invalid_token",
                "the access token is missing, unknown or expired; request a new one",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
    elif provider == "billing":
        key = query.get("api_key")
        if not key:
            raise ApiError(401, "authentication_error", "no API key provided (?api_key=)")
        if not _same(key, cred.BILLING_API_KEY):
            raise ApiError(401, "authentication_error", "invalid API key provided")
    elif provider == "direct_debit":
        if not _same(_bearer(headers), cred.DIRECT_DEBIT_ACCESS_TOKEN):
            raise ApiError(401, "invalid_api_usage", "missing or invalid access token")
    else:
        user, password = _basic(headers) or (None, None)
        if not (_same(user, cred.COMMERCE_USERNAME) and _same(password, cred.COMMERCE_PASSWORD)):
            raise ApiError(
                401,
                "unauthorized",
                "HTTP basic credentials missing or wrong",
                {"WWW-Authenticate": 'Basic realm="commerce"'},
            )
