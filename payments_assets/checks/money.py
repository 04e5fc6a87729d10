"""Money sanity: amounts are integers in minor units, currencies are ISO 4217 codes.

A fractional amount means major units (12.50 where 1250 was meant) or a float that will not sum
exactly; an unknown currency cannot be converted or reported. Both rules block.
"""

from __future__ import annotations

import dagster as dg

from ..currencies import ISO_4217
from ..warehouse_sql import INTEGER_TYPES, quote
from .rules import Finding, Rule, Subject, listing

_NUMERIC_PREFIXES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")


def _judge_amounts(subject: Subject) -> Finding:
    problems: dict[str, str] = {}
    absent: list[str] = []
    for column in subject.view.amount_columns:
        data_type = subject.main_columns.get(column)
        if data_type is None:
            absent.append(column)
        elif data_type not in INTEGER_TYPES:
            problems[column] = _non_integer(subject, column, data_type)
    metadata = {"absent_columns": dg.MetadataValue.json(absent)} if absent else {}
    if problems:
        found = listing(f"{column} {problem}" for column, problem in problems.items())
        return Finding(
            False,
            f"amounts must be integers in minor units: {found}. Declare the column "
            "`data_type: bigint` in the provider YAML if the API sends whole numbers.",
            {**metadata, "problems": dg.MetadataValue.json(problems)},
        )
    checked = [c for c in subject.view.amount_columns if c not in absent]
    return Finding(True, f"{', '.join(checked) or 'no amount column yet'}: integer", metadata)


def _non_integer(subject: Subject, column: str, data_type: str) -> str:
    if not data_type.startswith(_NUMERIC_PREFIXES):
        return f"is stored as {data_type}"
    [(fractional,)] = subject.rows(
        f"select count(*) from {subject.ref} where {quote(column)} <> floor({quote(column)})",
    )
    return f"is stored as {data_type} ({fractional} fractional value(s))"


def _judge_currencies(subject: Subject) -> Finding:
    column = subject.view.currency_column or ""
    if column not in subject.main_columns:
        return Finding(True, f"no {column} column yet: nothing to check")
    rows = subject.rows(
        f"select {quote(column)}, count(*) from {subject.ref} "
        f"where {quote(column)} is not null group by {quote(column)}",
    )
    # Codes are compared upper-cased: some APIs send ISO codes in lower case ("usd").
    unknown = {str(code): int(n) for code, n in rows if str(code).upper() not in ISO_4217}
    seen = sorted(str(code) for code, _ in rows)
    if unknown:
        found = listing(f"{code!r} ({n} rows)" for code, n in sorted(unknown.items()))
        return Finding(
            False,
            f"{column} holds codes that are not ISO 4217: {found}",
            {"unknown_codes": dg.MetadataValue.json(unknown)},
        )
    return Finding(True, f"{column}: {listing(seen, 10)}", {"codes": dg.MetadataValue.json(seen)})


AMOUNTS_IN_MINOR_UNITS = Rule(
    name="amounts_in_minor_units",
    description="Amount columns (quality.amount_columns) are stored as integers in minor units.",
    blocking=True,
    applies_to=lambda view: bool(view.amount_columns),
    judge=_judge_amounts,
)
CURRENCIES_ISO_4217 = Rule(
    name="currencies_iso_4217",
    description="The currency column (quality.currency_column) holds ISO 4217 codes only.",
    blocking=True,
    applies_to=lambda view: view.currency_column is not None,
    judge=_judge_currencies,
)
