"""The webhook receiver: verify, store once, answer 200 — the work happens later, in Dagster.

`POST /webhooks/<provider>` checks the signature and its timestamp, validates the event, masks
card numbers, stores it and only then answers; the sensor turns stored events into runs. One
writer thread commits whatever requests are waiting as one transaction (group commit), so each
answered event is on disk without paying one disk flush per event.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..card_numbers import mask_card_numbers, mask_text
from .events import EventError, WebhookEvent, parse_event
from .signing import (
    DEFAULT_TOLERANCE_SECONDS,
    SCHEMES,
    Scheme,
    SignatureError,
    secret_variable,
)
from .store import EventStore

log = logging.getLogger("payments_assets.webhooks")

MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 512
_STOP = object()


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():  # the client went away; the event is stored all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class EventWriter:
    """Owns the store's connection on one thread; `await write(event)` → True if new."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="webhook-writer", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    async def write(self, event: WebhookEvent) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.put((event, loop, future))
        return await future

    def _run(self) -> None:
        try:
            with self.store.connect() as connection:
                self._ready.set()
                while (item := self._queue.get()) is not _STOP:
                    batch = [item]
                    while len(batch) < MAX_BATCH:
                        try:
                            item = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if item is _STOP:
                            self._queue.put(_STOP)  # finish this batch, then stop
                            break
                        batch.append(item)
                    self._commit(connection, batch)
        except BaseException as error:  # the inbox cannot be opened: fail start-up loudly
            self._failure = error
            self._ready.set()

    def _commit(self, connection: Any, batch: list[Any]) -> None:
        try:
            outcomes: list[Any] = self.store.add(connection, [e for e, _, _ in batch], time.time())
        except Exception as error:
            log.exception("could not store %d webhook events", len(batch))
            outcomes = [error] * len(batch)
        for (_, loop, future), outcome in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, outcome)


async def _body(request: Request) -> bytes | None:
    """The body, or None past `MAX_BODY_BYTES` (whatever Content-Length claims, if anything)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status)


def _as_is(body: Any) -> Any:
    return body


def create_receiver(
    store: EventStore,
    secrets: Mapping[str, tuple[str, ...]],
    providers: Collection[str],
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    never_land: Mapping[str, Callable[[Any], Any]] | None = None,
    schemes: Mapping[str, Scheme] | None = None,
) -> Starlette:
    """The receiver app for `providers`; those without secrets answer 503 until one is set.
    `never_land` takes each provider's never-land fields out of an event before it is stored;
    `schemes` says how each provider signs (its YAML's `webhooks.signature`; default: ours)."""
    writer = EventWriter(store)
    keep_out = dict(never_land or {})
    signed_by = dict(schemes or {})

    async def receive(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in providers:
            return _refusal(404, "unknown_provider", f"no provider named {provider!r}")
        if provider not in secrets:
            log.error("refused a %s webhook: %s is not set", provider, secret_variable(provider))
            return _refusal(503, "not_configured", f"webhooks for {provider} are not set up")
        body = await _body(request)
        if body is None:
            return _refusal(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
        scheme = signed_by.get(provider, SCHEMES["payments"])
        try:
            signature = request.headers.get(scheme.header)
            scheme.verify(secrets[provider], signature, body, tolerance)
            event = parse_event(provider, body)
        except SignatureError as error:
            log.warning("refused a %s webhook: %s", provider, error)
            return _refusal(scheme.refusal_status, "invalid_signature", str(error))
        except EventError as error:
            problem = mask_text(str(error))  # it may quote a field of the body
            log.warning("refused a signed %s webhook: %s", provider, problem)
            return _refusal(400, "invalid_event", problem)
        # Masked before anything is stored or logged: ids and types are text like any other.
        masked = WebhookEvent(
            provider,
            mask_text(event.event_id),
            mask_text(event.type),
            event.created,
            mask_card_numbers(keep_out.get(provider, _as_is)(event.body)),
        )
        added = await writer.write(masked)
        outcome = "stored" if added else "duplicate, already stored"
        # Provider, id and type only: the record stays out of the log, card numbers with it.
        log.info("%s %s %s %s", provider, masked.event_id, masked.type, outcome)
        return JSONResponse({"received": True, "duplicate": not added})

    async def health(request: Request) -> Response:
        return JSONResponse({"providers": sorted(providers), "configured": sorted(secrets)})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        log.info("storing webhook events in %s", store.where)
        try:
            yield
        finally:
            writer.stop()

    routes = [
        Route("/webhooks/{provider}", receive, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
