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

    def codes(group: tuple[str, ...]) -> str:
        return ", ".join(f"'{code}'" for code in group)

    factor = (
        f"CASE WHEN UPPER({currency}) IN ({codes(ZERO_DECIMAL)}) THEN CAST(1 AS DECIMAL(4,3)) "
        f"WHEN UPPER({currency}) IN ({codes(THREE_DECIMAL)}) THEN CAST(0.001 AS DECIMAL(4,3)) "
        "ELSE CAST(0.01 AS DECIMAL(4,3)) END"
    )
    return f"CAST(CAST({amount} AS DECIMAL(18,0)) * {factor} AS {AMOUNT_TYPE})"
