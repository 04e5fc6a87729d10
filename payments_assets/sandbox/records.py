"""The shape of every record the sandbox serves, built on demand from its index.

Each record gets its own random stream seeded by (seed, provider, resource, index), so any
page can be generated without the pages before it, and the same options give the same bytes.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from payments_assets.sandbox import vocabulary as words
from payments_assets.sandbox.cards import TEST_BINS, card_in_text, make_non_luhn_number, make_pan
from payments_assets.sandbox.catalog import BALANCE_CURRENCIES, BY_KEY, LEDGER_CURRENCIES, Resource
from payments_assets.sandbox.draws import RecordRandom
from payments_assets.sandbox.timeline import to_iso

Record = dict[str, Any]


@dataclass(frozen=True)
class Draw:
    """Everything a builder may use: its private RNG, the record's times and the dataset size.

    `leaks` is a second stream for the card numbers left in free text: drawing from it never
    shifts the values drawn from `rng`, so adding a leak changes no other field.
    """

    rng: RecordRandom
    leaks: RecordRandom
    index: int
    created: int
    updated: int
    count: int
    touches: int = 0
    seed: int = 0

    def text(self, drawn: str | None) -> str | None:
        """A free-text field: `drawn`, or now and then a note with a full card number in it."""
        return card_in_text(self.leaks) or drawn

    def ref(self, provider: str, resource: str) -> str:
        """Id of a random record in another resource, so joins in the warehouse resolve."""
        return BY_KEY[(provider, resource)].record_id(self.rng.randrange(self.count))

    def earlier_ref(self, provider: str, resource: str) -> str:
        """Id of a record created before this one (the first record names the first), so the
        object a Stripe-like record points at existed when it was made."""
        return BY_KEY[(provider, resource)].record_id(self.rng.randrange(max(self.index, 1)))

    def status(self, resource: Resource) -> str:
        """The record's status; each touch moves it one step on, so a touch is a visible change."""
        drawn = resource.statuses.index(self.rng.choice(resource.statuses))
        return resource.statuses[(drawn + self.touches) % len(resource.statuses)]


def _card(draw: Draw, with_pan: bool) -> Record:
    brand = draw.rng.choice(tuple(TEST_BINS))
    pan = make_pan(brand, draw.rng)
    card: Record = {
        "brand": brand,
        "last4": pan[-4:],
        "exp_month": draw.rng.randint(1, 12),
        "exp_year": draw.rng.randint(2027, 2033),
    }
    if with_pan:  # a leak masking has to catch, as it happens in real exports
        card["number"] = pan
    return card


def _times(draw: Draw) -> Record:
    return {"created_at": to_iso(draw.created), "updated_at": to_iso(draw.updated)}


def _gateway_transaction(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    name = d.rng.choice(words.PEOPLE)
    return {
        "id": r.record_id(d.index),
        "object": "transaction",
        "type": d.rng.choice(("sale", "authorization", "capture", "refund")),
        "amount": words.pick_amount(d.rng, currency),
        "currency": currency,
        "status": d.status(r),
        "description": d.text(words.pick_description(d.rng)),
        "customer": {"name": name, "email": words.email_for(name, d.index + 1)},
        "card": _card(d, with_pan=d.rng.random() < 0.2),
        "billing_address": words.address(d.rng),
        "metadata": {
            "order_ref": make_non_luhn_number(d.rng),
            "channel": d.rng.choice(("web", "pos", "mobile")),
            "note": d.text(None),
        },
        **_times(d),
    }


def _gateway_balance(r: Resource, d: Draw) -> Record:
    currency = BALANCE_CURRENCIES[d.index].upper()
    return {
        "id": r.record_id(d.index),
        "object": "balance",
        "currency": currency,
        "available": words.pick_amount(d.rng, currency, 10_000, 50_000_000),
        "pending": words.pick_amount(d.rng, currency, 0, 5_000_000),
        "reserved": 0 if d.rng.random() < 0.5 else words.pick_amount(d.rng, currency, 0, 100_000),
        "status": d.status(r),
        "updated_at": to_iso(d.updated),
    }


def _gateway_payment(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    status = d.status(r)
    return {
        "id": r.record_id(d.index),
        "transaction_id": d.ref("gateway", "transactions"),
        "amount": words.pick_amount(d.rng, currency),
        "currency": currency,
        "status": status,
        "method": d.rng.choice(("card", "bank_transfer", "wallet")),
        "captured_at": to_iso(d.updated) if status in ("captured", "settled") else None,
        "metadata": {"note": d.text(None)},
        **_times(d),
    }


def _billing_customer(r: Resource, d: Draw) -> Record:
    name = d.rng.choice(words.PEOPLE)
    return {
        "id": r.record_id(d.index),
        "object": "customer",
        "name": name,
        "email": words.email_for(name, d.index + 1),
        "phone": words.pick_phone(d.rng),
        "address": words.address(d.rng),
        "currency": d.rng.choice(words.CARD_CURRENCIES),
        "status": d.status(r),
        "delinquent": d.rng.random() < 0.05,
        "metadata": {
            "segment": d.rng.choice(("smb", "enterprise", "consumer")),
            "note": d.text(None),
        },
        **_times(d),
    }


def _billing_invoice(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    lines = [
        {
            "description": d.text(d.rng.choice(words.PRODUCTS)),
            "amount": words.pick_amount(d.rng, currency),
        }
        for _ in range(d.rng.randint(1, 4))
    ]
    total = sum(line["amount"] for line in lines)
    status = d.status(r)
    return {
        "id": r.record_id(d.index),
        "object": "invoice",
        "number": f"INV-{d.index + 1:07d}",
        "customer_id": d.ref("billing", "customers"),
        "status": status,
        "currency": currency,
        "amount_due": total,
        "amount_paid": total if status == "paid" else 0,
        "lines": lines,
        "due_date": to_iso(d.created + 14 * 86400)[:10],
        **_times(d),
    }


def _billing_charge(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    status = d.status(r)
    return {
        "id": r.record_id(d.index),
        "object": "charge",
        "customer_id": d.ref("billing", "customers"),
        "invoice_id": d.ref("billing", "invoices") if d.rng.random() < 0.6 else None,
        "amount": words.pick_amount(d.rng, currency),
        "currency": currency,
        "status": status,
        "paid": status == "succeeded",
        "description": d.text(words.pick_description(d.rng)),
        "payment_method_details": {"type": "card", "card": _card(d, with_pan=False)},
        **_times(d),
    }


def _billing_subscription(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    interval = d.rng.choice(("month", "year"))
    return {
        "id": r.record_id(d.index),
        "object": "subscription",
        "customer_id": d.ref("billing", "customers"),
        "status": d.status(r),
        "plan": {
            "id": f"plan_{interval}_{currency.lower()}",
            "name": d.rng.choice(words.PRODUCTS[:2]),
            "amount": words.pick_amount(d.rng, currency, 500, 50_000),
            "currency": currency,
            "interval": interval,
        },
        "quantity": d.rng.randint(1, 25),
        "cancel_at_period_end": d.rng.random() < 0.1,
        "current_period_start": to_iso(d.created),
        "current_period_end": to_iso(d.created + (30 if interval == "month" else 365) * 86400),
        **_times(d),
    }


def _billing_refund(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.CARD_CURRENCIES)
    return {
        "id": r.record_id(d.index),
        "object": "refund",
        "charge_id": d.ref("billing", "charges"),
        "amount": words.pick_amount(d.rng, currency, 100, 50_000),
        "currency": currency,
        "reason": d.rng.choice((None, "duplicate", "fraudulent", "requested_by_customer")),
        "status": d.status(r),
        **_times(d),
    }


def _debit_payment(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.DEBIT_CURRENCIES)
    return {
        "id": r.record_id(d.index),
        "mandate_id": d.ref("direct_debit", "mandates"),
        "payout_id": d.ref("direct_debit", "payouts") if d.rng.random() < 0.5 else None,
        "amount": words.pick_amount(d.rng, currency),
        "amount_refunded": 0,
        "currency": currency,
        "charge_date": to_iso(d.created + 3 * 86400)[:10],
        "description": d.text(words.pick_description(d.rng)),
        "reference": f"REF-{d.rng.randrange(10**8):08d}",
        "status": d.status(r),
        "metadata": {} if d.rng.random() < 0.5 else {"invoice": d.ref("billing", "invoices")},
        **_times(d),
    }


def _debit_refund(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.DEBIT_CURRENCIES)
    return {
        "id": r.record_id(d.index),
        "payment_id": d.ref("direct_debit", "payments"),
        "amount": words.pick_amount(d.rng, currency, 100, 50_000),
        "currency": currency,
        "reference": f"RFD-{d.rng.randrange(10**8):08d}",
        "status": d.status(r),
        **_times(d),
    }


def _debit_mandate(r: Resource, d: Draw) -> Record:
    given, _, family = d.rng.choice(words.PEOPLE).partition(" ")
    return {
        "id": r.record_id(d.index),
        "reference": f"MANDATE-{d.index + 1:06d}",
        "scheme": d.rng.choice(("bacs", "sepa_core", "autogiro", "becs")),
        "status": d.status(r),
        "customer": {
            "given_name": given,
            "family_name": family or None,
            "email": words.email_for(given, d.index + 1),
            "address": words.address(d.rng),
            "note": d.text(None),
        },
        "next_possible_charge_date": to_iso(d.updated + 2 * 86400)[:10],
        **_times(d),
    }


def _debit_payout(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.DEBIT_CURRENCIES)
    amount = words.pick_amount(d.rng, currency, 10_000, 5_000_000)
    return {
        "id": r.record_id(d.index),
        "amount": amount,
        "deducted_fees": amount // 100,
        "currency": currency,
        "status": d.status(r),
        "arrival_date": to_iso(d.created + 2 * 86400)[:10],
        "reference": f"PAYOUT-{d.index + 1:06d}",
        **_times(d),
    }


def _commerce_charge(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.SHOP_CURRENCIES)
    return {
        "charge_id": r.record_id(d.index),
        "occurred": to_iso(d.updated),
        "description": d.text(words.pick_description(d.rng)),
        "amount": words.pick_amount(d.rng, currency),
        "currency": currency,
        "status": d.status(r),
        "customer_id": d.ref("commerce", "customers"),
    }


def _commerce_product(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.SHOP_CURRENCIES)
    return {
        "product_id": r.record_id(d.index),
        "name": f"{d.rng.choice(words.PRODUCTS)} #{d.index + 1}",
        "description": d.text(words.pick_description(d.rng)),
        "amount": words.pick_amount(d.rng, currency, 100, 100_000),
        "currency": currency,
        "status": d.status(r),
    }


def _commerce_customer(r: Resource, d: Draw) -> Record:
    name = d.rng.choice(words.PEOPLE)
    return {
        "customer_id": r.record_id(d.index),
        "first_seen": d.updated,
        "name": name,
        "email": words.email_for(name, d.index + 1),
        "phone": words.pick_phone(d.rng),
    }


def _commerce_subscription(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(words.SHOP_CURRENCIES)
    return {
        "subscription_id": r.record_id(d.index),
        "first_seen": d.updated,
        "status": d.status(r),
        "amount": words.pick_amount(d.rng, currency, 500, 20_000),
        "currency": currency,
        "customer_id": d.ref("commerce", "customers"),
    }


# The ledger is Stripe-shaped: lower-case currencies, epoch `created`. Charges, disputes and
# subscriptions change after creation without moving `created` (`d.touches` changes so far,
# `d.updated` the last one's time: refunds, dispute statuses, cancellations); the other
# resources never change, and a touch moves their `created`, as on commerce.


def _ledger_amount(d: Draw, currency: str, low: int = 100, high: int = 250_000) -> int:
    return words.pick_amount(d.rng, currency.upper(), low, high)


def _ledger_charge(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    amount = _ledger_amount(d, currency)
    charge = {
        "id": r.record_id(d.index),
        "object": "charge",
        "amount": amount,
        "currency": currency,
        "status": replace(d, touches=0).status(r),  # a refund leaves a charge `succeeded`
        "customer": d.earlier_ref("ledger", "customers"),
        "description": d.text(words.pick_description(d.rng)),
        "created": d.created,
        "metadata": {"order": f"ORD-{d.rng.randrange(10**8):08d}"},
    }
    # The first change refunds part of the charge, a second one the rest (drawn last, so no
    # other field moves).
    partial = max(1, amount * d.rng.randint(10, 90) // 100)
    refunded = 0 if d.touches == 0 or charge["status"] != "succeeded" else amount
    if d.touches == 1 and refunded:
        refunded = partial
    charge["amount_refunded"] = refunded
    charge["refunded"] = refunded == amount
    return charge


REFUND_REASONS: tuple[str | None, ...] = (None, "requested_by_customer", "duplicate", "fraudulent")


def ledger_refund(
    resource: Resource, seed: int, number: int, charge: Record, amount: int, created: int
) -> Record:
    """Stripe's refund object for a rise of `amount_refunded` of `charge` by `amount`, made at
    `created`; `number` (the event that told the rise) gives its id and its own stream."""
    rng = RecordRandom(_stream_base(seed, resource.provider, resource.name) + number)
    return {
        "id": resource.record_id(number - 1),
        "object": "refund",
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge["id"],
        "status": "succeeded",
        "reason": rng.choice(REFUND_REASONS),
        "created": created,
    }


def _ledger_subscription(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    canceled = d.touches > 0
    return {
        "id": r.record_id(d.index),
        "object": "subscription",
        "customer": d.earlier_ref("ledger", "customers"),
        "status": "canceled" if canceled else replace(d, touches=0).status(r),
        "currency": currency,
        "plan": {"amount": _ledger_amount(d, currency, 500, 20_000), "interval": "month"},
        "created": d.created,
        "canceled_at": d.updated if canceled else None,
    }


def _ledger_customer(r: Resource, d: Draw) -> Record:
    name = d.rng.choice(words.PEOPLE)
    return {
        "id": r.record_id(d.index),
        "object": "customer",
        "email": words.email_for(name, d.index + 1),
        "name": name,
        "created": d.updated,
    }


def _ledger_payout(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    return {
        "id": r.record_id(d.index),
        "object": "payout",
        "amount": _ledger_amount(d, currency, 10_000, 5_000_000),
        "currency": currency,
        "arrival_date": d.updated + 2 * 86400,
        "status": d.status(r),
        "created": d.updated,
    }


def _ledger_dispute(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    return {
        "id": r.record_id(d.index),
        "object": "dispute",
        "amount": _ledger_amount(d, currency, 500, 100_000),
        "currency": currency,
        "charge": d.earlier_ref("ledger", "charges"),
        "reason": d.rng.choice(
            ("fraudulent", "duplicate", "product_not_received", "subscription_canceled", "general")
        ),
        "status": d.status(r),  # each change moves the dispute one status on
        "created": d.created,
    }


INVOICE_LINE_COUNTS: tuple[int, ...] = (0, 1, 10, 11, 3, 100, 101, 250)
"""Lines of the ledger invoice at index i: `INVOICE_LINE_COUNTS[i % 8]`: empty, one, exactly the
embedded page, one more than it, a few, exactly one page of 100, one more, and hundreds."""
EMBEDDED_LINES = 10
"""Stripe embeds the first 10 elements of a nested list; the rest is at the list's `url`."""
INVOICE_LINES_URL = "/v1/invoices/{id}/lines"


def invoice_line_count(index: int) -> int:
    return INVOICE_LINE_COUNTS[index % len(INVOICE_LINE_COUNTS)]


def invoice_lines(seed: int, index: int, currency: str, start: int = 0) -> list[Record]:
    """Lines `start`.. of the ledger invoice at `index`, each from its own stream."""
    invoice_id = BY_KEY[("ledger", "invoices")].record_id(index)
    base = _stream_base(seed, "ledger", "invoice_lines") + (index << 12)
    lines = []
    for position in range(start, invoice_line_count(index)):
        rng = RecordRandom(base + position)
        lines.append(
            {
                "id": f"il_{index + 1:06d}_{position + 1:04d}",
                "object": "line_item",
                "invoice": invoice_id,
                "amount": words.pick_amount(rng, currency.upper(), 100, 50_000),
                "currency": currency,
                "quantity": rng.randint(1, 5),
                "description": rng.choice(words.PRODUCTS),
            }
        )
    return lines


def _ledger_invoice(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    invoice_id = r.record_id(d.index)
    lines = invoice_lines(d.seed, d.index, currency)
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": d.earlier_ref("ledger", "customers"),
        "currency": currency,
        "status": d.status(r),
        "amount_due": sum(line["amount"] for line in lines),
        "created": d.updated,
        # A nested list as Stripe embeds it: the first page only, and where the rest is.
        "lines": {
            "object": "list",
            "data": lines[:EMBEDDED_LINES],
            "has_more": len(lines) > EMBEDDED_LINES,
            "total_count": len(lines),
            "url": INVOICE_LINES_URL.format(id=invoice_id),
        },
    }


def _ledger_payment_intent(r: Resource, d: Draw) -> Record:
    currency = d.rng.choice(LEDGER_CURRENCIES)
    intent_id = r.record_id(d.index)
    secret = "".join(d.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": _ledger_amount(d, currency),
        "currency": currency,
        "status": d.status(r),
        "customer": d.earlier_ref("ledger", "customers"),
        # What completes a payment from a browser: it must never land in a warehouse.
        "client_secret": f"{intent_id}_secret_{secret}",
        "created": d.updated,
    }


def _ledger_balance(r: Resource, d: Draw) -> Record:
    def funds(low: int, high: int) -> list[Record]:
        return [
            {"amount": _ledger_amount(d, currency, low, high), "currency": currency}
            for currency in LEDGER_CURRENCIES
        ]

    return {
        "object": "balance",
        "livemode": False,
        "available": funds(10_000, 50_000_000),
        "pending": funds(0, 5_000_000),
    }


BUILDERS: dict[tuple[str, str], Callable[[Resource, Draw], Record]] = {
    ("gateway", "transactions"): _gateway_transaction,
    ("gateway", "balances"): _gateway_balance,
    ("gateway", "list_payments"): _gateway_payment,
    ("billing", "customers"): _billing_customer,
    ("billing", "invoices"): _billing_invoice,
    ("billing", "charges"): _billing_charge,
    ("billing", "subscriptions"): _billing_subscription,
    ("billing", "refunds"): _billing_refund,
    ("direct_debit", "payments"): _debit_payment,
    ("direct_debit", "refunds"): _debit_refund,
    ("direct_debit", "mandates"): _debit_mandate,
    ("direct_debit", "payouts"): _debit_payout,
    ("commerce", "charges"): _commerce_charge,
    ("commerce", "products"): _commerce_product,
    ("commerce", "customers"): _commerce_customer,
    ("commerce", "subscriptions"): _commerce_subscription,
    ("ledger", "charges"): _ledger_charge,
    ("ledger", "customers"): _ledger_customer,
    ("ledger", "payouts"): _ledger_payout,
    ("ledger", "disputes"): _ledger_dispute,
    ("ledger", "balance"): _ledger_balance,
    ("ledger", "invoices"): _ledger_invoice,
    ("ledger", "payment_intents"): _ledger_payment_intent,
    ("ledger", "subscriptions"): _ledger_subscription,
}


def build_record(
    resource: Resource,
    seed: int,
    index: int,
    created: int,
    updated: int,
    count: int,
    touches: int = 0,
) -> Record:
    """The record at `index`, identical for identical arguments."""
    rng = RecordRandom(_stream_base(seed, resource.provider, resource.name) + index)
    leaks = RecordRandom(_stream_base(seed, resource.provider, f"{resource.name}:leaks") + index)
    draw = Draw(rng, leaks, index, created, updated, count, touches, seed)
    return BUILDERS[resource.key](resource, draw)


@lru_cache(maxsize=256)
def _stream_base(seed: int, provider: str, resource: str) -> int:
    """Where a resource's record streams start: apart for every (seed, provider, resource)."""
    digest = hashlib.sha256(f"records:{seed}:{provider}:{resource}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
