"""Every response is checked before dlt reads it: status, JSON, the data selector, progress.

Without this, an HTML error page fails deep inside dlt with a JSON decode error, a response
whose data selector matches nothing "succeeds" with zero rows (an offset paginator then stops
early, silently losing the rest), and a cursor that never ends makes dlt's paginators request
forever. Parsing once here and handing dlt the parsed body also saves the two further parses dlt
would do per page. A 200 that is no JSON at all (a maintenance page, an empty body) is what an
API says for a minute of maintenance: it raises `NotJSONYet`, which the session retries with the
provider's backoff like a 503 (`retry_not_json`), and fails the run as it did once retries run
out. Error statuses carry the provider's own reason (`provider_reason.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from dlt.common import jsonpath
from requests import HTTPError, Response

from ..card_numbers import mask_text
from .dlt_internals import hand_over_parsed_body
from .errors import ProviderHTTPError, ProviderResponseError
from .provider_reason import provider_reason

_HINTS = {
    401: "The credentials were refused: check this provider's credential environment variables.",
    403: "The credentials lack access to this resource: check the account's permissions.",
    404: "The path does not exist: check base_url and the resource's path in the provider YAML.",
}


class NotJSONYet(ProviderResponseError):
    """A 2xx whose body is not JSON at all: a maintenance page or an empty body, retried."""


def retry_not_json(response: Response | None, exception: BaseException | None) -> bool:
    """dlt's retry predicate: a maintenance page or an empty body is retried like a 503."""
    return isinstance(exception, NotJSONYet)


def response_checker(
    provider: str, resource: str, data_selector: str, retry_statuses: frozenset[int]
) -> Callable[..., Response]:
    """A requests response hook for one resource (used as a rest_api `response_action`)."""
    selector = jsonpath.compile_path(data_selector)

    def check(response: Response, *args: Any, **kwargs: Any) -> Response:
        path = urlsplit(response.url).path
        status = response.status_code
        if status in retry_statuses:
            # An HTTPError carrying the response lets dlt's retry see the status and back off.
            reason = provider_reason(response)
            raise HTTPError(
                f"{provider}/{resource}: HTTP {status} on {path}"
                + (f'; the provider said: "{reason}"' if reason else ""),
                response=response,
            )
        if status >= 400:
            hint = _HINTS.get(status, "")
            raise ProviderHTTPError(
                provider, resource, path, status, hint, provider_reason(response)
            )
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            raise NotJSONYet(
                provider,
                resource,
                path,
                f"expected JSON, got {content_type or 'no content type'} (HTTP {status}): "
                f"{_preview(response)}",
            )
        if not response.content.strip():
            raise NotJSONYet(
                provider, resource, path, f"expected JSON, got an empty body (HTTP {status})"
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ProviderResponseError(
                provider,
                resource,
                path,
                f"the body is not valid JSON ({exc}): {_preview(response)}",
            ) from None
        found = jsonpath.find_values(selector, body) if data_selector != "$" else [body]
        if not found:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise ProviderResponseError(
                provider,
                resource,
                path,
                f"the data selector '{data_selector}' matches nothing in the response "
                f"(top-level keys: {keys}); the API changed or the provider YAML is wrong",
            )
        if (problem := progress(response.url, found)) is not None:
            raise ProviderResponseError(provider, resource, path, problem)
        hand_over_parsed_body(response, body)
        return response

    progress = _ProgressGuard()
    return check


class _ProgressGuard:
    """Notices a walk that stopped advancing: the same request again, or the same records.

    One guard per resource and source: a source walks each resource once, so two consecutive
    answers to one URL, or two non-empty pages with the same records, mean the cursor or
    offset does not move (an endless cursor, an offset the API ignores) and dlt would loop.
    """

    def __init__(self) -> None:
        self._url: str | None = None
        self._page: tuple[int, bytes, bytes] | None = None

    def __call__(self, url: str, found: list[Any]) -> str | None:
        records = found[0] if len(found) == 1 and isinstance(found[0], list) else found
        # Fingerprints, not the records: later steps mask and stamp records in place.
        page = (
            (len(records), orjson.dumps(records[0]), orjson.dumps(records[-1])) if records else None
        )
        repeated_url, repeated_page = url == self._url, page is not None and page == self._page
        self._url, self._page = url, page
        if repeated_url:
            return (
                "the next page's request repeats the previous one: the cursor does not advance; "
                "stopped instead of requesting the same page forever"
            )
        if repeated_page:
            return (
                f"the API answered the same {len(records)} records as for the previous page: "
                "its cursor or offset does not advance; stopped instead of paging forever"
            )
        return None


def _preview(response: Response) -> str:
    # Cut after masking: a card number across the cut would otherwise survive as a fragment.
    text = mask_text(response.content[:400].decode("utf-8", "replace"))
    return repr(text[:120].replace("\n", " "))
