"""The bytes the sandbox answers with: fast JSON, and the broken bodies faults call for.

orjson (a dlt dependency) serialises a 500-record page several times faster than the standard
library; either way the same options give the same bytes, so determinism does not depend on it.
"""

from typing import Any

from starlette.responses import HTMLResponse, Response

try:
    import orjson

    def dumps(content: Any) -> bytes:
        return orjson.dumps(content)

except ImportError:  # orjson is optional: fall back to the standard library
    import json

    def dumps(content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


class FastJSONResponse(Response):
    """A JSON response rendered with orjson when available."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def html_page(status: int) -> HTMLResponse:
    """What a proxy or maintenance page looks like to a client that expected JSON; it quotes the
    card of the payment it interrupted, as such pages do, so errors that quote a body must mask."""
    body = (
        "<!DOCTYPE html><html><head><title>Payment for card 4000 0566 5566 5556 interrupted"
        "</title></head><body><h1>We'll be right back</h1><p>Scheduled maintenance.</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status)


def truncated_json(content: Any, headers: dict[str, str] | None = None) -> Response:
    """A 200 JSON body cut in half, as when a connection drops mid-transfer behind a proxy (the
    headers, sent first, arrive whole)."""
    body = dumps(content)
    return Response(body[: max(len(body) // 2, 1)], headers=headers, media_type="application/json")
