"""Regenerate docs/lineage.png: the lineage raw → staging → marts → exports of the daily revenue
export, as Dagster's UI draws it in headless Chromium.

    .venv/bin/python docs/make_lineage_screenshot.py

Starts `dagster-webserver` on a free loopback port with a throwaway DAGSTER_HOME (no warehouse
or sandbox is needed: the picture shows definitions, not data), and checks that every edge of
the code location's asset graph inside the picture is drawn before writing the file.
"""

import sys
from pathlib import Path

from payments_assets_tests.lineage_ui import (
    LINEAGE_SELECTION,
    chromium_missing,
    render_lineage,
    running_webserver,
)

PICTURE = Path(__file__).resolve().parent / "lineage.png"


def main() -> int:
    reason = chromium_missing()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    with running_webserver() as server:
        nodes = server.asset_nodes()
        drawn = render_lineage(server, nodes, LINEAGE_SELECTION, screenshot=PICTURE)
    expected = {(dep, key) for key in drawn.keys for dep in nodes[key].deps if dep in drawn.keys}
    if drawn.edges != expected:
        print(f"the picture misses edges: {sorted(expected - drawn.edges)}", file=sys.stderr)
        return 1
    print(f"wrote {PICTURE}: {len(drawn.keys)} assets, {len(drawn.edges)} edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
