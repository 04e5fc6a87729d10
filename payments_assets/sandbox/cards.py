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
