"""`python -m payments_assets.webhooks`: the receiver without the console script installed."""

from payments_assets.webhooks.cli import main

main()
