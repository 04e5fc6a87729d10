"""Errors and log lines leave this package without secrets in them.

A connection error's text carries the full URL (a query-string API key included), dlt's own
config errors echo parts of secrets, and a response error may quote a body with a card number in
it; so every error that leaves a load is rebuilt from redacted, masked text, with the original
chain dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ..card_numbers import mask_text
from .errors import ProviderError, ProviderLoadError

_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|secret|client[_-]?secret|password|pwd)=)"
    r"[^&\s'\"]+"
)
_AUTH_HEADER = re.compile(r"(?i)((?:authorization|x-api-key)['\"]?\s*[:=]\s*['\"]?)[^'\"\n,}]+")


class Redactor:
    """Replaces known secret values and secret-looking URL parts with `***`, and masks card
    numbers (an error may quote a response body)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _QUERY_SECRET.sub(r"\1***", text)
        return mask_text(_AUTH_HEADER.sub(r"\1***", text))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts records on their way to any handler."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _explain(exc: BaseException) -> str:
    """The most useful message in an exception chain: ours if there is one, else the deepest."""
    chain = list(_chain(exc))
    ours = [e for e in chain if isinstance(e, ProviderError)]
    if ours:
        return str(ours[0])
    return f"{type(chain[-1]).__name__}: {chain[-1]}"


# A logger's filters see only the records logged on that very logger, not its children's: the
# loggers that write URLs and request details are named one by one.
HTTP_LOGGERS = ("dlt", "urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests")


@contextmanager
def redacted_logs(redactor: Redactor, names: Iterable[str] = HTTP_LOGGERS) -> Iterator[None]:
    """Every record of the named loggers redacted while inside."""
    filt = RedactingFilter(redactor)
    loggers = [logging.getLogger(name) for name in names]
    for log in loggers:
        log.addFilter(filt)
    try:
        yield
    finally:
        for log in loggers:
            log.removeFilter(filt)


@contextmanager
def redacted_errors(redactor: Redactor, where: str) -> Iterator[None]:
    """Re-raise any failure inside as a `ProviderLoadError` with redacted text and no chain."""
    with redacted_logs(redactor):
        try:
            yield
        except Exception as exc:
            message = redactor(f"{where}: {_explain(exc)}")
            error = ProviderLoadError(message)
            raise error from None
