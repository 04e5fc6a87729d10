"""Minor units to major units in SQL, from the currencies' ISO 4217 exponents.

APIs send integer minor units (cents; whole yen). Staging and marts turn them into exact decimals
with the SQL built here, so a zero- or three-decimal currency is never divided by 100.
"""

from ..currencies import THREE_DECIMAL, ZERO_DECIMAL

# Three decimals hold every ISO 4217 minor unit exactly (KWD 1.234); 15 integer digits are plenty.
AMOUNT_TYPE = "DECIMAL(18,3)"


def major_units_sql(amount: str, currency: str) -> str:
    """SQL for `amount` (integer minor units) as an exact decimal in `currency`'s major unit.

    Multiplies by a decimal factor instead of dividing: DuckDB divides decimals as doubles.
    """

    factor = _by_exponent(
        currency,
        "CAST(1 AS DECIMAL(4,3))",
        "CAST(0.001 AS DECIMAL(4,3))",
        "CAST(0.01 AS DECIMAL(4,3))",
    )
    return f"CAST(CAST({amount} AS DECIMAL(18,0)) * {factor} AS {AMOUNT_TYPE})"


def minor_units_sql(amount: str, currency: str) -> str:
    """SQL for `amount` (a decimal in `currency`'s major unit, 12.34) as integer minor units
    (1234): what an API that writes major units would have sent in minor ones."""
    factor = _by_exponent(currency, "1", "1000", "100")
    return f"CAST(ROUND(CAST({amount} AS {AMOUNT_TYPE}) * {factor}) AS BIGINT)"


def _by_exponent(currency: str, zero: str, three: str, two: str) -> str:
    """A CASE choosing `zero`, `three` or `two` by the number of decimals of `currency`."""

    def codes(group: tuple[str, ...]) -> str:
        return ", ".join(f"'{code}'" for code in group)

    return (
        f"CASE WHEN UPPER({currency}) IN ({codes(ZERO_DECIMAL)}) THEN {zero} "
        f"WHEN UPPER({currency}) IN ({codes(THREE_DECIMAL)}) THEN {three} ELSE {two} END"
    )
