"""`python -m payments_assets.sandbox`, the same as the `payments-sandbox` console script."""

from payments_assets.sandbox.cli import main

main()
