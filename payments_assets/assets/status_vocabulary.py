"""One status vocabulary across providers, so `status = 'succeeded'` means the same everywhere.

Each provider names its lifecycle its own way (`captured`, `paid_out`, `confirmed`); staging keeps
the provider's word as `provider_status` and maps it here. A status missing from its resource's
map becomes `unknown` (and is listed in the staging materialization's metadata); a resource with
no map keeps the API's words, lower-cased.
"""

from collections.abc import Mapping

# Money movements (payments, charges, refunds, payouts): where the money is.
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
CANCELED, REFUNDED, DISPUTED = "canceled", "refunded", "disputed"
# Relationships (customers, mandates, subscriptions) and catalogue entries.
ACTIVE, INACTIVE, TRIALING, PAST_DUE, PAUSED = (
    "active",
    "inactive",
    "trialing",
    "past_due",
    "paused",
)
UNKNOWN = "unknown"

STATUS_MAP: Mapping[tuple[str, str], Mapping[str, str]] = {
    ("gateway", "transactions"): {
        "pending": PENDING,
        "succeeded": SUCCEEDED,
        "failed": FAILED,
        "refunded": REFUNDED,
        "disputed": DISPUTED,
    },
    ("gateway", "list_payments"): {
        "requires_capture": PENDING,
        "captured": SUCCEEDED,
        "settled": SUCCEEDED,
        "voided": CANCELED,
        "failed": FAILED,
    },
    ("gateway", "balances"): {"available": ACTIVE, "frozen": INACTIVE},
    ("billing", "customers"): {"active": ACTIVE, "inactive": INACTIVE, "archived": INACTIVE},
    ("billing", "invoices"): {
        "draft": PENDING,
        "open": PENDING,
        "paid": SUCCEEDED,
        "void": CANCELED,
        "uncollectible": FAILED,
    },
    ("billing", "charges"): {"pending": PENDING, "succeeded": SUCCEEDED, "failed": FAILED},
    ("billing", "subscriptions"): {
        "trialing": TRIALING,
        "active": ACTIVE,
        "past_due": PAST_DUE,
        "unpaid": PAST_DUE,
        "canceled": CANCELED,
    },
    ("billing", "refunds"): {
        "pending": PENDING,
        "succeeded": SUCCEEDED,
        "failed": FAILED,
        "canceled": CANCELED,
    },
    ("direct_debit", "payments"): {
        "pending_submission": PENDING,
        "submitted": PENDING,
        "confirmed": SUCCEEDED,
        "paid_out": SUCCEEDED,
        "failed": FAILED,
        "cancelled": CANCELED,
    },
    ("direct_debit", "refunds"): {
        "created": PENDING,
        "pending_submission": PENDING,
        "submitted": PENDING,
        "paid": SUCCEEDED,
        "bounced": FAILED,
    },
    ("direct_debit", "mandates"): {
        "pending_submission": PENDING,
        "submitted": PENDING,
        "active": ACTIVE,
        "failed": FAILED,
        "cancelled": CANCELED,
    },
    ("direct_debit", "payouts"): {"pending": PENDING, "paid": SUCCEEDED, "bounced": FAILED},
    ("commerce", "charges"): {
        "authorized": PENDING,
        "captured": SUCCEEDED,
        "declined": FAILED,
        "refunded": REFUNDED,
    },
    ("commerce", "products"): {"active": ACTIVE, "draft": PENDING, "archived": INACTIVE},
    ("commerce", "subscriptions"): {"active": ACTIVE, "paused": PAUSED, "cancelled": CANCELED},
}


def status_sql(provider: str, resource: str, column: str) -> str:
    """SQL mapping `column` to the common vocabulary; the raw value when no map is known."""
    mapping = STATUS_MAP.get((provider, resource))
    if not mapping:
        return f"LOWER({column})"
    cases = " ".join(f"WHEN '{raw}' THEN '{common}'" for raw, common in mapping.items())
    return f"CASE LOWER({column}) {cases} ELSE '{UNKNOWN}' END"
