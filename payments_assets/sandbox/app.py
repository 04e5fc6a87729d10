"""The sandbox as a Starlette application: provider routes, control routes, JSON errors.

`create_app` is the one entry point, used by the CLI under uvicorn and usable in-process; it
never binds a socket itself.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_assets.sandbox.api import TOKEN_PATH, list_endpoint, token_endpoint
from payments_assets.sandbox.catalog import RESOURCES
from payments_assets.sandbox.control import control_routes
from payments_assets.sandbox.nested_lists import nested_list_routes
from payments_assets.sandbox.options import SandboxOptions
from payments_assets.sandbox.payout_items import payout_item_routes
from payments_assets.sandbox.responses import FastJSONResponse
from payments_assets.sandbox.state import SandboxState


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer JSON too, naming the path (never the query string)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'error')}"
    return FastJSONResponse(
        {"error": "not_found" if status == 404 else "http_error", "message": message}, status
    )


def create_app(options: SandboxOptions | None = None) -> Starlette:
    """A sandbox app serving every provider with data and faults as `options` say."""
    state = SandboxState(options or SandboxOptions())
    routes = [Route(TOKEN_PATH, token_endpoint(state), methods=["POST"])]
    routes += [Route(r.path, list_endpoint(state, r), methods=["GET"]) for r in RESOURCES]
    routes += nested_list_routes(state)
    routes += payout_item_routes(state)
    routes += control_routes(state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if state.webhooks is not None:  # deliver what is queued before the process ends
            state.webhooks.close()

    app = Starlette(
        routes=routes, exception_handlers={HTTPException: _http_error}, lifespan=lifespan
    )
    app.state.sandbox = state
    return app
