"""How each provider words a refusal, so clients are tested against realistic error bodies.

Handlers raise `ApiError`; the app turns it into the provider's JSON shape and status code.
"""

from typing import Any


class ApiError(Exception):
    """A request the sandbox refuses: HTTP status, a short machine code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.param = param
        """The query parameter refused, where one is to blame (Stripe names it)."""


def invalid_request(credential: str) -> ApiError:
    """A 400 that says what was wrong (Stripe's words for a bad `expand[]`), and echoes the
    credential it was sent with: a client must quote the reason and never the secret."""
    return ApiError(
        400,
        "invalid_request",
        "This property cannot be expanded (customer). You may want to try expanding "
        f"'data.customer' instead. Request made with {credential or 'no credential'}.",
    )


def error_body(provider: str, error: ApiError) -> dict[str, Any]:
    """The JSON body `provider` would send for `error`."""
    if provider == "gateway":
        return {"error": error.code, "error_description": error.message}
    if provider == "billing":
        return {"error": {"type": error.code, "message": error.message}}
    if provider == "direct_debit":
        return {"error": {"code": error.status, "type": error.code, "message": error.message}}
    if provider == "ledger":
        body = {"type": ledger_type(error.status), "message": error.message}
        if error.param is not None:  # Stripe adds its code and the parameter's name
            body |= {"code": error.code, "param": error.param}
        return {"error": body}
    return {"error": error.code, "message": error.message}


def ledger_type(status: int) -> str:
    """Stripe's error `type` for a status: Stripe names the class of error, not the cause."""
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "api_error" if status >= 500 else "invalid_request_error"
