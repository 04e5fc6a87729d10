"""Card numbers (PANs) never reach the destination unmasked (PCI DSS 3.3/3.4).

Any string that looks like a full card number — 13 to 19 digits, optionally grouped by spaces or
dashes, passing the Luhn check — keeps its first 6 and last 4 digits; the rest become `*`.
Digit strings that fail Luhn (order references, phone numbers) are left alone.
"""

from __future__ import annotations

import re
from typing import Any

_CANDIDATE = re.compile(r"^\d[\d -]{11,22}\d$")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_pan(value: str) -> str:
    """`value` with its middle digits masked if it is a card number, else `value` itself."""
    if not _CANDIDATE.match(value):
        return value
    digits = value.replace(" ", "").replace("-", "")
    if not (13 <= len(digits) <= 19 and digits.isdigit() and luhn_valid(digits)):
        return value
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_card_numbers(item: Any) -> Any:
    """Mask every card number anywhere in a record, nested objects and lists included."""
    if isinstance(item, dict):
        for key, value in item.items():
            if isinstance(value, str):
                if len(value) >= 13 and value[0].isdigit():
                    item[key] = mask_pan(value)
            elif isinstance(value, (dict, list)):
                mask_card_numbers(value)
    elif isinstance(item, list):
        for index, value in enumerate(item):
            if isinstance(value, str):
                item[index] = mask_pan(value)
            elif isinstance(value, (dict, list)):
                mask_card_numbers(value)
    return item
