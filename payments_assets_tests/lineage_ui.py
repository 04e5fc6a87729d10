"""Dagster's UI as a user meets it: a webserver on a free loopback port with a throwaway
DAGSTER_HOME, its GraphQL asset graph, and the lineage graph as headless Chromium draws it.

Shared by test_lineage.py and docs/make_lineage_screenshot.py (which regenerates
docs/lineage.png). Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright's Python
package; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from playwright.sync_api import sync_playwright

from payments_assets.loopback import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT = 90.0  # loading the code location takes ~10 s on two busy cores
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# The lineage picture: everything four hops upstream of the daily revenue export, i.e.
# raw → staging → fct_payments / fct_refunds → daily_revenue → export.
LINEAGE_SELECTION = '4+key:"exports/daily_revenue_export"'
ASSET_GRAPH_QUERY = """
{ assetNodes { assetKey { path } groupName kinds description dependencyKeys { path } } }
"""


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"Chromium not found at {CHROMIUM} (install Debian's `chromium`: .ci/system-packages)"
        )
    return None


@dataclass(frozen=True)
class AssetNode:
    key: str  # "staging/billing__charges"
    group: str
    kinds: frozenset[str]
    description: str
    deps: frozenset[str]


class Webserver:
    """A running `dagster-webserver` for the project's code location."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = f"http://{HOST}:{port}"
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def graphql(self, query: str) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": query}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def asset_nodes(self) -> dict[str, AssetNode]:
        """Every asset of the code location, as the UI's GraphQL API serves it."""
        nodes = {}
        for node in self.graphql(ASSET_GRAPH_QUERY)["assetNodes"]:
            key = "/".join(node["assetKey"]["path"])
            nodes[key] = AssetNode(
                key=key,
                group=node["groupName"],
                kinds=frozenset(node["kinds"]),
                description=node["description"] or "",
                deps=frozenset("/".join(dep["path"]) for dep in node["dependencyKeys"]),
            )
        return nodes


@contextmanager
def running_webserver(environ: dict[str, str] | None = None) -> Iterator[Webserver]:
    """`dagster-webserver -m payments_assets.definitions` on a free loopback port, with a temporary
    DAGSTER_HOME holding the project's `dagster.yaml`; stopped on exit, always."""
    with tempfile.TemporaryDirectory(prefix="payments-webserver-") as folder:
        home = Path(folder) / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        log = Path(folder) / "webserver.log"
        port = free_port()
        command = [sys.executable, "-m", "dagster_webserver", "-m", "payments_assets.definitions"]
        env = {**os.environ, **(environ or {}), "DAGSTER_HOME": str(home)}
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*command, "-h", HOST, "-p", str(port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,  # relative data paths (data/...) land in the temp folder
                start_new_session=True,
            )
        server = Webserver(port, process, log)
        try:
            _wait_until_serving(server)
            yield server
        finally:
            stop_group(process)


def _wait_until_serving(server: Webserver) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited early:\n{server.output()}")
        try:
            if requests.get(f"{server.url}/server_info", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"dagster-webserver not serving after {START_TIMEOUT:.0f} s:\n{server.output()}"
    )


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    label: str

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x <= self.x + self.width and self.y <= other.y <= self.y + self.height
        )


@dataclass(frozen=True)
class RenderedLineage:
    """What the browser drew: asset keys and the edges between them (upstream, downstream)."""

    keys: frozenset[str]
    edges: frozenset[tuple[str, str]]


# What a returning user has chosen: no first-visit prompt, navigation folded away, and nodes
# that show their description and kinds (the UI keeps these in localStorage).
_UI_PREFERENCES = """
window.localStorage.setItem('communityNux', '1');
window.localStorage.setItem('dagster-nav-collapsed', 'true');
window.localStorage.setItem('asset-node-facets', JSON.stringify(['description', 'kind-tag']));
"""

_READ_GRAPH = """() => {
  const box = (element, label) => ({
    x: +element.getAttribute('x'), y: +element.getAttribute('y'),
    width: +element.getAttribute('width'), height: +element.getAttribute('height'), label});
  const objects = Array.from(document.querySelectorAll('foreignObject'));
  return {
    groups: objects.filter(o => o.querySelector('[class*="groupNodeHeaderBox"]'))
      .map(o => box(o, o.textContent.trim())),
    nodes: objects.filter(o => o.querySelector('[class*="AssetNode_assetName"]'))
      .map(o => box(o, o.querySelector('[class*="AssetNode_assetName"]').textContent.trim())),
    edges: Array.from(document.querySelectorAll('path[marker-end]')).map(p => p.getAttribute('d')),
    extent: (() => {
      const rects = objects.map(o => o.getBoundingClientRect());
      return {left: Math.min(...rects.map(r => r.left)), top: Math.min(...rects.map(r => r.top)),
              right: Math.max(...rects.map(r => r.right)),
              bottom: Math.max(...rects.map(r => r.bottom))};
    })(),
  };
}"""


def lineage_url(server: Webserver, selection: str, groups: Sequence[str]) -> str:
    """The global lineage graph filtered by `selection`, with `groups` expanded."""
    expanded = ",".join(f"global@global:{group}" for group in groups)
    return f"{server.url}/asset-groups~{quote(selection, safe='')}/?expanded={quote(expanded)}"


def render_lineage(
    server: Webserver,
    nodes: dict[str, AssetNode],
    selection: str = LINEAGE_SELECTION,
    screenshot: Path | None = None,
) -> RenderedLineage:
    """Open the lineage graph in headless Chromium and read back which assets and edges it
    drew; optionally keep a screenshot of it."""
    groups = sorted({node.group for node in nodes.values()})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            # A wide layout makes the graph fit at a zoom where nodes show names, descriptions
            # and kinds; the small scale factor keeps the picture about 1500 px wide.
            page = browser.new_page(
                viewport={"width": 2600, "height": 2000}, device_scale_factor=0.75
            )
            page.add_init_script(_UI_PREFERENCES)
            page.goto(lineage_url(server, selection, groups), timeout=60_000)
            page.locator("path[marker-end]").first.wait_for(state="attached", timeout=60_000)
            page.wait_for_timeout(1000)  # the graph settles into its zoom-to-fit
            drawn = page.evaluate(_READ_GRAPH)
            if screenshot is not None:
                page.screenshot(path=str(screenshot), clip=_around(drawn["extent"], margin=16))
        finally:
            browser.close()
    return _read_lineage(drawn, nodes)


def _around(extent: dict[str, float], margin: float) -> dict[str, float]:
    """A screenshot clip around the drawn graph (page coordinates)."""
    left, top = max(extent["left"] - margin, 0), max(extent["top"] - margin, 0)
    return {
        "x": left,
        "y": top,
        "width": extent["right"] + margin - left,
        "height": extent["bottom"] + margin - top,
    }


def _read_lineage(drawn: dict[str, Any], nodes: dict[str, AssetNode]) -> RenderedLineage:
    """Name each drawn box by its group and (possibly shortened) label, and each edge by the
    boxes it leaves and enters (edges leave a box's right middle, enter its left middle)."""
    groups = [Box(**group) for group in drawn["groups"]]
    boxes = {}
    for box in (Box(**node) for node in drawn["nodes"]):
        group = next(g.label for g in groups if g.contains(box))
        boxes[_asset_key(group, box.label, nodes)] = box
    edges = set()
    for path in drawn["edges"]:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        (x1, y1), (x2, y2) = numbers[:2], numbers[-2:]
        source = _nearest(boxes, lambda b: (b.x + b.width, b.y + b.height / 2), x1, y1)
        target = _nearest(boxes, lambda b: (b.x, b.y + b.height / 2), x2, y2)
        edges.add((source, target))
    return RenderedLineage(frozenset(boxes), frozenset(edges))


def _asset_key(group: str, label: str, nodes: dict[str, AssetNode]) -> str:
    """The asset a box shows: the UI shortens long names with '…' in the middle."""
    start, shortened, end = label.partition("…")

    def shows(name: str) -> bool:
        return name.startswith(start) and name.endswith(end) if shortened else name == label

    matches = [
        key for key, node in nodes.items() if node.group == group and shows(key.split("/")[-1])
    ]
    if len(matches) != 1:
        raise AssertionError(f"box '{label}' in group {group} matches {matches or 'no asset'}")
    return matches[0]


def _nearest(boxes: dict[str, Box], anchor: Any, x: float, y: float) -> str:
    def distance(key: str) -> float:
        ax, ay = anchor(boxes[key])
        return abs(ax - x) + abs(ay - y)

    key = min(boxes, key=distance)
    if distance(key) > 12:  # the arrow head sits a few pixels off the box
        raise AssertionError(f"an edge ends at ({x}, {y}), near no asset box")
    return key
