"""The local payments API in test mode: the four shipped providers and the Stripe-shaped
`ledger` on one loopback port.

See docs/sandbox.md for the contract. Tests use `running_sandbox`; in-process use
`create_app(SandboxOptions(...))`; the demo uses the `payments-sandbox` console script.
"""

from payments_assets.sandbox.credentials import sandbox_env
from payments_assets.sandbox.options import SandboxOptions
from payments_assets.sandbox.process import SandboxHandle, SandboxStartError, running_sandbox

__all__ = [
    "SandboxHandle",
    "SandboxOptions",
    "SandboxStartError",
    "running_sandbox",
    "sandbox_env",
]
