"""Test-mode credentials the sandbox accepts, and the environment that points clients at it.

They are published in docs/sandbox.md and worthless anywhere else; keeping them in one module
lets the server, the CLI's `env` command and the tests agree without copying strings around.
"""

from payments_assets.webhooks.signing import secret_variable

GATEWAY_CLIENT_ID = "sandbox_gateway_client"
GATEWAY_CLIENT_SECRET = "gw_test_secret_5f1c9e2a7b"
BILLING_API_KEY = "bk_test_key_8d3e4f6a1c"
DIRECT_DEBIT_ACCESS_TOKEN = "dd_test_token_2b7c9d0e4f"
COMMERCE_USERNAME = "sandbox_commerce_user"
COMMERCE_PASSWORD = "cm_test_password_6a0f3b8c2d"
LEDGER_SECRET_KEY = "sk_test_ledger_4c7e1a9b2d"

WEBHOOK_SECRETS: dict[str, str] = {
    "gateway": "whsec_test_gateway_3e8a1f7c",
    "billing": "whsec_test_billing_9b2d4c6e",
    "direct_debit": "whsec_test_direct_debit_5a7f0e1b",
    "commerce": "whsec_test_commerce_2c9e8d4a",
    "ledger": "whsec_test_ledger_7d1b3f9a",
}
"""The secret each provider signs its webhooks with."""

WEBHOOK_SCHEMES: dict[str, str] = {"ledger": "stripe"}
"""How a provider signs when not with the project's own scheme (`X-Payments-Signature`): the
Stripe-shaped ledger sends `Stripe-Signature`, as Stripe does."""

SECRETS: tuple[str, ...] = (
    GATEWAY_CLIENT_SECRET,
    BILLING_API_KEY,
    DIRECT_DEBIT_ACCESS_TOKEN,
    COMMERCE_PASSWORD,
    LEDGER_SECRET_KEY,
    *WEBHOOK_SECRETS.values(),
)
"""Values that must never appear in a log line or a stats key."""


ACCOUNT_HEADER = "X-Account"
"""A request may name the account it means; it must match the account of its credentials."""


def account_id(number: int) -> str:
    """The sandbox's name for account `number` (1-based): `acct1`, `acct2`, ..."""
    return f"acct{number}"


def for_account(value: str, number: int) -> str:
    """Account 1 uses the published credentials; account k their `_acct<k>` variant."""
    return value if number == 1 else f"{value}_{account_id(number)}"


def _account_env(env: dict[str, str], number: int) -> dict[str, str]:
    """The credential variables of account `number`, named `PAYMENTS_<PROVIDER>_ACCT<k>_...`."""
    accounted = {}
    for name, value in env.items():
        if name.endswith(("_BASE_URL", "_TOKEN_URL", "_WEBHOOK_SECRET")):
            continue  # shared by all accounts
        provider = next(
            p
            for p in ("GATEWAY", "BILLING", "DIRECT_DEBIT", "COMMERCE", "LEDGER")
            if f"_{p}_" in name
        )
        suffix = name.split(f"_{provider}_", 1)[1]
        accounted[f"PAYMENTS_{provider}_ACCT{number}_{suffix}"] = for_account(value, number)
    return accounted


def sandbox_env(host: str, port: int, accounts: int = 1) -> dict[str, str]:
    """Return the environment variables that point every provider client at a sandbox.

    With several accounts, each further account's credentials are exported too.
    """
    env = _base_env(host, port)
    for number in range(2, accounts + 1):
        env.update(_account_env(env, number))
    return env


def _base_env(host: str, port: int) -> dict[str, str]:
    root = f"http://{host}:{port}"
    return {
        "PAYMENTS_GATEWAY_BASE_URL": f"{root}/gateway",
        "PAYMENTS_GATEWAY_TOKEN_URL": f"{root}/gateway/oauth/token",
        "PAYMENTS_GATEWAY_CLIENT_ID": GATEWAY_CLIENT_ID,
        "PAYMENTS_GATEWAY_CLIENT_SECRET": GATEWAY_CLIENT_SECRET,
        "PAYMENTS_BILLING_BASE_URL": f"{root}/billing",
        "PAYMENTS_BILLING_API_KEY": BILLING_API_KEY,
        "PAYMENTS_DIRECT_DEBIT_BASE_URL": f"{root}/direct_debit",
        "PAYMENTS_DIRECT_DEBIT_ACCESS_TOKEN": DIRECT_DEBIT_ACCESS_TOKEN,
        "PAYMENTS_COMMERCE_BASE_URL": f"{root}/commerce/v1/",
        "PAYMENTS_COMMERCE_USERNAME": COMMERCE_USERNAME,
        "PAYMENTS_COMMERCE_PASSWORD": COMMERCE_PASSWORD,
        "PAYMENTS_LEDGER_BASE_URL": f"{root}/ledger",
        "PAYMENTS_LEDGER_SECRET_KEY": LEDGER_SECRET_KEY,
        **{secret_variable(provider): secret for provider, secret in WEBHOOK_SECRETS.items()},
    }
