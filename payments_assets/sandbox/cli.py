"""`payments-sandbox`: serve the sandbox, or print the environment that points clients at it.

Two commands on one script keep the demo to two lines: `payments-sandbox --port 8765 &` and
`eval "$(payments-sandbox env --port 8765)"`.
"""

import argparse
import sys
from datetime import date

from payments_assets.sandbox.credentials import sandbox_env
from payments_assets.sandbox.options import SandboxOptions

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payments-sandbox",
        description="Serve the payment providers' APIs (the four shipped ones and the "
        "Stripe-shaped ledger) in test mode with deterministic data.",
        epilog="`payments-sandbox env --port P [--host H]` prints the matching `export` lines.",
    )
    defaults = SandboxOptions()
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default loopback)")
    parser.add_argument(
        "--records", type=int, default=defaults.records, help="records per list resource"
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=defaults.start,
        help="first day of data, YYYY-MM-DD (default: 30 days before today, UTC)",
    )
    parser.add_argument("--days", type=int, default=defaults.days, help="days of data")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="same seed, same bytes")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of data requests answered 5xx"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        help="data requests/s per credential, i.e. per provider and account (0 = unlimited)",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before each data response")
    parser.add_argument(
        "--token-ttl", type=int, default=defaults.token_ttl, help="gateway token lifetime (s)"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=1,
        help="accounts per provider, each with its own credentials and records (ids overlap)",
    )
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="send signed webhooks for touched records to URL/<provider> (e.g. "
        "http://127.0.0.1:8766/webhooks)",
    )
    parser.add_argument(
        "--webhook-faults",
        default=None,
        help="chance per event of webhook faults, e.g. duplicate=0.1,out_of_order=0.1,forged=0.05",
    )
    return parser


def env_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payments-sandbox env",
        description="Print `export NAME='value'` lines that point every provider at a sandbox.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument(
        "--accounts", type=int, default=1, help="also export accounts 2..N's credentials"
    )
    return parser


def print_env(host: str, port: int, accounts: int = 1) -> None:
    for name, value in sandbox_env(host, port, accounts).items():
        quoted = value.replace("'", "'\"'\"'")
        print(f"export {name}='{quoted}'")


def serve(argv: list[str]) -> None:
    parser = serve_parser()
    args = parser.parse_args(argv)
    try:
        options = SandboxOptions(
            records=args.records,
            start=args.start,
            days=args.days,
            seed=args.seed,
            fail_rate=args.fail_rate,
            rate_limit=args.rate_limit,
            latency_ms=args.latency_ms,
            token_ttl=args.token_ttl,
            accounts=args.accounts,
            webhook_url=args.webhook_url,
            webhook_faults=args.webhook_faults,
        )
    except ValueError as error:
        parser.error(str(error))
    # Imported here so `payments-sandbox env` answers without loading the web stack.
    import uvicorn

    from payments_assets.sandbox.app import create_app

    # Access logs are off: a request line would carry the billing API key in its query string.
    uvicorn.run(
        create_app(options), host=args.host, port=args.port, log_level="warning", access_log=False
    )


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["env"]:
        args = env_parser().parse_args(arguments[1:])
        print_env(args.host, args.port, args.accounts)
    else:
        serve(arguments)
