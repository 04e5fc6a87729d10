"""Card numbers (PANs) never land in clear, however they are written (PCI DSS 3.3/3.4).

One rule, used by every path a value can take (Arrow pages, dlt's dict rows, webhook payloads,
exports, metadata, log lines and errors): a PAN is 13 to 19 digits, optionally grouped by single
spaces, dashes or dots (`4000 0566 5566 5556`, `3782-822463-10005`, `4242.4242.4242.4242`, any
grouping), that passes the Luhn check. Its first 6 and last 4 digits stay, every other digit
becomes `*`, and the text around it is kept. Integers (and integral floats) of 13 to 19 digits
are card numbers too when they pass Luhn, and become masked text.

Deliberately so: a false positive (a long order number that happens to pass Luhn, one in ten)
costs a masked reference; a false negative puts the warehouse in PCI scope. Three kinds of
number are known not to be cards and are left alone: a digit run written after `+` (an E.164
phone number), the fraction of a decimal written with one dot (`0.5409114360809326`), and a
number in a column the provider YAML types as `timestamp` or `date` (epoch milliseconds).

Not caught, by design: digits separated by anything else or by two characters (`4242 / 4242`,
`4242  4242`), a PAN glued to a longer unbroken digit run or written right after `+`, PANs split
across fields, spelled out, encoded (base64, URL-encoded), or shorter than 13 digits. See
docs/trust.md.

Plain Python (no dlt, no Dagster); the Arrow helpers import pyarrow only when called.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

MIN_DIGITS, MAX_DIGITS = 13, 19
KEEP_FIRST, KEEP_LAST = 6, 4
MASK = "*"
SEPARATORS = " .-"

PAN_HINT = r"[0-9](?:[ .\-]?[0-9]){12}"
"""Thirteen digits, each pair at most one separator apart: every PAN contains such a run. Cheap
to search (C or RE2), so strings without one never reach the Python rule; valid in RE2 too.
ASCII digits only, as card numbers are written (Python's digit class would take any script's)."""

_HINT = re.compile(PAN_HINT)
_HINT_IN_JSON = re.compile(PAN_HINT.encode())
# Every PAN_HINT match is a stretch of 13 or more bytes that are digits or separators. One
# `bytes.translate` (digits and separators to 0, every other byte to 1) and one substring find
# of 13 zero bytes locate the first such stretch in a serialised record at C speed, several
# times faster than a regex; most records have none, and PAN_HINT is searched from there on.
_PAN_BYTES = bytes(0 if chr(byte) in "0123456789" + SEPARATORS else 1 for byte in range(256))
_PAN_STRETCH = bytes(MIN_DIGITS)
_RUN = re.compile(r"\+?[0-9]+(?:[ .\-][0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS
_DIGITS_OR_MASK = frozenset("0123456789" + MASK)
_SMALLEST = 10 ** (MIN_DIGITS - 1)
_LARGEST = 10**MAX_DIGITS
_DOUBLED = str.maketrans("0123456789", "0246813579")  # 2d, minus 9 when that is above 9


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits.

    Every second digit from the right is doubled (its digit sum: one digit again, `_DOUBLED`),
    then all digits are summed as bytes: C loops, no Python loop per digit."""
    kept, doubled = digits[-1::-2], digits[-2::-2].translate(_DOUBLED)
    return (sum((kept + doubled).encode()) - 48 * len(digits)) % 10 == 0


def may_hold_card_number(text: str) -> bool:
    """The cheap pre-filter: False means `text` certainly holds no card number."""
    return _HINT.search(text) is not None


def card_number_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every card number in `text`, from its first digit to its last.

    Digit groups split by one separator form a run; any stretch of whole groups with 13-19
    digits that passes Luhn is a card number (stretches may overlap: all of them are reported,
    so a PAN written next to other numbers, `12.50 4242 4242 4242 4242`, is still found). Two
    groups joined by one dot are a decimal number (`0.5409114360809326`): only its integer part
    can be a card, as for a number.
    """
    return _spans(text) if may_hold_card_number(text) else []


def _spans(text: str) -> list[tuple[int, int]]:
    """`card_number_spans` for text the pre-filter already flagged (it is not searched twice)."""
    spans = []
    for run in _RUN.finditer(text):
        groups = [(m.start() + run.start(), m.group()) for m in _DIGIT_GROUP.finditer(run.group())]
        if len(groups) == 2 and text[groups[1][0] - 1] == ".":
            groups = groups[:1]  # a decimal number: its fraction digits are never a card
        # `+44 20 7946 0958`: a phone number starts at the `+`, so no card number starts there.
        phone = run.group().startswith("+")
        for first in range(1 if phone else 0, len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][1]
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                    start, group = groups[last]
                    spans.append((groups[first][0], start + len(group)))
    return spans


def find_card_numbers(text: str) -> list[str]:
    """The card numbers in `text`, digits only (what a scan for leaks reports)."""
    return [
        "".join(_DIGIT_GROUP.findall(text[start:end])) for start, end in card_number_spans(text)
    ]


def mask_text(text: str) -> str:
    """`text` with every card number in it masked to first 6 / last 4; the rest untouched."""
    return _masked(text) if may_hold_card_number(text) else text


def _masked(text: str) -> str:
    """`mask_text` for text the pre-filter already flagged."""
    spans = _spans(text)
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        positions = [i for i in range(start, end) if chars[i] in _DIGITS_OR_MASK]
        for i in positions[KEEP_FIRST:-KEEP_LAST]:
            chars[i] = MASK
    return "".join(chars)


def is_card_number_integer(value: int) -> bool:
    """An integer of 13-19 digits that passes Luhn (a PAN sent as a JSON number)."""
    magnitude = -value if value < 0 else value
    return _SMALLEST <= magnitude < _LARGEST and luhn_valid(str(magnitude))


def _number_as_card(value: int | float) -> str | None:
    """The masked text of a number that is a card number, else None."""
    if isinstance(value, float):
        if not (value.is_integer() and _SMALLEST <= abs(value) < _LARGEST):
            return None
        value = int(value)
    if not is_card_number_integer(value):
        return None
    digits = str(abs(value))
    return digits[:KEEP_FIRST] + MASK * (len(digits) - KEEP_FIRST - KEEP_LAST) + digits[-KEEP_LAST:]


def mask_value(value: Any) -> Any:
    """A scalar with card numbers masked: text in place, a PAN-valued number as masked text."""
    if isinstance(value, str):
        return mask_text(value) if len(value) >= MIN_DIGITS else value
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and abs(value) >= _SMALLEST:
        masked = _number_as_card(value)
        return value if masked is None else masked
    return value


def mask_card_numbers(item: Any, times: Collection[str] = ()) -> Any:
    """Mask every card number anywhere in a record: values, keys, nested objects and lists.

    Changes dicts and lists in place (records are fresh from the JSON parser) and returns the
    item. `times` names top-level fields typed `timestamp`/`date` in the YAML: numbers there are
    epoch times, not cards (their text is still masked).

    Most records hold no candidate at all: one serialisation and one search over the whole
    record (C speed, a few microseconds) rule that out before any value is looked at one by one.
    """
    if isinstance(item, dict | list):
        try:
            serialised = orjson.dumps(item, default=str, option=_JSON_OPTIONS)
        except orjson.JSONEncodeError:
            serialised = None  # an integer beyond 64 bits, say: look at every value
        if serialised is not None and not serialised_may_hold_card_number(serialised):
            return item
    return _mask_nested(item, times)


def serialised_may_hold_card_number(serialised: bytes) -> bool:
    """The pre-filter over a whole serialised record: PAN_HINT, searched only from the first
    stretch of 13 digits-or-separators on (no match can start before it)."""
    start = serialised.translate(_PAN_BYTES).find(_PAN_STRETCH)
    return start >= 0 and _HINT_IN_JSON.search(serialised, start) is not None


def _mask_nested(item: Any, times: Collection[str] = ()) -> Any:
    if isinstance(item, dict):
        renamed = []
        for key, value in item.items():
            kind = type(value)
            if kind is dict or kind is list:
                _mask_nested(value)
            elif kind is str:
                if len(value) >= MIN_DIGITS and _HINT.search(value):
                    item[key] = _masked(value)
            elif _large_number(value) and key not in times:
                item[key] = mask_value(value)
            if type(key) is str and len(key) >= MIN_DIGITS and _HINT.search(key):
                renamed.append(key)
        for key in renamed:  # a PAN as a key would become a column name
            item[_masked(key)] = item.pop(key)
    elif isinstance(item, list):
        for index, value in enumerate(item):
            kind = type(value)
            if kind is dict or kind is list:
                _mask_nested(value)
            elif kind is str:
                if len(value) >= MIN_DIGITS and _HINT.search(value):
                    item[index] = _masked(value)
            elif _large_number(value):
                item[index] = mask_value(value)
    else:
        return mask_value(item)
    return item


def _large_number(value: Any) -> bool:
    """An int or float big enough to be a card number (bools are ints, and never cards)."""
    kind = type(value)
    return (kind is int or kind is float) and (value >= _SMALLEST or value <= -_SMALLEST)


def record_masker(times: Collection[str]) -> Callable[[Any], Any]:
    """`mask_card_numbers` for one resource's records, with its YAML's time fields exempt."""
    frozen = frozenset(times)

    def mask(item: Any) -> Any:
        return mask_card_numbers(item, frozen)

    return mask


def mask_strings(array: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """A string column with card numbers masked; only strings the RE2 pre-filter flags reach
    Python, so a column without any costs one vectorised search."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    candidates = pc.match_substring_regex(chunked, PAN_HINT)
    if not pc.any(candidates).as_py():
        return chunked
    flat, where = chunked.combine_chunks(), candidates.combine_chunks()
    masked = [_masked(value) for value in pc.filter(flat, where).to_pylist()]  # RE2 flagged them
    return pa.chunked_array([pc.replace_with_mask(flat, where, pa.array(masked, flat.type))])


def numbers_hold_card_number(array: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a numeric column holds a value that is a card number (then it must become text)."""
    import pyarrow.compute as pc

    large = pc.filter(array, pc.greater_equal(pc.abs(array), _SMALLEST))
    return any(
        value is not None and _number_as_card(value) is not None for value in large.to_pylist()
    )


def mask_table(table: pa.Table) -> pa.Table:
    """Every string column of a table masked, and a numeric column holding a PAN cast to masked
    text (exports: the last door before a file leaves the warehouse)."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(index, field, mask_strings(column))
        elif _is_number(field.type) and numbers_hold_card_number(column):
            text = pa.array([mask_value(v) for v in column.to_pylist()], pa.string())
            table = table.set_column(index, pa.field(field.name, pa.string()), text)
    return table


def _is_number(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
