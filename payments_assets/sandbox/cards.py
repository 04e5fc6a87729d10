"""Card numbers for test data: Luhn-valid PANs that masking must catch, and look-alikes it must not.

A pipeline's PCI masking is only proven if the data holds both: real-looking PANs built from
well-known test BINs, and 16-digit references that fail the Luhn check and must stay untouched.
"""

from payments_assets.sandbox.draws import RecordRandom

TEST_BINS: dict[str, tuple[str, int]] = {
    "visa": ("424242", 16),
    "mastercard": ("555555", 16),
    "amex": ("378282", 15),
}
"""Brand → (issuer prefix, PAN length)."""


def _digits(rng: RecordRandom, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def luhn_check_digit(partial: str) -> int:
    """The digit that makes `partial + digit` pass the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:  # every second digit, counting left from the check digit
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10


def is_luhn_valid(number: str) -> bool:
    """True when `number` is all digits and its last digit is its Luhn check digit."""
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == int(number[-1])


def make_pan(brand: str, rng: RecordRandom) -> str:
    """A Luhn-valid card number of the brand's length, starting with its test BIN."""
    prefix, length = TEST_BINS[brand]
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return body + str(luhn_check_digit(body))


def make_non_luhn_number(rng: RecordRandom, length: int = 16) -> str:
    """A number that looks like a PAN (same length, no leading zero) but fails the Luhn check."""
    body = str(rng.randint(1, 9)) + _digits(rng, length - 2)
    return body + str((luhn_check_digit(body) + 1) % 10)


BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (13, 16, 19)),
    "mastercard": (("51", "52", "53", "54", "55", "2221", "2720"), (16,)),
    "amex": (("34", "37"), (15,)),
    "discover": (("6011", "644", "65"), (16, 19)),
    "jcb": (("3528", "3589"), (16, 19)),
    "diners": (("300", "36", "38"), (14,)),
    "unionpay": (("62",), (16, 17, 18, 19)),
    "maestro": (("5018", "6304", "6759"), (13, 15, 16, 19)),
}
"""Brand → (issuer prefixes, PAN lengths) of every major card brand, for PANs in free text."""

BRAND_PREFIXES: tuple[str, ...] = tuple(p for prefixes, _ in BRANDS.values() for p in prefixes)
"""What a scan for leaked sandbox card numbers looks for (alongside the test BINs above)."""

SEPARATORS: tuple[str, ...] = (" ", "-", ".")


def make_brand_pan(rng: RecordRandom, brand: str | None = None) -> str:
    """A Luhn-valid number of a brand (drawn when not given), of one of its lengths."""
    prefixes, lengths = BRANDS[brand or rng.choice(tuple(BRANDS))]
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return body + str(luhn_check_digit(body))


def group_sizes(length: int, style: str) -> tuple[int, ...]:
    """How people group a number of `length` digits: 4-4-4-4(-3), amex 4-6-5, diners 4-6-4."""
    if style == "amex" and length in (14, 15):
        return (4, 6, length - 10)
    fours = (4,) * (length // 4)
    return fours + ((length % 4,) if length % 4 else ())


def write_pan(pan: str, rng: RecordRandom) -> str:
    """`pan` as someone would type it: unbroken, or grouped by one kind of separator (or a mix)."""
    style = rng.choice(("plain", "fours", "amex", "mixed", "irregular"))
    if style == "plain":
        return pan
    if style == "irregular":
        sizes, left = [], len(pan)
        while left:
            sizes.append(min(left, rng.randint(1, 6)))
            left -= sizes[-1]
    else:
        sizes = list(group_sizes(len(pan), style))
    groups, start = [], 0
    for size in sizes:
        groups.append(pan[start : start + size])
        start += size
    separator = rng.choice(SEPARATORS)
    text = groups[0]
    for group in groups[1:]:
        text += (rng.choice(SEPARATORS) if style in ("mixed", "irregular") else separator) + group
    return text


_LEAK_TEMPLATES: tuple[str, ...] = (
    "{pan}",
    "Customer read out card {pan} on the phone",
    "refund to card no. {pan} please",
    "Karte {pan} abgelehnt",
    "card:{pan};exp 12/29",
    "Paid 12.50 with {pan} (manual entry)",
)


def card_in_text(rng: RecordRandom, rate: float = 0.06) -> str | None:
    """Free text with a full card number in it, on about `rate` of the draws (else None): the
    leaks a support agent or a checkout form leaves in descriptions and notes."""
    if rng.random() >= rate:
        return None
    pan = write_pan(make_brand_pan(rng), rng)
    return rng.choice(_LEAK_TEMPLATES).format(pan=pan)
