"""The sandbox keeps the promises of docs/sandbox.md, checked over HTTP against a real server.

Paths, envelopes, parameters and credentials below are copied from the contract, not imported
from the implementation, so a drift between the two fails here.
"""

import hashlib
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from payments_assets.sandbox import SandboxHandle

Factory = Callable[..., SandboxHandle]
TIMEOUT = 10


@dataclass(frozen=True)
class Endpoint:
    """One list resource as the contract describes it."""

    provider: str
    resource: str
    path: str
    paging: str
    time_field: str | None = "updated_at"
    window: tuple[str, str] | None = None
    epoch: bool = False
    limit_param: str = "limit"

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.resource}"

    @property
    def data_key(self) -> str | None:
        """Where the rows are in the body; None for a bare list."""
        if self.provider == "direct_debit":
            return self.resource
        return {"link_header": None, "page_number": "items"}.get(self.paging, "data")

    def rows(self, body: Any) -> list[dict[str, Any]]:
        return body if self.data_key is None else body[self.data_key]


_GATEWAY_WINDOW = ("updated_from", "updated_to")
_BILLING_WINDOW = ("updated_gte", "updated_lt")
_DEBIT_WINDOW = ("updated_at[gte]", "updated_at[lt]")
_LEDGER_WINDOW = ("created[gte]", "created[lt]")


def _ledger(resource: str, paging: str, limit_param: str = "limit") -> Endpoint:
    return Endpoint(
        "ledger",
        resource,
        f"/ledger/v1/{resource}",
        paging,
        "created",
        _LEDGER_WINDOW,
        epoch=True,
        limit_param=limit_param,
    )


LEDGER = [
    _ledger("charges", "starting_after"),
    _ledger("customers", "search_page"),
    _ledger("payouts", "starting_after"),
    _ledger("disputes", "starting_after"),
    _ledger("subscriptions", "starting_after"),
]
PAGING_FIXTURES = [
    _ledger("payout_reports", "link_header", "per_page"),
    _ledger("dispute_reports", "page_number", "per_page"),
]
"""Not Stripe: the ledger's payouts and disputes again, paged by Link header and page numbers."""
LEDGER_EVENTS = _ledger("events", "next_url")
"""Every creation and change of the ledger's charges, disputes and subscriptions: not 200."""
LEDGER_REFUNDS = _ledger("refunds", "starting_after")
"""One refund per rise of a charge's `amount_refunded`: not 200."""
REFUND_FIELDS = {"id", "object", "amount", "currency", "charge", "status", "created", "reason"}
BALANCE = Endpoint("ledger", "balance", "/ledger/v1/balance", "single_object", None)

LISTS = [
    Endpoint(
        "gateway", "transactions", "/gateway/v1/transactions", "next_cursor", window=_GATEWAY_WINDOW
    ),
    Endpoint(
        "gateway", "list_payments", "/gateway/v1/payments", "has_more", window=_GATEWAY_WINDOW
    ),
    *(
        Endpoint("billing", name, f"/billing/v1/{name}", "total", window=_BILLING_WINDOW)
        for name in ("customers", "invoices", "charges", "subscriptions", "refunds")
    ),
    *(
        Endpoint("direct_debit", name, f"/direct_debit/v1/{name}", "after", window=_DEBIT_WINDOW)
        for name in ("payments", "refunds", "mandates", "payouts")
    ),
    Endpoint(
        "commerce",
        "charges",
        "/commerce/v1/charges",
        "short_page",
        "occurred",
        ("occurred_gte", "occurred_lt"),
    ),
    Endpoint("commerce", "products", "/commerce/v1/products", "short_page", None),
    *(
        Endpoint(
            "commerce",
            name,
            f"/commerce/v1/{name}",
            "short_page",
            "first_seen",
            ("first_seen_gte", "first_seen_lt"),
            epoch=True,
        )
        for name in ("customers", "subscriptions")
    ),
    *LEDGER,
    *PAGING_FIXTURES,
]
SHIPPED = [endpoint for endpoint in LISTS if endpoint.provider != "ledger"]
WINDOWED = [endpoint for endpoint in LISTS if endpoint.window]
BY_ID = {endpoint.id: endpoint for endpoint in (*LISTS, LEDGER_EVENTS, LEDGER_REFUNDS)}
PRIMARY_KEYS = {
    "charges": "charge_id",
    "products": "product_id",
    "customers": "customer_id",
    "subscriptions": "subscription_id",
}

CLIENT_ID = "sandbox_gateway_client"
CLIENT_SECRET = "gw_test_secret_5f1c9e2a7b"
API_KEY = "bk_test_key_8d3e4f6a1c"
DEBIT_TOKEN = "dd_test_token_2b7c9d0e4f"
COMMERCE_USER, COMMERCE_PASSWORD = "sandbox_commerce_user", "cm_test_password_6a0f3b8c2d"
LEDGER_KEY = "sk_test_ledger_4c7e1a9b2d"
LEDGER_CURRENCIES = {"usd", "eur", "jpy"}


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def luhn_valid(number: str) -> bool:
    """Independent Luhn check, so the test does not trust the generator's own."""
    digits = [int(d) for d in reversed(number)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def for_account(value: str, account: int) -> str:
    """Account k's credentials are account 1's suffixed `_acct<k>`."""
    return value if account == 1 else f"{value}_acct{account}"


def gateway_token(sandbox: SandboxHandle, account: int = 1) -> str:
    response = requests.post(
        f"{sandbox.base_url}/gateway/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": for_account(CLIENT_ID, account),
            "client_secret": for_account(CLIENT_SECRET, account),
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Client:
    """A minimal client for one sandbox account that authenticates and pages as the contract
    says."""

    def __init__(self, sandbox: SandboxHandle, account: int = 1) -> None:
        self.sandbox = sandbox
        self.account = account
        self.http = requests.Session()
        self._token: str | None = None

    def get(self, endpoint: Endpoint, **params: Any) -> requests.Response:
        return self.fetch(endpoint, self.sandbox.base_url + endpoint.path, params)

    def follow(self, endpoint: Endpoint, url: str) -> requests.Response:
        """A next URL the sandbox handed out, verbatim: no parameters of the client's own."""
        return self.fetch(endpoint, url, {})

    def fetch(self, endpoint: Endpoint, url: str, params: dict[str, Any]) -> requests.Response:
        headers: dict[str, str] = {}
        auth = None
        if endpoint.provider == "gateway":
            self._token = self._token or gateway_token(self.sandbox, self.account)
            headers["Authorization"] = f"Bearer {self._token}"
        elif endpoint.provider == "billing":
            params = {**params, "api_key": for_account(API_KEY, self.account)}
        elif endpoint.provider == "direct_debit":
            headers["Authorization"] = f"Bearer {for_account(DEBIT_TOKEN, self.account)}"
        elif endpoint.provider == "ledger":
            headers["Authorization"] = f"Bearer {for_account(LEDGER_KEY, self.account)}"
        else:
            auth = (
                for_account(COMMERCE_USER, self.account),
                for_account(COMMERCE_PASSWORD, self.account),
            )
        return self.http.get(url, params=params, headers=headers, auth=auth, timeout=TIMEOUT)

    def page(self, endpoint: Endpoint, **params: Any) -> Any:
        response = self.get(endpoint, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def walk(
        self, endpoint: Endpoint, limit: int, window: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Every record of a resource, following its paginator; also the number of requests.

        Next URLs and `Link` headers are followed verbatim, so they must carry the window.
        """
        params: dict[str, Any] = {endpoint.limit_param: limit, **(window or {})}
        rows: list[dict[str, Any]] = []
        url: str | None = None
        for requests_made in range(1, 10_000):
            response = self.follow(endpoint, url) if url else self.get(endpoint, **params)
            assert response.status_code == 200, response.text
            body = response.json()
            data = endpoint.rows(body)
            rows += data
            if endpoint.paging == "starting_after":
                if not body["has_more"]:
                    return rows, requests_made
                params["starting_after"] = data[-1]["id"]
            elif endpoint.paging == "search_page":
                assert body["has_more"] == (body["next_page"] is not None)
                if body["next_page"] is None:
                    return rows, requests_made
                params["page"] = body["next_page"]
            elif endpoint.paging in ("next_url", "link_header"):
                url = (
                    body["next"]
                    if endpoint.paging == "next_url"
                    else response.links.get("next", {}).get("url")
                )
                if url is None:
                    return rows, requests_made
            elif endpoint.paging == "page_number":
                if body["page"] >= body["total_pages"]:
                    return rows, requests_made
                params["page"] = body["page"] + 1
            elif endpoint.paging == "next_cursor":
                if body["next_cursor"] is None:
                    return rows, requests_made
                params["cursor"] = body["next_cursor"]
            elif endpoint.paging == "after":
                if body["meta"]["cursors"]["after"] is None:
                    return rows, requests_made
                params["after"] = body["meta"]["cursors"]["after"]
            else:
                params["offset"] = params.get("offset", 0) + limit
                if endpoint.paging == "has_more" and not body["has_more"]:
                    return rows, requests_made
                if endpoint.paging == "total" and params["offset"] >= body["total"]:
                    return rows, requests_made
                if endpoint.paging == "short_page" and len(data) < limit:
                    return rows, requests_made
        raise AssertionError(f"{endpoint.id} never reached its last page")


def key_of(endpoint: Endpoint) -> str:
    return PRIMARY_KEYS[endpoint.resource] if endpoint.provider == "commerce" else "id"


def moment_of(endpoint: Endpoint, record: dict[str, Any]) -> int:
    value = record[endpoint.time_field or ""]
    return value if endpoint.epoch else epoch(value)


def window_params(endpoint: Endpoint, low: str, high: str) -> dict[str, Any]:
    assert endpoint.window is not None
    bounds = (epoch(low), epoch(high)) if endpoint.epoch else (low, high)
    return dict(zip(endpoint.window, bounds, strict=True))


@pytest.fixture
def client(sandbox: SandboxHandle) -> Client:
    return Client(sandbox)


@pytest.fixture
def clean(sandbox: SandboxHandle) -> Iterator[SandboxHandle]:
    """The session sandbox with no faults and zeroed counters, left without faults afterwards."""
    sandbox.clear_faults()
    sandbox.reset_stats()
    yield sandbox
    sandbox.clear_faults()


# --- credentials -------------------------------------------------------------------------


def test_token_is_issued_for_form_or_basic_client_credentials(sandbox: SandboxHandle) -> None:
    url = f"{sandbox.base_url}/gateway/oauth/token"
    by_form = requests.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=TIMEOUT,
    )
    by_basic = requests.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=TIMEOUT,
    )
    tokens = [by_form.json(), by_basic.json()]
    assert [t["token_type"] for t in tokens] == ["Bearer", "Bearer"]
    assert [t["expires_in"] for t in tokens] == [3600, 3600]
    assert tokens[0]["access_token"] != tokens[1]["access_token"]


def test_wrong_client_secret_gets_no_token(sandbox: SandboxHandle) -> None:
    response = requests.post(
        f"{sandbox.base_url}/gateway/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("endpoint_id", "bad"),
    [
        ("gateway/transactions", {}),
        ("gateway/transactions", {"headers": {"Authorization": "Bearer gw_at_forged"}}),
        ("billing/charges", {}),
        ("billing/charges", {"params": {"api_key": "bk_test_key_wrong"}}),
        ("direct_debit/payments", {}),
        ("direct_debit/payments", {"headers": {"Authorization": "Bearer dd_wrong"}}),
        ("commerce/charges", {}),
        ("commerce/charges", {"auth": (COMMERCE_USER, "wrong")}),
        ("ledger/charges", {}),
        ("ledger/charges", {"headers": {"Authorization": "Bearer sk_test_ledger_wrong"}}),
        ("ledger/payouts", {"headers": {"Authorization": f"Basic {LEDGER_KEY}"}}),
    ],
)
def test_missing_or_wrong_credentials_are_refused(
    sandbox: SandboxHandle, client: Client, endpoint_id: str, bad: dict[str, Any]
) -> None:
    endpoint = BY_ID[endpoint_id]
    refused = requests.get(sandbox.base_url + endpoint.path, timeout=TIMEOUT, **bad)
    assert refused.status_code == 401
    assert "error" in refused.json()
    assert client.get(endpoint).status_code == 200


def test_expired_token_is_refused(sandbox_factory: Factory) -> None:
    short_lived = sandbox_factory(token_ttl=1)
    token = gateway_token(short_lived)
    url = short_lived.base_url + "/gateway/v1/transactions"
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=headers, timeout=TIMEOUT).status_code == 200
    time.sleep(1.2)
    expired = requests.get(url, headers=headers, timeout=TIMEOUT)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"


def test_expire_tokens_fault_revokes_every_issued_token(clean: SandboxHandle) -> None:
    url = clean.base_url + "/gateway/v1/balances"
    old = gateway_token(clean)
    clean.inject_fault("/gateway", "expire_tokens")
    refused = requests.get(url, headers={"Authorization": f"Bearer {old}"}, timeout=TIMEOUT)
    fresh = gateway_token(clean)
    accepted = requests.get(url, headers={"Authorization": f"Bearer {fresh}"}, timeout=TIMEOUT)
    assert (refused.status_code, accepted.status_code) == (401, 200)


# --- pagination --------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LISTS, ids=lambda e: e.id)
def test_paginator_walks_every_record_exactly_once(client: Client, endpoint: Endpoint) -> None:
    rows, requests_made = client.walk(endpoint, limit=30)
    ids = [row[key_of(endpoint)] for row in rows]
    assert len(ids) == 200
    assert len(set(ids)) == 200
    assert requests_made == 7  # 6 full pages and a short one of 20


@pytest.mark.parametrize("endpoint", LISTS, ids=lambda e: e.id)
def test_last_page_exactly_limit_long_ends_the_walk(
    clean: SandboxHandle, client: Client, endpoint: Endpoint
) -> None:
    rows, requests_made = client.walk(endpoint, limit=50)
    # Only commerce needs a fifth request: its end is an empty page, nothing announces it.
    assert (len(rows), requests_made) == (200, 5 if endpoint.provider == "commerce" else 4)
    assert clean.stats()["requests"][endpoint.path] == requests_made


@pytest.mark.parametrize("endpoint", WINDOWED, ids=lambda e: e.id)
def test_window_that_selects_nothing_gives_an_empty_resource(
    client: Client, endpoint: Endpoint
) -> None:
    window = window_params(endpoint, "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z")
    response = client.get(endpoint, **{endpoint.limit_param: 10}, **window)
    body = response.json()
    assert endpoint.rows(body) == []
    assert client.walk(endpoint, limit=10, window=window) == ([], 1)
    assert "link" not in response.headers
    if isinstance(body, dict):
        assert body.get("next_cursor") is None and body.get("has_more") in (None, False)
        assert body.get("total", 0) == 0
        assert body.get("next_page") is None and body.get("next") is None
        assert body.get("total_pages", 1) == 1


@pytest.mark.parametrize("endpoint", WINDOWED, ids=lambda e: e.id)
def test_window_returns_exactly_the_records_updated_inside_it(
    client: Client, endpoint: Endpoint
) -> None:
    low, high = "2026-10-08T06:00:00Z", "2026-10-15T00:00:00Z"
    everything, _ = client.walk(endpoint, limit=100)
    expected = [r for r in everything if epoch(low) <= moment_of(endpoint, r) < epoch(high)]
    selected, _ = client.walk(endpoint, limit=7, window=window_params(endpoint, low, high))
    assert 0 < len(selected) < len(everything)
    assert selected == expected


def test_billing_total_counts_the_window_not_the_resource(client: Client) -> None:
    endpoint = BY_ID["billing/invoices"]
    window = window_params(endpoint, "2026-10-10T00:00:00Z", "2026-10-20T00:00:00Z")
    rows, _ = client.walk(endpoint, limit=100, window=window)
    assert client.page(endpoint, limit=1, **window)["total"] == len(rows)
    assert client.page(endpoint, limit=1)["total"] == 200


@pytest.mark.parametrize("endpoint_id", ["gateway/transactions", "direct_debit/mandates"])
def test_cursor_keeps_its_window_when_the_client_drops_the_parameters(
    client: Client, endpoint_id: str
) -> None:
    endpoint = BY_ID[endpoint_id]
    window = window_params(endpoint, "2026-10-05T00:00:00Z", "2026-10-25T00:00:00Z")
    expected, _ = client.walk(endpoint, limit=10, window=window)
    cursor_param = "cursor" if endpoint.provider == "gateway" else "after"
    body = client.page(endpoint, limit=10, **window)
    rows = list(body[endpoint.data_key])
    while cursor := body.get("next_cursor", body.get("meta", {}).get("cursors", {}).get("after")):
        body = client.page(endpoint, limit=10, **{cursor_param: cursor})
        rows += body[endpoint.data_key]
    assert rows == expected


def test_direct_debit_limit_above_500_is_rejected(client: Client) -> None:
    endpoint = BY_ID["direct_debit/payments"]
    assert client.get(endpoint, limit=501).status_code == 422
    assert "error" in client.get(endpoint, limit=501).json()
    body = client.page(endpoint, limit=500)
    assert (len(body["payments"]), body["meta"]["limit"]) == (200, 500)


def test_balances_are_one_page_with_one_row_per_currency(client: Client) -> None:
    body = client.page(Endpoint("gateway", "balances", "/gateway/v1/balances", "single"))
    currencies = [row["currency"] for row in body["data"]]
    assert len(currencies) == len(set(currencies)) >= 5
    assert {row["id"] for row in body["data"]} >= {"bal_usd", "bal_jpy"}
    assert set(body) == {"data"}


# --- ledger (Stripe-shaped) ------------------------------------------------------------


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_ledger_charges_say_has_more_false_on_an_exactly_full_last_page(client: Client) -> None:
    charges = BY_ID["ledger/charges"]
    last = client.page(charges, limit=50, starting_after="ch_000150")
    assert (len(last["data"]), last["has_more"]) == (50, False)
    assert [last["data"][0]["id"], last["data"][-1]["id"]] == ["ch_000151", "ch_000200"]
    assert (last["object"], last["url"]) == ("list", "/v1/charges")
    assert client.page(charges, limit=50, starting_after="ch_000149")["has_more"] is True
    assert len(client.page(charges)["data"]) == 10  # default limit


def test_ledger_search_token_carries_its_window(client: Client) -> None:
    customers = BY_ID["ledger/customers"]
    window = window_params(customers, "2026-10-05T00:00:00Z", "2026-10-25T00:00:00Z")
    expected, _ = client.walk(customers, limit=100, window=window)
    body = client.page(customers, limit=15, **window)
    assert body["object"] == "search_result"
    rows = list(body["data"])
    while body["next_page"] is not None:
        body = client.page(customers, limit=15, page=body["next_page"])  # window dropped
        rows += body["data"]
    assert rows == expected and 0 < len(rows) < 200


@pytest.mark.parametrize("endpoint_id", ["ledger/events", "ledger/payout_reports"])
def test_ledger_next_urls_carry_limit_window_and_host(
    clean: SandboxHandle, client: Client, endpoint_id: str
) -> None:
    endpoint = BY_ID[endpoint_id]
    window = window_params(endpoint, "2026-10-05T00:00:00Z", "2026-10-25T00:00:00Z")
    response = client.get(endpoint, **{endpoint.limit_param: 7}, **window)
    url = (
        response.json()["next"] if endpoint.paging == "next_url" else response.links["next"]["url"]
    )
    assert url.startswith(f"{clean.base_url}{endpoint.path}?")
    query = query_of(url)
    assert query[endpoint.limit_param] == ["7"]
    assert {name: query[name] for name in _LEDGER_WINDOW} == {
        name: [str(bound)] for name, bound in window.items()
    }
    if endpoint.paging == "link_header":
        assert query["page"] == ["2"]
        assert response.headers["Link"] == f'<{url}>; rel="next"'
    everything = len(client.walk(endpoint, limit=100)[0])
    assert len(client.walk(endpoint, limit=7, window=window)[0]) < everything


def test_ledger_dispute_reports_count_pages(client: Client) -> None:
    reports = BY_ID["ledger/dispute_reports"]
    first = client.page(reports)
    assert (first["page"], first["per_page"], first["total_pages"]) == (1, 20, 10)
    assert client.page(reports, per_page=30, page=7)["total_pages"] == math.ceil(200 / 30)
    beyond = client.page(reports, per_page=30, page=8)
    assert (beyond["items"], beyond["page"], beyond["total_pages"]) == ([], 8, 7)
    assert len(client.page(BY_ID["ledger/payout_reports"])) == 30  # default per_page
    assert len(client.page(BY_ID["ledger/disputes"])["data"]) == 10  # Stripe's default limit


def test_ledger_paging_fixtures_list_exactly_the_stripe_lists_records(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory()
    client = Client(sandbox)
    for fixture, listed in [("payout_reports", "payouts"), ("dispute_reports", "disputes")]:
        stripe_rows, _ = client.walk(BY_ID[f"ledger/{listed}"], limit=100)
        assert len(stripe_rows) == 200
        assert client.walk(BY_ID[f"ledger/{fixture}"], limit=30)[0] == stripe_rows, fixture
    touched = sandbox.touch("ledger", "disputes", "dp_000007")
    reports = client.page(BY_ID["ledger/dispute_reports"])["items"]
    assert next(row for row in reports if row["id"] == "dp_000007") == touched, "one record"
    control = f"{sandbox.base_url}/__records/ledger/dispute_reports/dp_000007/touch"
    assert requests.post(control, json={}, timeout=TIMEOUT).status_code == 404, "none of its own"


@pytest.mark.parametrize(
    ("endpoint_id", "param", "value"),
    [
        ("ledger/payouts", "per_page", 100),
        ("ledger/disputes", "page", 2),
        ("ledger/charges", "per_page", 100),
        ("ledger/subscriptions", "offset", 10),
    ],
)
def test_ledger_stripe_paging_refuses_other_forms_parameters_as_stripe_does(
    client: Client, endpoint_id: str, param: str, value: int
) -> None:
    response = client.get(BY_ID[endpoint_id], **{param: value})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "param": param,
            "message": f"Received unknown parameter: {param}",
        }
    }


def test_ledger_expand_customer_gives_the_customer_object(client: Client) -> None:
    charges = BY_ID["ledger/charges"]
    customers = {row["id"]: row for row in client.walk(BY_ID["ledger/customers"], limit=100)[0]}
    plain = client.page(charges, limit=20)["data"]
    expanded = client.page(charges, limit=20, **{"expand[]": ["data.customer", "no_such_field"]})
    assert all(isinstance(row["customer"], str) for row in plain)
    assert [row["customer"] for row in expanded["data"]] == [
        customers[row["customer"]] for row in plain
    ]
    assert [{**row, "customer": row["customer"]["id"]} for row in expanded["data"]] == plain


def test_ledger_balance_is_one_object(client: Client) -> None:
    body = client.page(BALANCE)
    assert set(body) == {"object", "livemode", "available", "pending"}
    assert (body["object"], body["livemode"]) == ("balance", False)
    for funds in (body["available"], body["pending"]):
        assert {row["currency"] for row in funds} == LEDGER_CURRENCIES
        assert all(isinstance(row["amount"], int) and row["amount"] >= 0 for row in funds)
    assert client.page(BALANCE, limit=1, page=3) == body  # no paging, no window


def test_ledger_records_look_like_stripe_objects(client: Client) -> None:
    rows = {e.resource: client.walk(e, limit=100)[0] for e in LEDGER}
    october = (epoch("2026-10-01T00:00:00Z"), epoch("2026-10-31T00:00:00Z"))
    for name, prefix in [("charges", "ch_"), ("customers", "cus_"), ("subscriptions", "sub_")]:
        assert rows[name][0]["id"] == f"{prefix}000001"
    for name, records in rows.items():
        assert all(record["object"] == name.removesuffix("s") for record in records)
        created = [record["created"] for record in records]
        assert created == sorted(created)  # creation order is id order
        assert all(isinstance(c, int) and october[0] <= c < october[1] for c in created)
    for name in ("charges", "payouts", "disputes"):
        assert {row["currency"] for row in rows[name]} == LEDGER_CURRENCIES
        assert all(isinstance(row["amount"], int) for row in rows[name])
    assert {row["status"] for row in rows["charges"]} == {"succeeded", "pending", "failed"}
    assert any(row["description"] is None for row in rows["charges"])
    assert all(row["metadata"]["order"] for row in rows["charges"])
    assert {row["status"] for row in rows["payouts"]} <= {"paid", "pending", "in_transit", "failed"}
    assert all(row["arrival_date"] > row["created"] for row in rows["payouts"])
    assert all("@" in row["email"] for row in rows["customers"])
    events = client.walk(LEDGER_EVENTS, limit=100)[0]
    assert events[0]["id"] == "evt_000001" and all(e["object"] == "event" for e in events)
    assert [e["created"] for e in events] == sorted(e["created"] for e in events)
    kinds = {e["type"].rpartition(".")[0] for e in events}
    assert kinds == {"charge", "charge.dispute", "customer.subscription"}
    objects = {e["data"]["object"]["object"] for e in events}
    assert objects == {"charge", "dispute", "subscription"}


def test_ledger_changes_after_creation_are_events_carrying_the_whole_object(
    sandbox_factory: Factory,
) -> None:
    clean = sandbox_factory()
    client = Client(clean)
    charges = BY_ID["ledger/charges"]
    [charge] = [c for c in client.walk(charges, limit=100)[0] if c["status"] == "succeeded"][:1]
    window = window_params(charges, "2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z")
    before = len(client.walk(LEDGER_EVENTS, limit=100, window=window)[0])
    changed = clean.touch("ledger", "charges", charge["id"], updated_at="2026-10-29T10:00:00Z")
    assert changed["created"] == charge["created"], "a refund moves no time a list filters on"
    assert 0 < changed["amount_refunded"] <= changed["amount"]
    listed = {c["id"]: c for c in client.walk(charges, limit=100)[0]}
    assert listed[charge["id"]] == changed, "lists show the current state, in the same window"
    events = client.walk(LEDGER_EVENTS, limit=100, window=window)[0]
    assert len(events) == before + 1
    [refund] = [e for e in events if e["created"] == epoch("2026-10-29T10:00:00Z")]
    assert (refund["type"], refund["data"]["object"]) == ("charge.refunded", changed)
    created = next(e for e in events if e["data"]["object"]["id"] == charge["id"])
    assert created["data"]["object"]["amount_refunded"] == 0, "older events keep older states"


def refunds_by_charge(refunds: list[dict[str, Any]]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for refund in refunds:
        summed[refund["charge"]] = summed.get(refund["charge"], 0) + refund["amount"]
    return summed


def test_ledger_refunds_are_one_object_per_rise_of_amount_refunded(
    sandbox: SandboxHandle, client: Client
) -> None:
    refunds, requests_made = client.walk(LEDGER_REFUNDS, limit=4)
    charges = {c["id"]: c for c in client.walk(BY_ID["ledger/charges"], limit=100)[0]}
    assert (len(refunds), requests_made) == (15, 4)
    assert all(set(r) == REFUND_FIELDS for r in refunds)
    assert all((r["object"], r["status"]) == ("refund", "succeeded") for r in refunds)
    assert len({r["id"] for r in refunds}) == 15 and all(r["id"][:3] == "re_" for r in refunds)
    assert all(r["currency"] == charges[r["charge"]]["currency"] for r in refunds)
    assert [r["created"] for r in refunds] == sorted(r["created"] for r in refunds)
    refunded = {cid: c["amount_refunded"] for cid, c in charges.items() if c["amount_refunded"]}
    assert refunds_by_charge(refunds) == refunded
    # Each is dated by the `charge.refunded` event of its rise, and named after it.
    told = {
        (e["data"]["object"]["id"], e["created"]): e["id"]
        for e in client.walk(LEDGER_EVENTS, limit=100)[0]
        if e["type"] == "charge.refunded"
    }
    assert {r["id"].removeprefix("re_") for r in refunds} == {
        told[(r["charge"], r["created"])].removeprefix("evt_") for r in refunds
    }
    page = client.page(LEDGER_REFUNDS, limit=5, starting_after=refunds[4]["id"])
    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/refunds", True)
    assert page["data"] == refunds[5:10]
    last = client.page(LEDGER_REFUNDS, limit=5, starting_after=refunds[9]["id"])
    assert (last["data"], last["has_more"]) == (refunds[10:], False)
    assert client.get(LEDGER_REFUNDS, starting_after="re_999999").status_code == 400
    assert client.get(LEDGER_REFUNDS, limit=101).status_code == 400
    wrong_key = {"Authorization": "Bearer sk_test_ledger_wrong"}
    refused = requests.get(sandbox.base_url + LEDGER_REFUNDS.path, headers=wrong_key, timeout=10)
    assert refused.json()["error"]["type"] == "authentication_error"
    low, high = "2026-10-10T00:00:00Z", "2026-10-20T00:00:00Z"
    window = window_params(LEDGER_REFUNDS, low, high)
    selected, _ = client.walk(LEDGER_REFUNDS, limit=2, window=window)
    assert selected == [r for r in refunds if epoch(low) <= r["created"] < epoch(high)]
    assert 0 < len(selected) < len(refunds)


def test_ledger_touch_refunds_a_charge_in_two_refunds_dated_by_the_touches(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory()
    client = Client(sandbox)
    charges = client.walk(BY_ID["ledger/charges"], limit=100)[0]
    charge = next(c for c in charges if c["status"] == "succeeded" and not c["amount_refunded"])
    pending = next(c for c in charges if c["status"] == "pending")
    before = client.walk(LEDGER_REFUNDS, limit=100)[0]
    first_at, second_at = "2026-10-20T08:00:00Z", "2026-10-27T16:30:00Z"
    partly = sandbox.touch("ledger", "charges", charge["id"], updated_at=first_at)
    whole = sandbox.touch("ledger", "charges", charge["id"], updated_at=second_at)
    sandbox.touch("ledger", "charges", charge["id"])  # refunded whole: nothing more goes back
    sandbox.touch("ledger", "charges", pending["id"])  # a pending charge took no money
    after = client.walk(LEDGER_REFUNDS, limit=3)[0]
    new = [r for r in after if r not in before]
    assert [(r["charge"], r["amount"], r["created"]) for r in new] == [
        (charge["id"], partly["amount_refunded"], epoch(first_at)),
        (charge["id"], whole["amount"] - partly["amount_refunded"], epoch(second_at)),
    ]
    assert 0 < partly["amount_refunded"] < whole["amount_refunded"] == whole["amount"]
    listed = {c["id"]: c["amount_refunded"] for c in client.walk(BY_ID["ledger/charges"], 100)[0]}
    assert refunds_by_charge(after) == {cid: amount for cid, amount in listed.items() if amount}
    late = window_params(LEDGER_REFUNDS, "2026-10-27T16:30:00Z", "2026-10-27T16:30:01Z")
    assert client.walk(LEDGER_REFUNDS, limit=10, window=late)[0] == new[1:]
    refused = requests.post(
        f"{sandbox.base_url}/__records/ledger/refunds/{new[0]['id']}/touch", json={}, timeout=10
    )
    assert refused.status_code == 404


@pytest.mark.parametrize("endpoint", [*LEDGER, *PAGING_FIXTURES, BALANCE], ids=lambda e: e.id)
def test_ledger_refuses_in_stripes_shape(
    sandbox: SandboxHandle, client: Client, endpoint: Endpoint
) -> None:
    refused = requests.get(
        sandbox.base_url + endpoint.path,
        headers={"Authorization": "Bearer sk_test_ledger_wrong"},
        timeout=TIMEOUT,
    )
    assert refused.status_code == 401
    assert set(refused.json()) == {"error"}
    assert refused.json()["error"]["type"] == "authentication_error"
    assert refused.json()["error"]["message"]
    if endpoint is BALANCE:
        return
    too_many = client.get(endpoint, **{endpoint.limit_param: 101})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["type"] == "invalid_request_error"
    assert len(endpoint.rows(client.page(endpoint, **{endpoint.limit_param: 100}))) == 100


@pytest.mark.parametrize(
    ("endpoint_id", "params"),
    [
        ("ledger/charges", {"starting_after": "ch_000201"}),
        ("ledger/charges", {"starting_after": "cus_000001"}),
        ("ledger/customers", {"page": "not-a-token"}),
        ("ledger/customers", {"page": "2"}),
        ("ledger/events", {"cursor": "forged"}),
        ("ledger/payout_reports", {"page": 0}),
        ("ledger/dispute_reports", {"page": "two"}),
        ("ledger/dispute_reports", {"per_page": 0}),
        ("ledger/payouts", {"starting_after": "po_000201"}),
        ("ledger/disputes", {"starting_after": "ch_000001"}),
        ("ledger/charges", {"created[gte]": "2026-10-01"}),  # epoch seconds, not ISO
    ],
)
def test_ledger_invalid_parameters_are_400(
    client: Client, endpoint_id: str, params: dict[str, Any]
) -> None:
    response = client.get(BY_ID[endpoint_id], **params)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("endpoint", "kept"),
    [
        (BY_ID["ledger/charges"], {"object", "url", "has_more"}),
        (BY_ID["ledger/customers"], {"object", "has_more", "next_page"}),
        (BY_ID["ledger/events"], {"next"}),
        (BY_ID["ledger/disputes"], {"object", "url", "has_more"}),
        (BY_ID["ledger/dispute_reports"], {"page", "per_page", "total_pages"}),
        (BY_ID["ledger/payout_reports"], set()),  # a bare list: an empty object in its place
        (BALANCE, {"object", "livemode", "pending"}),
    ],
    ids=lambda value: value.id if isinstance(value, Endpoint) else "",
)
def test_ledger_missing_selector_drops_the_data(
    clean: SandboxHandle, client: Client, endpoint: Endpoint, kept: set[str]
) -> None:
    clean.inject_fault(endpoint.path, "missing_selector", count=1)
    assert set(client.page(endpoint)) == kept
    assert clean.stats()["faults"] == {"missing_selector": 1}


def next_request(endpoint: Endpoint, response: requests.Response) -> Any:
    """What a client following the form asks for next: a parameter or a URL."""
    body = response.json()
    if endpoint.paging == "starting_after":
        return {"starting_after": body["data"][-1]["id"]} if body["has_more"] else None
    if endpoint.paging == "search_page":
        return {"page": body["next_page"]} if body["next_page"] else None
    if endpoint.paging == "next_url":
        return body["next"]
    if endpoint.paging == "link_header":
        return response.links.get("next", {}).get("url")
    return {"page": body["page"] + 1} if body["page"] < body["total_pages"] else None


@pytest.mark.parametrize("endpoint", [*LEDGER, *PAGING_FIXTURES], ids=lambda e: e.id)
def test_ledger_endless_cursor_never_ends(
    clean: SandboxHandle, client: Client, endpoint: Endpoint
) -> None:
    clean.inject_fault(endpoint.path, "endless_cursor")
    asked, pages, following = [], [], None
    for _ in range(4):
        response = (
            client.follow(endpoint, following)
            if isinstance(following, str)
            else client.get(endpoint, **{endpoint.limit_param: 100}, **(following or {}))
        )
        following = next_request(endpoint, response)
        assert following is not None
        asked.append(following)
        pages.append(endpoint.rows(response.json()))
    assert all(page == pages[0] and len(page) == 100 for page in pages)
    if endpoint.paging == "page_number":  # a page count that keeps growing
        assert [ask["page"] for ask in asked] == [2, 3, 4, 5]
    else:  # the same page asked for again and again
        assert len({str(ask) for ask in asked}) == 1
    clean.clear_faults()
    assert client.walk(endpoint, limit=100)[1] == 2


# --- data --------------------------------------------------------------------------------


def test_card_numbers_are_luhn_valid_and_order_refs_are_not(client: Client) -> None:
    rows, _ = client.walk(BY_ID["gateway/transactions"], limit=100)
    pans = [row["card"]["number"] for row in rows if "number" in row["card"]]
    assert 0.1 * len(rows) <= len(pans) <= 0.3 * len(rows)
    assert all(luhn_valid(pan) and len(pan) in (15, 16) for pan in pans)
    assert len(set(pans)) == len(pans)
    assert {pan[:6] for pan in pans} <= {"424242", "555555", "378282"}
    refs = [row["metadata"]["order_ref"] for row in rows]
    assert all(len(ref) == 16 and ref.isdigit() and not luhn_valid(ref) for ref in refs)


def test_about_a_third_of_records_change_after_creation(client: Client) -> None:
    rows, _ = client.walk(BY_ID["billing/charges"], limit=100)
    changed = [row for row in rows if row["updated_at"] > row["created_at"]]
    unchanged = [row for row in rows if row["updated_at"] == row["created_at"]]
    assert len(changed) + len(unchanged) == len(rows)
    assert 0.2 <= len(changed) / len(rows) <= 0.4


def test_references_point_at_existing_records(client: Client) -> None:
    def ids(endpoint_id: str, key: str = "id") -> set[str]:
        return {row[key] for row in client.walk(BY_ID[endpoint_id], limit=100)[0]}

    def refs(endpoint_id: str, field: str) -> set[str]:
        rows = client.walk(BY_ID[endpoint_id], limit=100)[0]
        return {row[field] for row in rows if row[field] is not None}

    assert refs("billing/charges", "customer_id") <= ids("billing/customers")
    assert refs("billing/invoices", "customer_id") <= ids("billing/customers")
    assert refs("billing/refunds", "charge_id") <= ids("billing/charges")
    assert refs("direct_debit/payments", "mandate_id") <= ids("direct_debit/mandates")
    assert refs("direct_debit/refunds", "payment_id") <= ids("direct_debit/payments")
    assert refs("gateway/list_payments", "transaction_id") <= ids("gateway/transactions")
    assert refs("commerce/charges", "customer_id") <= ids("commerce/customers", "customer_id")
    assert refs("ledger/charges", "customer") <= ids("ledger/customers")
    assert refs("ledger/disputes", "charge") <= ids("ledger/charges")
    events, _ = client.walk(BY_ID["ledger/events"], limit=100)
    told = {event["data"]["object"]["id"] for event in events}
    assert told == ids("ledger/charges") | ids("ledger/disputes") | ids("ledger/subscriptions")


def test_records_look_like_real_payments_data(client: Client) -> None:
    invoices, _ = client.walk(BY_ID["billing/invoices"], limit=100)
    transactions, _ = client.walk(BY_ID["gateway/transactions"], limit=100)
    customers, _ = client.walk(BY_ID["commerce/customers"], limit=100)
    assert all(isinstance(row["amount_due"], int) for row in invoices)
    assert all(
        sum(line["amount"] for line in row["lines"]) == row["amount_due"] for row in invoices
    )
    assert {row["currency"] for row in transactions} >= {"JPY", "USD", "EUR"}
    assert any(row["description"] is None for row in transactions)
    assert any(not row["customer"]["name"].isascii() for row in transactions)
    assert all(isinstance(row["first_seen"], int) for row in customers)
    assert transactions[0]["id"] == "txn_000001"


# --- faults ------------------------------------------------------------------------------


def test_fail_rate_answers_some_requests_with_5xx(sandbox_factory: Factory) -> None:
    flaky = Client(sandbox_factory(fail_rate=0.5))
    statuses = [flaky.get(BY_ID["billing/charges"]).status_code for _ in range(40)]
    assert {s for s in statuses if s != 200} <= {500, 502, 503, 504}
    assert 5 <= sum(s != 200 for s in statuses) <= 35
    assert sum(flaky.sandbox.stats()["faults"].values()) == sum(s != 200 for s in statuses)


def test_rate_limit_answers_429_with_retry_after(sandbox_factory: Factory) -> None:
    limited = Client(sandbox_factory(rate_limit=5))
    responses = [limited.get(BY_ID["commerce/products"], limit=1) for _ in range(30)]
    throttled = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in responses[:5]] == [200] * 5
    assert throttled and all(r.headers["Retry-After"] == "1" for r in throttled)
    assert limited.get(BY_ID["billing/charges"], limit=1).status_code == 200  # per provider
    time.sleep(1.0)
    assert limited.get(BY_ID["commerce/products"], limit=1).status_code == 200


@pytest.mark.timeout(30)
def test_rate_limit_is_per_credential(sandbox_factory: Factory) -> None:
    # 3 requests/s: a spent bucket takes a third of a second to allow one more, far longer
    # than the requests below take, so the order of 200s and 429s does not depend on timing.
    sandbox = sandbox_factory(rate_limit=3, accounts=2)
    assert sandbox.env["PAYMENTS_LEDGER_ACCT2_SECRET_KEY"] == f"{LEDGER_KEY}_acct2"
    first, second = Client(sandbox), Client(sandbox, account=2)
    charges = BY_ID["ledger/charges"]
    burst = [first.get(charges, limit=1) for _ in range(10)]
    other = [second.get(charges, limit=1) for _ in range(3)]  # account 2's own budget
    again = first.get(charges, limit=1)  # account 1 is still out of budget
    assert [r.status_code for r in burst[:3]] == [200] * 3
    assert [r.status_code for r in other] == [200] * 3
    assert again.status_code == 429
    assert again.headers["Retry-After"] == "1"
    assert again.json()["error"]["type"] == "rate_limit_error"
    throttled = sum(r.status_code == 429 for r in [*burst, again])
    assert throttled >= 7
    stats = sandbox.stats()
    assert stats["rate_limited"] == {"ledger": throttled}
    assert stats["faults"] == {"429": throttled}
    assert stats["requests_by_account"] == {"ledger/acct1": 11, "ledger/acct2": 3}


def test_stats_time_the_data_requests_of_each_provider(
    clean: SandboxHandle, client: Client
) -> None:
    client.get(BY_ID["gateway/transactions"], limit=1)  # its token request is not counted
    for _ in range(11):
        client.get(BY_ID["ledger/events"], limit=1)
        time.sleep(0.1)
    requests.get(clean.base_url + "/ledger/v1/events", timeout=TIMEOUT)  # refused, yet sent
    stats = clean.stats()
    assert stats["data_requests"] == {"gateway": 1, "ledger": 12}
    assert stats["request_span_seconds"]["gateway"] == 0
    assert 1.0 <= stats["request_span_seconds"]["ledger"] < 1.6
    assert stats["rate_limited"] == {}
    clean.reset_stats()
    reset = clean.stats()
    assert (reset["data_requests"], reset["request_span_seconds"]) == ({}, {})


def test_latency_delays_every_data_page(sandbox_factory: Factory) -> None:
    slow = Client(sandbox_factory(latency_ms=50))
    slow.get(BY_ID["billing/charges"], limit=1)  # warm the connection
    for _ in range(3):
        started = time.perf_counter()
        assert slow.get(BY_ID["billing/charges"], limit=1).status_code == 200
        assert time.perf_counter() - started >= 0.04


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("html", 200, "text/html"),
        ("html_500", 500, "text/html"),
        ("truncated_json", 200, "application/json"),
        ("empty_body", 200, "application/json"),
        ("invalid_request", 400, "application/json"),
        ("status:404", 404, "application/json"),
    ],
)
def test_injected_fault_breaks_exactly_the_next_requests(
    clean: SandboxHandle, client: Client, kind: str, status: int, content_type: str
) -> None:
    endpoint = BY_ID["billing/charges"]
    clean.inject_fault("/billing/v1/charges", kind, count=2)
    broken = [client.get(endpoint, limit=5) for _ in range(2)]
    assert [r.status_code for r in broken] == [status, status]
    assert all(r.headers["content-type"].startswith(content_type) for r in broken)
    with pytest.raises((ValueError, KeyError)):
        broken[0].json()["data"]
    assert len(client.page(endpoint, limit=5)["data"]) == 5


def test_missing_selector_drops_only_the_data_key(clean: SandboxHandle, client: Client) -> None:
    endpoint = BY_ID["direct_debit/payouts"]
    clean.inject_fault("/direct_debit/", "missing_selector", count=1)
    body = client.page(endpoint, limit=5)
    assert "payouts" not in body and "meta" in body
    assert len(client.page(endpoint, limit=5)["payouts"]) == 5


@pytest.mark.parametrize("endpoint_id", ["gateway/transactions", "direct_debit/refunds"])
def test_endless_cursor_repeats_the_same_cursor(
    clean: SandboxHandle, client: Client, endpoint_id: str
) -> None:
    endpoint = BY_ID[endpoint_id]
    clean.inject_fault(endpoint.path, "endless_cursor")
    cursor_param = "cursor" if endpoint.provider == "gateway" else "after"
    cursors, params = [], {"limit": 100}
    for _ in range(5):
        body = client.page(endpoint, **params)
        cursor = body.get("next_cursor") or body.get("meta", {})["cursors"]["after"]
        cursors.append(cursor)
        params[cursor_param] = cursor
    assert len(set(cursors)) == 1 and cursors[0] is not None
    clean.clear_faults()
    assert client.walk(endpoint, limit=100)[1] == 2


def test_fault_applies_only_to_paths_under_its_prefix(clean: SandboxHandle, client: Client) -> None:
    clean.inject_fault("/billing/", "status:503")
    assert client.get(BY_ID["billing/refunds"]).status_code == 503
    assert client.get(BY_ID["billing/customers"]).status_code == 503
    assert client.get(BY_ID["commerce/charges"]).status_code == 200
    clean.clear_faults()
    assert client.get(BY_ID["billing/refunds"]).status_code == 200


def test_unknown_fault_kind_is_rejected(sandbox: SandboxHandle) -> None:
    response = requests.post(
        f"{sandbox.base_url}/__faults", json={"path": "/billing", "kind": "boom"}, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert "kind" in response.json()["message"]


# --- determinism, touch, stats, CLI ------------------------------------------------------


def page_bytes(client: Client, endpoint_id: str) -> bytes:
    endpoint = BY_ID[endpoint_id]
    first = client.page(endpoint, limit=20)
    after = first.get("next_cursor") or first.get("meta", {}).get("cursors", {}).get("after")
    follow = {"cursor": after} if endpoint.provider == "gateway" else {"after": after}
    second = client.get(endpoint, limit=20, **(follow if after else {"offset": 20}))
    return client.get(endpoint, limit=20).content + second.content


def test_same_seed_gives_byte_identical_pages(client: Client, sandbox_factory: Factory) -> None:
    twin = Client(sandbox_factory(seed=1))
    other = Client(sandbox_factory(seed=2))
    for endpoint_id in ("gateway/transactions", "billing/invoices", "direct_debit/mandates"):
        assert page_bytes(client, endpoint_id) == page_bytes(twin, endpoint_id)
        assert page_bytes(client, endpoint_id) != page_bytes(other, endpoint_id)
    # Ledger bodies hold no URL (events' `next` names the port, so it is left out here).
    for endpoint in [BALANCE, *(BY_ID[f"ledger/{name}"] for name in ("charges", "disputes"))]:
        assert client.get(endpoint).content == twin.get(endpoint).content
        assert client.get(endpoint).content != other.get(endpoint).content


# sha256 of `page_bytes` of every shipped list endpoint (and of the gateway balances), in LISTS
# order, at the session's options, served by the sandbox as it was before the ledger: adding a
# provider or a paging form must not move a byte of the four shipped ones.
SHIPPED_PAGES_SHA256 = "b4782567d58d9c5c7aec544540d2016110687ecc4f5a59e248a7cafbf81ddc6f"


def test_shipped_providers_serve_the_bytes_they_always_did(client: Client) -> None:
    digest = hashlib.sha256()
    for endpoint in SHIPPED:
        digest.update(page_bytes(client, endpoint.id))
    digest.update(client.get(Endpoint("gateway", "balances", "/gateway/v1/balances", "")).content)
    assert digest.hexdigest() == SHIPPED_PAGES_SHA256


def test_touch_moves_a_record_into_a_later_window(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    client = Client(sandbox)
    endpoint = BY_ID["billing/charges"]
    late = window_params(endpoint, "2026-10-28T00:00:00Z", "2026-10-29T00:00:00Z")
    before, _ = client.walk(endpoint, limit=100, window=late)
    original = client.page(endpoint, limit=1)["data"][0]
    touched = sandbox.touch("billing", "charges", original["id"], "2026-10-28T12:00:00Z")
    after, _ = client.walk(endpoint, limit=100, window=late)
    assert touched["updated_at"] == "2026-10-28T12:00:00Z"
    assert touched["status"] != original["status"]
    assert original["id"] not in {row["id"] for row in before}
    assert [row["id"] for row in after] == [original["id"]] + [row["id"] for row in before]
    assert client.page(endpoint, limit=1)["data"][0] == touched


def test_touch_without_time_moves_to_now_clamped_into_the_range(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory()
    first = Client(sandbox).page(BY_ID["commerce/charges"], limit=1)["data"][0]
    touched = sandbox.touch("commerce", "charges", first["charge_id"])
    now = int(datetime.now(timezone.utc).timestamp())
    expected = min(max(now, epoch("2026-10-01T00:00:00Z")), epoch("2026-10-30T23:59:59Z"))
    assert abs(epoch(touched["occurred"]) - expected) <= 5
    assert touched["status"] != first["status"]


# --- deletions ---------------------------------------------------------------------------

BILLING_EVENTS = Endpoint(
    "billing", "events", "/billing/v1/events", "total", "created", ("created_gte", "created_lt")
)


@pytest.mark.parametrize(
    ("record", "field", "value"),
    [("commerce/customers", "deleted", True), ("direct_debit/mandates", "status", "deleted")],
)
def test_a_flag_or_status_deletion_keeps_the_record_listed_marked_and_updated(
    sandbox_factory: Factory, record: str, field: str, value: Any
) -> None:
    sandbox = sandbox_factory()
    client = Client(sandbox)
    endpoint = BY_ID[record]
    original = endpoint.rows(client.page(endpoint, limit=1))[0]
    key = key_of(endpoint)
    answer = sandbox.delete(
        endpoint.provider, endpoint.resource, original[key], "2026-10-28T12:00:00Z"
    )
    late = window_params(endpoint, "2026-10-28T00:00:00Z", "2026-10-29T00:00:00Z")
    after, _ = client.walk(endpoint, limit=100, window=late)
    [listed] = [row for row in after if row[key] == original[key]]
    assert answer["deleted"] == listed and listed[field] == value
    assert moment_of(endpoint, listed) == epoch("2026-10-28T12:00:00Z")
    everything, _ = client.walk(endpoint, limit=100)
    assert sum(row[key] == original[key] for row in everything) == 1


def test_a_vanishing_deletion_leaves_every_list_and_is_logged_as_an_event(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory()
    client = Client(sandbox)
    customers = BY_ID["billing/customers"]
    before, _ = client.walk(customers, limit=7)
    victim = before[3]["id"]
    answer = sandbox.delete("billing", "customers", victim, "2026-10-20T08:00:00Z")
    after, _ = client.walk(customers, limit=7)
    assert answer == {"deleted": {"id": victim, "deleted": True}, "style": "vanish"}
    assert [row["id"] for row in after] == [row["id"] for row in before if row["id"] != victim]
    assert client.page(customers, limit=1)["total"] == len(before) - 1
    events, _ = client.walk(BILLING_EVENTS, limit=100)
    deletions = [e for e in events if e["type"].endswith(".deleted")]
    assert [(e["type"], e["data"]["object"], e["created"]) for e in deletions] == [
        ("customers.deleted", {"id": victim, "deleted": True}, "2026-10-20T08:00:00Z")
    ]
    day = window_params(BILLING_EVENTS, "2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z")
    assert deletions[0] in client.walk(BILLING_EVENTS, limit=100, window=day)[0]
    outside = window_params(BILLING_EVENTS, "2026-10-21T00:00:00Z", "2026-10-22T00:00:00Z")
    assert deletions[0] not in client.walk(BILLING_EVENTS, limit=100, window=outside)[0]


def test_billing_events_list_every_update_of_the_records_history_in_time_order(
    client: Client,
) -> None:
    """One `<resource>.updated` event per record updated after its creation, at that time."""
    expected = set()
    for name in ("customers", "invoices", "charges", "subscriptions", "refunds"):
        rows, _ = client.walk(BY_ID[f"billing/{name}"], limit=100)
        expected |= {
            (f"{name}.updated", row["id"], row["updated_at"])
            for row in rows
            if row["updated_at"] > row["created_at"]
        }
    events, _ = client.walk(BILLING_EVENTS, limit=100)
    listed = [(e["type"], e["data"]["object"]["id"], e["created"]) for e in events]
    assert expected and set(listed) == expected and len(listed) == len(expected)
    assert [e["created"] for e in events] == sorted(e["created"] for e in events)
    assert len({e["id"] for e in events}) == len(events)
    october_3 = window_params(BILLING_EVENTS, "2026-10-03T00:00:00Z", "2026-10-04T00:00:00Z")
    that_day, _ = client.walk(BILLING_EVENTS, limit=7, window=october_3)
    assert that_day == [e for e in events if e["created"].startswith("2026-10-03")]


def test_a_deleted_record_cannot_be_deleted_or_touched_again_and_events_are_not_records(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory()
    victim = Client(sandbox).page(BY_ID["billing/customers"], limit=1)["data"][0]["id"]
    sandbox.delete("billing", "customers", victim)
    for action in ("delete", "touch"):
        again = requests.post(
            f"{sandbox.base_url}/__records/billing/customers/{victim}/{action}", timeout=TIMEOUT
        )
        assert again.status_code == 409 and again.json()["error"] == "deleted"
    event = requests.post(
        f"{sandbox.base_url}/__records/billing/events/evt_000001/delete", timeout=TIMEOUT
    )
    assert event.status_code == 404


def test_deletions_in_one_account_leave_another_accounts_records_alone(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory(accounts=2)
    first, second = Client(sandbox, 1), Client(sandbox, 2)
    customers = BY_ID["billing/customers"]
    victim = first.page(customers, limit=1)["data"][0]["id"]
    sandbox.delete("billing", "customers", victim, account=1)
    assert victim not in {row["id"] for row in first.walk(customers, limit=100)[0]}
    assert victim in {row["id"] for row in second.walk(customers, limit=100)[0]}
    assert not [e for e in second.walk(BILLING_EVENTS, limit=100)[0] if "deleted" in e["type"]]


def test_stats_count_requests_per_path_without_query_strings(
    clean: SandboxHandle, client: Client
) -> None:
    for _ in range(3):
        client.get(BY_ID["billing/charges"], limit=1, offset=5)
    requests.get(clean.base_url + "/billing/v1/charges", timeout=TIMEOUT)  # no key
    client.get(BY_ID["gateway/transactions"])
    clean.inject_fault("/commerce", "status:500", count=1)
    client.get(BY_ID["commerce/charges"])
    stats = clean.stats()
    assert stats["requests"] == {
        "/billing/v1/charges": 4,
        "/gateway/oauth/token": 1,
        "/gateway/v1/transactions": 1,
        "/commerce/v1/charges": 1,
    }
    assert stats["requests_total"] == 7
    assert (stats["auth_failures"], stats["tokens_issued"], stats["faults"]) == (1, 1, {"500": 1})
    clean.reset_stats()
    assert clean.stats()["requests_total"] == 0


def test_server_never_logs_a_credential(clean: SandboxHandle, client: Client) -> None:
    for endpoint in LISTS:
        client.get(endpoint, limit=1)
    requests.get(clean.base_url + "/billing/v1/charges?api_key=bk_test_key_typo", timeout=TIMEOUT)
    requests.get(clean.base_url + "/nowhere?api_key=" + API_KEY, timeout=TIMEOUT)
    output = clean.output()
    secrets = (
        CLIENT_SECRET,
        API_KEY,
        DEBIT_TOKEN,
        COMMERCE_PASSWORD,
        LEDGER_KEY,
        "bk_test_key_typo",
    )
    assert not [secret for secret in secrets if secret in output]
    assert not [path for path in clean.stats()["requests"] if "?" in path or "key" in path]


def test_large_dataset_serves_any_page_without_materialising_it(sandbox_factory: Factory) -> None:
    client = Client(sandbox_factory(records=1_000_000))
    started = time.perf_counter()
    last = client.page(BY_ID["billing/charges"], limit=100, offset=999_900)
    window = window_params(
        BY_ID["direct_debit/payments"], "2026-10-20T00:00:00Z", "2026-10-21T00:00:00Z"
    )
    windowed = client.page(BY_ID["direct_debit/payments"], limit=500, **window)
    assert (last["total"], last["data"][-1]["id"]) == (1_000_000, "ch_1000000")
    assert len(windowed["payments"]) == 500
    assert time.perf_counter() - started < 10


def test_env_command_prints_export_lines() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "payments_assets.sandbox", "env", "--port", "9999"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    lines = printed.splitlines()
    assert "export PAYMENTS_BILLING_BASE_URL='http://127.0.0.1:9999/billing'" in lines
    assert "export PAYMENTS_COMMERCE_BASE_URL='http://127.0.0.1:9999/commerce/v1/'" in lines
    assert f"export PAYMENTS_GATEWAY_CLIENT_SECRET='{CLIENT_SECRET}'" in lines
    assert "export PAYMENTS_BILLING_WEBHOOK_SECRET='whsec_test_billing_9b2d4c6e'" in lines
    assert "export PAYMENTS_LEDGER_BASE_URL='http://127.0.0.1:9999/ledger'" in lines
    assert f"export PAYMENTS_LEDGER_SECRET_KEY='{LEDGER_KEY}'" in lines
    assert "export PAYMENTS_LEDGER_WEBHOOK_SECRET='whsec_test_ledger_7d1b3f9a'" in lines
    assert len(lines) == 18 and all(line.startswith("export PAYMENTS_") for line in lines)
