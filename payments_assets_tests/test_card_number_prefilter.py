"""The fast rejections in front of the card-number rule never let a card number through.

Masking looks at a value one by one only when a cheap C-level check flags it: a serialised
record needs a stretch of 13 digits-or-separators before PAN_HINT is searched in it, strings
need PAN_HINT (Python's regex, or RE2 over an Arrow column) before the rule runs, and Luhn is
summed with `str.translate`. Each of these must be exact where it matters: a record, string or
column holding a card number, in any grouping the rule accepts, is always flagged.
"""

from __future__ import annotations

import copy
import json
import re

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from payments_assets.card_numbers import (
    PAN_HINT,
    SEPARATORS,
    luhn_valid,
    mask_card_numbers,
    mask_strings,
    may_hold_card_number,
    serialised_may_hold_card_number,
)

from .card_fixtures import card_numbers, leaked, objects, text_with_card, written

FAST = settings(max_examples=200, deadline=None)
NOISE = st.text(
    st.sampled_from([*"0123456789", *SEPARATORS, "x", '"', "\\", "é", "+", "/", "\n"]),
    max_size=60,
)
"""Text made mostly of what card numbers are made of: digits, separators, a few others."""


def textbook_luhn(digits: str) -> bool:
    """Luhn as written in ISO/IEC 7812-1, digit by digit: the reference for the fast one."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@FAST
@given(st.text("0123456789", min_size=1, max_size=40))
def test_luhn_agrees_with_the_textbook_check(digits):
    assert luhn_valid(digits) == textbook_luhn(digits)


@FAST
@given(card_numbers())
def test_every_generated_card_number_passes_luhn(pan):
    assert luhn_valid(pan)


@FAST
@given(NOISE)
def test_the_serialised_prefilter_is_exactly_the_hint_search(text):
    serialised = orjson.dumps({"note": text, "lines": [{"text": text}]})
    expected = re.search(PAN_HINT.encode(), serialised) is not None
    assert serialised_may_hold_card_number(serialised) == expected


@FAST
@given(text_with_card(), NOISE, NOISE)
def test_a_record_holding_a_written_card_number_is_always_flagged_and_masked(drawn, before, after):
    text, pan = drawn
    # Noise kept off the card number by two characters, so it cannot join the number's run.
    note = f"{before}xx{text}xx{after}"
    record = {"id": "in_1", "lines": [{"description": note, "amount": 100}], "memo": note}
    assert serialised_may_hold_card_number(orjson.dumps(record))
    assert may_hold_card_number(note)
    masked = mask_card_numbers(copy.deepcopy(record))
    assert leaked(json.dumps(masked), [pan]) == []


@FAST
@given(st.data())
def test_nested_records_with_card_numbers_anywhere_are_flagged(data):
    pans: list[str] = []
    record = data.draw(objects(pans, lists=True))
    serialised = orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
    if leaked(serialised.decode(), pans):  # drawn leaves a dict key replaced are not in it
        assert serialised_may_hold_card_number(serialised)
    assert leaked(json.dumps(mask_card_numbers(copy.deepcopy(record))), pans) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(NOISE, text_with_card().map(lambda drawn: drawn[0])), max_size=30))
def test_an_arrow_column_is_masked_as_each_of_its_strings_is(texts):
    column = mask_strings(pa.array(texts, pa.string())).to_pylist()
    expected = [mask_card_numbers({"v": text})["v"] for text in texts]
    assert column == expected


@FAST
@given(card_numbers().flatmap(lambda pan: st.tuples(st.just(pan), written(pan))))
def test_a_card_number_alone_as_a_key_or_value_is_flagged(drawn):
    pan, shape = drawn
    for record in ({"k": shape}, {shape: 1}, [shape], {"k": int(pan)}):
        assert serialised_may_hold_card_number(orjson.dumps(record))
