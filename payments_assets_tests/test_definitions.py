"""The code location's shape, as a snapshot: asset keys, groups, deps, checks, jobs, schedules and
sensors. A change to any of them shows in review as a change to `snapshots/definitions.json`;
write the new one with `PAYMENTS_UPDATE_SNAPSHOTS=1 .venv/bin/pytest -k snapshot`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from payments_assets.definitions import defs

ROOT = Path(__file__).parents[1]
SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def shape(definitions: dg.Definitions) -> dict[str, Any]:
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "automated": node.automation_condition is not None,
        }
    checks = sorted(
        f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
    )
    repository = definitions.get_repository_def()
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
        for job in repository.get_all_jobs()
        if not job.name.startswith("__")
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "job": s.job_name, "status": s.default_status.value}
        for s in repository.schedule_defs
    }
    sensors = {s.name: s.default_status.value for s in repository.sensor_defs}
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
    }


def test_definitions_match_their_snapshot():
    current = shape(defs)
    if os.environ.get("PAYMENTS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_raw_asset_is_a_resource_of_its_provider_yaml():
    current = shape(defs)["assets"]
    raw = {
        key
        for key, node in current.items()
        if node["group"] not in ("staging", "marts", "exports", "webhooks")
    }
    assert all(key.split("/")[0] == current[key]["group"] for key in raw)
    assert not any(current[key]["automated"] for key in raw), "raw assets run on schedules"
    built = [key for key in current if key.split("/")[0] in ("staging", "marts", "exports")]
    assert built and all(current[key]["automated"] for key in built)


def test_pyproject_and_workspace_name_the_same_code_location():
    """`dg` reads pyproject, the classic CLI `workspace.yaml`: they must agree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    [location] = workspace["load_from"]
    module = location["python_module"]
    module = module["module_name"] if isinstance(module, dict) else module
    assert f"{project['root_module']}.definitions" == module
    assert project.get("code_location_name", module) == module


def test_every_table_an_asset_names_is_schema_qualified_and_its_own():
    """`billing/charges` shows `billing.charges`, never a bare `charges` that Dagster would link
    to `commerce/charges`."""
    graph = defs.resolve_asset_graph()
    tables: dict[str, str] = {}
    for key in graph.get_all_asset_keys():
        name = graph.get(key).metadata.get("dagster/table_name")
        if name is None:
            continue
        name = getattr(name, "value", name)
        schema, _, table = name.rpartition(".")
        assert schema and table, f"{key.to_user_string()}: {name}"
        assert name not in tables, f"{key.to_user_string()} and {tables.get(name)} share {name}"
        tables[name] = key.to_user_string()
    assert tables["billing.charges"] == "billing/charges"
    assert tables["commerce.charges"] == "commerce/charges"
    assert tables["staging.billing__charges"] == "staging/billing__charges"
    assert tables["marts.fct_payments"] == "marts/fct_payments"
    raw = [key for key in graph.get_all_asset_keys() if key.path[0] in ("billing", "gateway")]
    assert all(graph.get(key).metadata.get("dagster/table_name") for key in raw)
