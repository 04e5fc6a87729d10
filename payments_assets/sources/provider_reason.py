"""The provider's own words on a refused request, short and safe to show.

`HTTP 400` alone sends a user guessing; the body usually says what was wrong ("This property
cannot be expanded (customer)..."). Providers put it in a few known places; the text is cut to a
line and scrubbed of anything secret-shaped (API keys, webhook secrets, bearer tokens, card
numbers) before it joins an error message.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from requests import Response

from ..card_numbers import mask_text

MAX_REASON_CHARS = 200
_SECRET_SHAPES = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]+"  # an Authorization header's value
    r"|\b(?:sk|rk|pk|whsec|tok|key|secret)_[A-Za-z0-9_]{4,}"  # Stripe-style keys and secrets
    r"|\b(?:access_token|api_key|client_secret|password|token)[\"']?\s*[:=]\s*[\"']?[^\s\"',&]+"
)


def provider_reason(response: Response) -> str | None:
    """What the provider said in an error body, redacted and at most ~200 characters."""
    text = _from_json(response) if _looks_json(response) else _from_text(response)
    if not text:
        return None
    text = " ".join(str(text).split())
    text = _SECRET_SHAPES.sub("***", mask_text(text))
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _looks_json(response: Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _from_json(response: Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return _from_text(response)
    return _message_in(body)


def _message_in(body: Any) -> str | None:
    """The message in the usual shapes: Stripe and GoCardless `error.message`, OAuth2
    `error_description`, `errors[].message`, RFC 7807 `title`/`detail`, a bare `message`."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return _message_in(error) or _text(error.get("type")) or _text(error.get("code"))
    parts = [
        _text(body.get("message")),
        _text(body.get("error_description")),
        _listed(body.get("errors")),
        _problem(body),
    ]
    return "; ".join(part for part in parts if part) or _text(error)


def _problem(body: dict[str, Any]) -> str | None:
    title, detail = _text(body.get("title")), _text(body.get("detail"))
    return ": ".join(part for part in (title, detail) if part) or None


def _listed(errors: Any) -> str | None:
    if not isinstance(errors, list):
        return None
    messages = [
        _text(item.get("message")) or _text(item.get("detail")) if isinstance(item, dict) else None
        for item in errors[:3]
    ]
    return "; ".join(message for message in messages if message) or None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _from_text(response: Response) -> str | None:
    """A plain-text body is the reason itself; an HTML page is not quoted (markup, no reason)."""
    if "html" in response.headers.get("Content-Type", ""):
        return None
    return response.content[:1000].decode("utf-8", "replace").strip() or None
