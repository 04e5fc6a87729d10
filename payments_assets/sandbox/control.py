"""Test-mode control endpoints: read and reset counters, inject faults, touch records (which
sends a webhook when `--webhook-url` is set).

They need no credentials because the sandbox binds to loopback and holds nothing of value;
tests and benchmarks use them to arrange a scenario and to count what a client did.
"""

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_assets.sandbox.catalog import BY_KEY
from payments_assets.sandbox.credentials import WEBHOOK_SECRETS
from payments_assets.sandbox.faults import FaultError, parse_fault
from payments_assets.sandbox.responses import FastJSONResponse
from payments_assets.sandbox.state import SandboxState
from payments_assets.sandbox.timeline import parse_moment
from payments_assets.sandbox.webhooks import parse_touch_faults


def _problem(status: int, code: str, message: str) -> Response:
    return FastJSONResponse({"error": code, "message": message}, status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


def control_routes(state: SandboxState) -> list[Route]:
    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            state.stats.reset()
        return FastJSONResponse(state.stats.as_json())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
        elif request.method == "POST":
            try:
                fault = parse_fault(await _json_body(request))
            except (FaultError, ValueError) as error:
                return _problem(400, "invalid_fault", str(error))
            if fault.kind == "expire_tokens":  # acts at once: revoke what was issued so far
                state.tokens.expire_all()
            else:
                state.faults.add(fault)
        return FastJSONResponse({"faults": state.faults.listing()})

    async def touch(request: Request) -> Response:
        provider, name, record_id = (request.path_params[k] for k in ("provider", "resource", "id"))
        resource = BY_KEY.get((provider, name))
        account = int(request.query_params.get("account", "1"))
        dataset = state.accounts.get(account, {}).get((provider, name))
        index = resource.index_of(record_id) if resource else None
        if dataset is None or index is None or index >= dataset.count:
            return _problem(404, "not_found", f"no record {provider}/{name}/{record_id}")
        try:
            body = await _json_body(request)
            body = body if isinstance(body, dict) else {}
            when = body.get("updated_at")
            moment = (
                int(parse_moment(when, "iso"))
                if isinstance(when, str)
                else dataset.timeline.clamp(int(time.time()))
            )
            faults = parse_touch_faults(body.get("webhook"))
        except ValueError as error:
            return _problem(
                400,
                "invalid_touch",
                f'expected {{"updated_at": "<iso>"?, "webhook": {{}}?}}: {error}',
            )
        record = dataset.touch(index, moment)
        if state.webhooks is not None and provider in WEBHOOK_SECRETS:  # ledger sends none
            state.webhooks.emit(provider, name, record, faults)
        return FastJSONResponse(record)

    return [
        Route("/__stats", stats, methods=["GET", "DELETE"]),
        Route("/__faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/__records/{provider}/{resource}/{id}/touch", touch, methods=["POST"]),
    ]
