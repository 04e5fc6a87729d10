"""Checking each provider's credentials the way the real API would, and issuing OAuth2 tokens.

Every comparison is constant-time and no credential is ever echoed back, logged or counted: a
refusal says what was wrong (missing, malformed, unknown, expired), never with what value.
"""

import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from payments_assets.sandbox import credentials as cred
from payments_assets.sandbox.errors import ApiError


class TokenIssuer:
    """Gateway access tokens: unique per issue, valid for `ttl` seconds or until revoked."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._expiry: dict[str, float] = {}
        self._account: dict[str, int] = {}

    def issue(self, account: int = 1) -> str:
        token = f"gw_at_{uuid.uuid4().hex}"
        self._expiry[token] = time.monotonic() + self.ttl
        self._account[token] = account
        return token

    def is_valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        return expiry is not None and time.monotonic() < expiry

    def account_of(self, token: str) -> int:
        return self._account.get(token, 1)

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


def _matching_account(accounts: int, matches: Callable[[int], bool]) -> int | None:
    return next((n for n in range(1, accounts + 1) if matches(n)), None)


def client_credentials(headers: Mapping[str, str], body: bytes, accounts: int = 1) -> int:
    """Validate an OAuth2 client-credentials request; return the account it authenticates.

    The client may authenticate in the form (`client_id`, `client_secret`) or with HTTP basic.
    """
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    pair = _basic(headers) or (form.get("client_id"), form.get("client_secret"))
    account = _matching_account(
        accounts,
        lambda n: (
            _same(pair[0], cred.for_account(cred.GATEWAY_CLIENT_ID, n))
            and _same(pair[1], cred.for_account(cred.GATEWAY_CLIENT_SECRET, n))
        ),
    )
    if account is None:
        raise ApiError(401, "invalid_client", "unknown client_id or wrong client_secret")
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "grant_type must be client_credentials")
    return account


def check_request(
    provider: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    tokens: TokenIssuer,
    accounts: int = 1,
) -> int:
    """Return the account whose credentials the request carries; else raise a 401 `ApiError`.

    A request that names an account (`X-Account` header) other than its credentials' gets a
    403: one account's credentials must never read another account's data.
    """
    account = _authenticate(provider, headers, query, tokens, accounts)
    claimed = headers.get(cred.ACCOUNT_HEADER.lower())
    if claimed is not None and claimed != cred.account_id(account):
        raise ApiError(403, "account_mismatch", "the credentials belong to another account")
    return account


def _authenticate(
    provider: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    tokens: TokenIssuer,
    accounts: int,
) -> int:
    if provider == "gateway":
        token = _bearer(headers)
        if token is None or not tokens.is_valid(token):
            raise ApiError(
                401,
                "invalid_token",
                "the access token is missing, unknown or expired; request a new one",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return tokens.account_of(token)
    if provider == "billing":
        key = query.get("api_key")
        if not key:
            raise ApiError(401, "authentication_error", "no API key provided (?api_key=)")
        found = _matching_account(
            accounts, lambda n: _same(key, cred.for_account(cred.BILLING_API_KEY, n))
        )
        if found is None:
            raise ApiError(401, "authentication_error", "invalid API key provided")
        return found
    if provider == "direct_debit":
        token = _bearer(headers)
        found = _matching_account(
            accounts, lambda n: _same(token, cred.for_account(cred.DIRECT_DEBIT_ACCESS_TOKEN, n))
        )
        if found is None:
            raise ApiError(401, "invalid_api_usage", "missing or invalid access token")
        return found
    if provider == "ledger":
        return _ledger_key(headers, accounts)
    user, password = _basic(headers) or (None, None)
    found = _matching_account(
        accounts,
        lambda n: (
            _same(user, cred.for_account(cred.COMMERCE_USERNAME, n))
            and _same(password, cred.for_account(cred.COMMERCE_PASSWORD, n))
        ),
    )
    if found is None:
        raise ApiError(
            401,
            "unauthorized",
            "HTTP basic credentials missing or wrong",
            {"WWW-Authenticate": 'Basic realm="commerce"'},
        )
    return found


def _ledger_key(headers: Mapping[str, str], accounts: int) -> int:
    """Stripe's secret key as a bearer token; Stripe words both refusals this way."""
    key = _bearer(headers)
    if key is None:
        raise ApiError(
            401,
            "authentication_error",
            "You did not provide an API key (Authorization: Bearer sk_test_...)",
        )
    found = _matching_account(
        accounts, lambda n: _same(key, cred.for_account(cred.LEDGER_SECRET_KEY, n))
    )
    if found is None:
        raise ApiError(401, "authentication_error", "Invalid API Key provided")
    return found
