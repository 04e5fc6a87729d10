"""Test-mode credentials the sandbox accepts, and the environment that points clients at it.

They are published in docs/sandbox.md and worthless anywhere else; keeping them in one module
lets the server, the CLI's `env` command and the tests agree without copying strings around.
"""

GATEWAY_CLIENT_ID = "sandbox_gateway_client"
GATEWAY_CLIENT_SECRET = "gw_test_secret_5f1c9e2a7b"
BILLING_API_KEY = "bk_test_key_8d3e4f6a1c"
DIRECT_DEBIT_ACCESS_TOKEN = "dd_test_token_2b7c9d0e4f"
COMMERCE_USERNAME = "sandbox_commerce_user"
COMMERCE_PASSWORD = "cm_test_password_6a0f3b8c2d"

SECRETS: tuple[str, ...] = (
    GATEWAY_CLIENT_SECRET,
    BILLING_API_KEY,
    DIRECT_DEBIT_ACCESS_TOKEN,
    COMMERCE_PASSWORD,
)
"""Values that must never appear in a log line or a stats key."""


def sandbox_env(host: str, port: int) -> dict[str, str]:
    """Return the environment variables that point all four provider clients at a sandbox."""
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
    }
