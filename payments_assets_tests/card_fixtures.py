"""Fixtures for the card-number tests: generators of card numbers as people write them, and a
small JSON API on loopback that serves whatever records a test hands it.

Loaded from conftest through `pytest_plugins`. The API is a real HTTP server (a thread of the
test process, so a test can hand it records that hypothesis just drew), spoken to through the
project's own provider YAML and dlt source, like any provider.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from payments_assets.sandbox.cards import BRANDS, SEPARATORS
from payments_assets.sandbox.cards import luhn_check_digit as check_digit

TOKEN = "fuzz_test_token_0d1e2f"
FUZZ_PROVIDER = """\
description: A made-up API that serves whatever the card-number tests hand it.
partitions: {start: "2026-10-01"}
client:
  base_url: {env: PAYMENTS_FUZZ_BASE_URL}
  auth: {type: bearer, token: {env: PAYMENTS_FUZZ_TOKEN}}
resource_defaults:
  primary_key: id
  write_disposition: merge
  endpoint: {paginator: {type: single_page}, data_selector: data}
resources:
  - name: notes
    description: Flat and nested objects (the Arrow page path).
    endpoint: {path: /notes}
    columns: {sent_at_ms: {data_type: timestamp}}
  - name: orders
    description: Objects with lists (dlt's dict path, child tables).
    endpoint: {path: /orders}
  - name: events
    description: A JSON column.
    endpoint: {path: /events}
    columns: {payload: {data_type: json}}
"""


# Card numbers -----------------------------------------------------------------------------------


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid number of any major brand, in any of the brand's lengths."""
    brand = draw(st.sampled_from(sorted(BRANDS)))
    prefixes, lengths = BRANDS[brand]
    prefix, length = draw(st.sampled_from(prefixes)), draw(st.sampled_from(lengths))
    size = length - len(prefix) - 1
    body = prefix + draw(st.text("0123456789", min_size=size, max_size=size))
    return body + str(check_digit(body))


@st.composite
def written(draw: st.DrawFn, pan: str) -> str:
    """`pan` as someone would type it: unbroken, 4-4-4-4(-3), 4-6-5, or any grouping."""
    style = draw(st.sampled_from(("plain", "fours", "amex", "any")))
    if style == "plain":
        return pan
    if style == "any":
        cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=len(pan) - 1)))
    else:
        size = (4, 6, len(pan) - 10) if style == "amex" else (4,) * (len(pan) // 4 + 1)
        cuts = [sum(size[: i + 1]) for i in range(len(size)) if sum(size[: i + 1]) < len(pan)]
    # Two groups joined by one dot read as a decimal number, which the rule leaves alone.
    separators = st.sampled_from(SEPARATORS if len(cuts) > 1 else (" ", "-"))
    mixed = draw(st.booleans())
    one = draw(separators)
    text, start = "", 0
    for cut in [*cuts, len(pan)]:
        text += (draw(separators) if mixed else one) if start else ""
        text += pan[start:cut]
        start = cut
    return text


WORDS = st.text(
    st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="+"), max_size=12
)
"""Text around a card number: anything but digits (they would join its run) and `+` (a phone)."""


@st.composite
def text_with_card(draw: st.DrawFn) -> tuple[str, str]:
    """(free text holding a written card number, the card number's digits)."""
    pan = draw(card_numbers())
    shape = draw(written(pan))
    if draw(st.booleans()):  # next to other numbers: an amount before, a date after
        amount = draw(st.decimals(0, 10_000, places=2).map(str))
        return f"{draw(WORDS)}{amount} EUR by {shape} on 2026-10-0{draw(st.integers(1, 9))}", pan
    return f"{draw(WORDS)} {shape} {draw(WORDS)}", pan


# Records holding them -------------------------------------------------------------------------

KEYS = st.sampled_from(("note", "memo", "reference", "label", "detail", "comment"))


def leaf(pans: list[str]) -> st.SearchStrategy[Any]:
    """A value that may hold a card number (as text, an integer or a float) or be ordinary."""

    def remember(drawn: tuple[str, str]) -> str:
        pans.append(drawn[1])
        return drawn[0]

    def as_number(pan: str) -> int:
        pans.append(pan)
        return int(pan)

    return st.one_of(
        text_with_card().map(remember),
        card_numbers().map(as_number),
        st.integers(0, 10**11),
        st.text(max_size=20),
        st.none(),
    )


def objects(pans: list[str], lists: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Nested objects (and lists of them, when `lists`) with card numbers at random places."""
    values = st.recursive(
        leaf(pans),
        lambda inner: (
            st.dictionaries(KEYS, inner, max_size=3) | st.lists(inner, max_size=3)
            if lists
            else st.dictionaries(KEYS, inner, max_size=3)
        ),
        max_leaves=6,
    )
    return st.dictionaries(KEYS, values, min_size=1, max_size=4)


_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ .\-](?=\d)")


def leaked(text: str, pans: list[str]) -> list[str]:
    """Which of `pans` can still be read in `text`, in any written form: found independently of
    the rule under test, by joining every digit group a single separator splits."""
    joined = _BETWEEN_DIGITS.sub("", text)
    return sorted({pan for pan in pans if pan in joined})


# The API ----------------------------------------------------------------------------------------


class JsonApi:
    """Pages by path, served as `{"data": [...]}` to requests carrying the bearer token."""

    def __init__(self) -> None:
        self.pages: dict[str, list[dict[str, Any]]] = {}
        self.html: str | None = None  # when set, every path answers this HTML page instead
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._answer(401, {"error": "invalid_token"})
                elif api.html is not None:
                    self._answer(200, api.html, "text/html")
                elif self.path.split("?")[0] not in api.pages:
                    self._answer(404, {"error": "not_found"})
                else:
                    self._answer(200, {"data": api.pages[self.path.split("?")[0]]})

            def _answer(self, status: int, body: Any, kind: str = "application/json") -> None:
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def json_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[JsonApi]:
    """A running `JsonApi`, and a provider YAML `fuzz` pointed at it (in `tmp_path/providers`)."""
    api = JsonApi()
    api.thread.start()
    monkeypatch.setenv("PAYMENTS_FUZZ_BASE_URL", api.base_url)
    monkeypatch.setenv("PAYMENTS_FUZZ_TOKEN", TOKEN)
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "fuzz.yaml").write_text(FUZZ_PROVIDER, encoding="utf-8")
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
