"""Authenticators for the four auth types of the provider dialect, built on dlt's own.

dlt's OAuth2 client refreshes on its own clock only; providers also revoke tokens early, so ours
also refreshes when a request comes back 401 (and resends it once), refreshes a little before
expiry, and shares one token per (token URL, client id, secret) across resources and runs in a
process: a changed or wrong secret never rides on a token another secret obtained.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from dlt.sources.helpers.rest_client.auth import (
    APIKeyAuth,
    AuthConfigBase,
    BearerTokenAuth,
    HttpBasicAuth,
    OAuth2ClientCredentials,
)
from requests import PreparedRequest, Response, Session
from requests.auth import AuthBase

from ..specs import ApiKeyAuth, BasicAuth, BearerAuth, OAuth2Auth
from .dlt_internals import SharedAcrossConfigCopies
from .errors import ProviderError


class TokenRequestError(ProviderError):
    """The token endpoint refused the client credentials or answered garbage."""


@dataclass
class _Token:
    value: str
    expires_at: float


_Key = tuple[str, str, str]


class _TokenCache:
    """Tokens by (token URL, client id, secret digest): every resource of a provider shares one."""

    def __init__(self) -> None:
        self._tokens: dict[_Key, _Token] = {}
        self._lock = threading.Lock()

    def get(self, key: _Key) -> _Token | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: _Key, token: _Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def drop(self, key: _Key, value: str) -> None:
        with self._lock:
            if (current := self._tokens.get(key)) and current.value == value:
                del self._tokens[key]


TOKENS = _TokenCache()


class OAuth2ClientCredentialsAuth(SharedAcrossConfigCopies, OAuth2ClientCredentials):
    """dlt's OAuth2 client credentials, with a token cached until shortly before expiry, shared
    by every resource of a provider, and refreshed (the request resent once) on 401.

    Built from resolved values, so it is marked resolved (dlt's public `resolve()`) and dlt's
    configuration lookup is skipped.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        session: Session,
        scope: str | None = None,
    ) -> None:
        super().__init__(
            access_token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            access_token_request_data={"scope": scope} if scope else {},
            session=session,
        )
        # A digest, not the secret: the key may show up in a debugger or a log.
        digest = hashlib.sha256(client_secret.encode()).hexdigest()
        self._key = (token_url, client_id, digest)
        self._refresh_lock = threading.Lock()
        self.resolve()

    def obtain_token(self) -> None:
        """dlt's hook for a new token: ours raises errors that name no secret."""
        fresh = self._fetch_token()
        TOKENS.put(self._key, fresh)
        self.access_token = fresh.value

    def _fetch_token(self) -> _Token:
        # A plain post, not the retrying session's hooks: the token call has its own errors.
        response = self.session.post(
            self.access_token_url, **self.build_access_token_request(), hooks={"response": []}
        )
        if response.status_code != 200:
            raise TokenRequestError(
                f"token request to {_path(self.access_token_url)} answered HTTP "
                f"{response.status_code}: check the client id and secret for this provider"
            )
        try:
            body = response.json()
            value = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise TokenRequestError(
                f"token response from {_path(self.access_token_url)} has no access_token"
            ) from None
        lifetime = float(self.parse_expiration_in_seconds(body))
        # Refresh before expiry: 10% of the lifetime, at most 60 s, early.
        return _Token(value, time.monotonic() + lifetime - min(60.0, lifetime * 0.1))

    def token(self, stale: str | None = None) -> str:
        if stale is not None:
            TOKENS.drop(self._key, stale)
        current = TOKENS.get(self._key)
        if current and current.expires_at > time.monotonic():
            return current.value
        with self._refresh_lock:
            current = TOKENS.get(self._key)
            if current and current.expires_at > time.monotonic():
                return current.value
            self.obtain_token()
            return str(self.access_token)

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.register_hook("response", self._retry_on_401)
        return request

    def _retry_on_401(self, response: Response, **kwargs: Any) -> Response:
        if response.status_code != 401 or getattr(response.request, "_token_retried", False):
            return response
        stale = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token(stale=stale)}"
        retry._token_retried = True  # type: ignore[attr-defined]
        resent = response.connection.send(retry, **kwargs)
        resent.history.append(response)
        resent.request = retry
        return resent


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def build_auth(
    spec: OAuth2Auth | ApiKeyAuth | BearerAuth | BasicAuth,
    secrets: dict[str, str],
    token_url: str | None,
    session: Session,
) -> AuthBase | AuthConfigBase:
    """The requests authenticator for a provider's auth block and its resolved secrets."""
    if isinstance(spec, OAuth2Auth):
        assert token_url is not None
        return OAuth2ClientCredentialsAuth(
            token_url, secrets["client_id"], secrets["client_secret"], session, spec.scope
        )
    if isinstance(spec, ApiKeyAuth):
        return APIKeyAuth(name=spec.name, api_key=secrets["api_key"], location=spec.location)
    if isinstance(spec, BearerAuth):
        return BearerTokenAuth(token=secrets["token"])
    return HttpBasicAuth(username=secrets["username"], password=secrets["password"])
