"""The webhook signature scheme: `X-Payments-Signature: t=<unix>,v1=<hex hmac-sha256>`.

The HMAC covers `f"{t}.{body}"` with the provider's secret, so a captured delivery cannot be
re-sent later (the timestamp is signed and must be recent) nor altered (the body is signed).
Secrets come from `PAYMENTS_<PROVIDER>_WEBHOOK_SECRET`; a comma-separated list lets a new
secret and the old one both pass while a provider rotates them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence

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


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected t=<unix>,v1=<hex>")
    return timestamp, candidates


def verify(
    secrets: Sequence[str],
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Return the signed timestamp if one of `secrets` signed `body` recently; else raise."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp, candidates = _parse(header)
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
