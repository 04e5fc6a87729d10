"""Test-mode control endpoints: read and reset counters, inject faults, touch and delete records
(each sends a webhook when `--webhook-url` is set; a deletion is also logged in the provider's
events resource, where it has one).

They need no credentials because the sandbox binds to loopback and holds nothing of value;
tests and benchmarks use them to arrange a scenario and to count what a client did.
"""

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payments_assets.sandbox.catalog import BY_KEY, EVENT_LOGS
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

    async def _target(request: Request, when_key: str) -> Any:
        """The record a control request names, when it is to act (default now, clamped into
        the data range), and the webhook faults to use; or the refusal to answer."""
        provider, name, record_id = (request.path_params[k] for k in ("provider", "resource", "id"))
        resource = BY_KEY.get((provider, name))
        account = int(request.query_params.get("account", "1"))
        dataset = state.accounts.get(account, {}).get((provider, name))
        index = resource.index_of(record_id) if resource else None
        derived = resource is not None and (resource.event_log or resource.refunds_of)
        if dataset is None or index is None or index >= dataset.count or derived:
            return _problem(404, "not_found", f"no record {provider}/{name}/{record_id}")
        if dataset.is_deleted(index):
            return _problem(409, "deleted", f"{provider}/{name}/{record_id} is deleted")
        try:
            body = await _json_body(request)
            body = body if isinstance(body, dict) else {}
            when = body.get(when_key)
            moment = (
                int(parse_moment(when, "iso"))
                if isinstance(when, str)
                else dataset.timeline.clamp(int(time.time()))
            )
            faults = parse_touch_faults(body.get("webhook"))
        except ValueError as error:
            return _problem(
                400,
                "invalid_touch" if when_key == "updated_at" else "invalid_delete",
                f'expected {{"{when_key}": "<iso>"?, "webhook": {{}}?}}: {error}',
            )
        return resource, dataset, index, account, moment, faults

    def _log(resource: Any, account: int, index: int, moment: int, action: str) -> Any:
        """`<resource>.<action>` in the provider's events resource, where it has one; a
        Stripe-shaped change is logged as its own event type, with the object's new state."""
        log = EVENT_LOGS.get(resource.provider)
        if log is None:
            return None
        events = state.accounts[account][log.key]
        record_id = resource.record_id(index)
        if resource.events is not None and action == "updated":
            changes, _ = state.accounts[account][resource.key].state(index)
            kind = resource.events[1]
            return events.append(
                kind, resource.primary_key, record_id, moment, resource.name, changes
            )
        return events.append(f"{resource.name}.{action}", resource.primary_key, record_id, moment)

    def _announce(resource: Any, record: Any, faults: Any, action: str, logged: Any) -> None:
        if state.webhooks is None or resource.provider not in WEBHOOK_SECRETS:
            return
        if resource.events is not None and logged is not None:  # Stripe: the event itself
            state.webhooks.send_event(resource.provider, logged, faults)
        else:
            state.webhooks.emit(resource.provider, resource.name, record, faults, action)

    async def _change(request: Request, when_key: str, action: str) -> Response:
        """Touch or delete the named record, log it in the provider's events resource and
        announce it by webhook; the answer is what a webhook about it carries."""
        target = await _target(request, when_key)
        if isinstance(target, Response):
            return target
        resource, dataset, index, account, moment, faults = target
        changed = dataset.touch if action == "updated" else dataset.delete
        record = changed(index, moment)
        logged = _log(resource, account, index, moment, action)
        _announce(resource, record, faults, action, logged)
        if action == "updated":
            return FastJSONResponse(record)
        return FastJSONResponse({"deleted": record, "style": resource.deletion})

    async def touch(request: Request) -> Response:
        return await _change(request, "updated_at", "updated")

    async def delete(request: Request) -> Response:
        return await _change(request, "deleted_at", "deleted")

    return [
        Route("/__stats", stats, methods=["GET", "DELETE"]),
        Route("/__faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/__records/{provider}/{resource}/{id}/touch", touch, methods=["POST"]),
        Route("/__records/{provider}/{resource}/{id}/delete", delete, methods=["POST"]),
    ]
