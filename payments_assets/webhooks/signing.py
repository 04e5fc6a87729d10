"""Webhook signature schemes: the project's own, Stripe's and GoCardless', as they document them.

`payments` (`X-Payments-Signature`) and `stripe` (`Stripe-Signature`) send `t=<unix>,v1=<hex>`:
HMAC-SHA256 over `f"{t}.{body}"`, so a captured delivery cannot be re-sent later (the timestamp
is signed and must be recent) nor altered; several `v1` values pass while a secret rolls.
`gocardless` (`Webhook-Signature`) is the hex HMAC-SHA256 of the body alone: no timestamp, so a
replay is caught by its event ids (the store keeps each once). Secrets come from
`PAYMENTS_<PROVIDER>_WEBHOOK_SECRET`; a comma-separated list lets a new secret and the old one
both pass while a provider rotates them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Payments-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A delivery whose signature header is missing, malformed, wrong or too old."""


def secret_variable(provider: str) -> str:
    """The environment variable that holds a provider's webhook signing secret(s)."""
    return f"PAYMENTS_{provider.upper()}_WEBHOOK_SECRET"


def secrets_from_environ(
    providers: Iterable[str], environ: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """Each provider's secrets (several while rotating); providers without a secret are left out."""
    found = {}
    for provider in providers:
        values = [s.strip() for s in environ.get(secret_variable(provider), "").split(",")]
        if any(values):
            found[provider] = tuple(value for value in values if value)
    return found


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` signed now (or at `timestamp`)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={signature(secret, moment, body)}"


def _parse(header: str, header_name: str = SIGNATURE_HEADER) -> tuple[int, list[str]]:
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"malformed {header_name} header: expected t=<unix>,v1=<hex>")
    return timestamp, candidates


def verify(
    secrets: Sequence[str],
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    header_name: str = SIGNATURE_HEADER,
) -> int:
    """Return the signed timestamp if one of `secrets` signed `body` recently; else raise."""
    if not header:
        raise SignatureError(f"missing {header_name} header")
    timestamp, candidates = _parse(header, header_name)
    expected = [signature(secret, timestamp, body) for secret in secrets]
    # compare_digest on every pair: the time taken says nothing about how much matched.
    if not any(hmac.compare_digest(e, c) for e in expected for c in candidates):
        raise SignatureError("signature does not match the body (wrong secret or altered body)")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        raise SignatureError(
            f"timestamp is {int(age)} s from now, outside the {tolerance} s replay window"
        )
    return timestamp


def body_signature(secret: str, body: bytes) -> str:
    """GoCardless' `Webhook-Signature`: the hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_body(secrets: Sequence[str], header: str | None, body: bytes) -> None:
    """Raise unless one of `secrets` gives `header` as the body's HMAC (compared in constant
    time)."""
    if not header:
        raise SignatureError(f"missing {GOCARDLESS_HEADER} header")
    given = header.strip()
    if not any(hmac.compare_digest(body_signature(secret, body), given) for secret in secrets):
        raise SignatureError("signature does not match the body (wrong secret or altered body)")


STRIPE_HEADER = "Stripe-Signature"
GOCARDLESS_HEADER = "Webhook-Signature"


@dataclass(frozen=True)
class Scheme:
    """One provider's way of signing: the header it sends, and the status a refusal gets."""

    name: str
    header: str
    refusal_status: int = 401

    def verify(
        self, secrets: Sequence[str], header: str | None, body: bytes, tolerance: int
    ) -> None:
        """Raise `SignatureError` unless the delivery is signed (and, if timed, recent)."""
        if self.name == "gocardless":
            verify_body(secrets, header, body)
        else:
            verify(secrets, header, body, tolerance=tolerance, header_name=self.header)

    def headers(self, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers a provider sends with `body` (the sandbox and the tests sign this way)."""
        if self.name == "gocardless":
            return {self.header: body_signature(secret, body)}
        return {self.header: sign(secret, body, timestamp)}


SCHEMES: dict[str, Scheme] = {
    "payments": Scheme("payments", SIGNATURE_HEADER),
    "stripe": Scheme("stripe", STRIPE_HEADER, 400),
    # GoCardless documents 498 (Invalid Token) as the answer to a bad signature.
    "gocardless": Scheme("gocardless", GOCARDLESS_HEADER, 498),
}
"""Every scheme a provider YAML may name in `webhooks: {signature: …}`."""
