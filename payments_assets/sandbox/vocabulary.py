"""The words fake records are made of: names, places, currencies, products.

Kept apart from the record shapes so the data stays realistic in one place: unicode names, a
zero-decimal currency, addresses in several scripts, nullable fields.
"""

import unicodedata

from payments_assets.sandbox.draws import RecordRandom

PEOPLE: tuple[str, ...] = (
    "Alice Smith",
    "José Müller",
    "Zoë Ødegaard",
    "北京商户",
    "Ana-María Núñez",
    "Łukasz Wąsik",
    "Chloé Dubois",
    "Søren Østergaard",
    "Mehmet Yılmaz",  # noqa: RUF001 - the dotless i is deliberate (a Turkish name)
    "Priya Raman",
    "O'Brien & Sons Ltd",
    "Ivan Petrov",
    "Fatima Zahra",
    "山田太郎",
    "Bob Jones",
)

ADDRESSES: tuple[tuple[str, str, str, str], ...] = (
    ("1 Market Street", "San Francisco", "94105", "US"),
    ("Königstraße 5", "Stuttgart", "70173", "DE"),
    ("Rua Augusta 12", "Lisboa", "1100-053", "PT"),
    ("建国路88号", "北京", "100022", "CN"),
    ("Strandvejen 100", "København", "2900", "DK"),
    ("10 Downing Street", "London", "SW1A 2AA", "GB"),
    ("Calle de Alcalá 48", "Madrid", "28014", "ES"),
    ("1-1 Marunouchi", "東京", "100-0005", "JP"),
)

CARD_CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD")
DEBIT_CURRENCIES: tuple[str, ...] = ("GBP", "EUR", "SEK", "DKK", "AUD", "NZD")
SHOP_CURRENCIES: tuple[str, ...] = ("USD", "EUR", "JPY")
ZERO_DECIMAL: frozenset[str] = frozenset({"JPY"})

PRODUCTS: tuple[str, ...] = (
    "Starter plan",
    "Pro plan",
    "Espresso beans 1 kg",
    "Café crème capsules",
    "Gift card",
    "Über-Kabel USB-C",
    "抹茶ラテ",
    "Annual support",
)

DESCRIPTIONS: tuple[str, ...] = (
    "Order payment",
    "Monthly subscription",
    "Top-up",
    "Réservation hôtel",
    "Überweisung",
    "订阅费用",
)


_LATIN_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "O", "ß": "ss", "ł": "l", "Ł": "L", "\u0131": "i", "æ": "ae"}
)
"""Letters NFKD cannot reduce to ASCII, spelled the way their owners would in an address."""


def pick_amount(rng: RecordRandom, currency: str, low: int = 100, high: int = 250_000) -> int:
    """An amount in the currency's minor unit (cents; whole yen for a zero-decimal currency)."""
    amount = rng.randint(low, high)
    return max(1, amount // 100) if currency in ZERO_DECIMAL else amount


def email_for(name: str, number: int) -> str:
    """A deliverable-looking ASCII address derived from a possibly non-Latin name."""
    spelled = name.translate(_LATIN_LETTERS)
    ascii_name = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    slug = "".join(ch for ch in ascii_name.lower() if ch.isalnum()) or "customer"
    return f"{slug}.{number}@example.com"


def pick_phone(rng: RecordRandom) -> str | None:
    """A phone number, or None for the one in five customers who never gave one."""
    if rng.random() < 0.2:
        return None
    country = rng.choice(("1", "44", "49", "81", "86"))
    return f"+{country} {rng.randint(200, 999)} {rng.randint(1_000_000, 9_999_999)}"


def pick_description(rng: RecordRandom) -> str | None:
    """A free-text description, null on about a quarter of records as real APIs send them."""
    return None if rng.random() < 0.25 else rng.choice(DESCRIPTIONS)


def address(rng: RecordRandom) -> dict[str, str | None]:
    line1, city, postal_code, country = rng.choice(ADDRESSES)
    return {
        "line1": line1,
        "line2": rng.choice((None, None, "Apt 4B", "2º izq.")),
        "city": city,
        "postal_code": postal_code,
        "country": country,
    }
