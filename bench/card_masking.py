"""What the card-number rule costs per record, against what parsing the same records costs.

The load-level figure (a load with masking against the same load with masking off) comes from
`ingest_throughput.py --paths dagster dagster_unmasked`; this one isolates the rule itself, on the
sandbox's own records (card numbers in every written form in descriptions, notes and invoice
lines), through both paths it runs on: dlt's dict rows and Arrow string columns.

    .venv/bin/python bench/card_masking.py [--records 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

import harness
import orjson
import pyarrow as pa

from payments_assets.card_numbers import mask_card_numbers, mask_strings
from payments_assets.sandbox.catalog import BY_KEY
from payments_assets.sandbox.dataset import Dataset
from payments_assets.sandbox.options import SandboxOptions

RESOURCES = (("billing", "charges"), ("billing", "invoices"), ("gateway", "transactions"))


def _records(count: int) -> list[dict[str, Any]]:
    options = SandboxOptions(records=count, start=harness.START, days=harness.DAYS)
    records = []
    for key in RESOURCES:
        dataset = Dataset(BY_KEY[key], count, options.start_epoch, options.end_epoch, 1)
        records += [dataset.record(i) for i in range(count)]
    return records


def _best(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per resource")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    records = _records(args.records)
    raw = [orjson.dumps(record) for record in records]
    texts = pa.chunked_array([[str(r.get("description")) for r in records if r.get("description")]])
    parse = _best(args.repeat, lambda: [orjson.loads(body) for body in raw])
    fresh = [copy.deepcopy(records) for _ in range(args.repeat)]
    mask = _best(args.repeat, lambda: [mask_card_numbers(r) for r in fresh.pop()])
    column = _best(args.repeat, lambda: mask_strings(texts))
    n = len(records)
    print(f"{n} sandbox records ({', '.join('/'.join(k) for k in RESOURCES)}), best of "
          f"{args.repeat}")  # fmt: skip
    print(f"parse JSON (orjson)           {n / parse:>12,.0f} records/s")
    print(f"mask dict records             {n / mask:>12,.0f} records/s  "
          f"({mask / parse:.2f}x the parse)")  # fmt: skip
    print(f"mask an Arrow text column     {len(texts) / column:>12,.0f} values/s  "
          f"({len(texts)} descriptions)")  # fmt: skip


if __name__ == "__main__":
    main()
