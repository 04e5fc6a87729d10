"""Provider YAML: the four documents load as written; bad files name file, resource and key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from payments_assets.specs import (
    ProviderSpecError,
    columns_config,
    endpoint_params,
    load_provider,
    load_providers,
    paginator_config,
    parse_provider,
)

GOOD = Path(__file__).parent.parent / "payments_assets" / "providers"


def _variant(name: str, edit) -> str:
    raw = yaml.safe_load((GOOD / f"{name}.yaml").read_text())
    edit(raw)
    return yaml.safe_dump(raw)


def _error(name: str, edit) -> ProviderSpecError:
    with pytest.raises(ProviderSpecError) as caught:
        parse_provider(_variant(name, edit), file=f"providers/{name}.yaml", name=name)
    return caught.value


def test_the_four_providers_load_with_every_documented_resource():
    specs = {spec.name: spec for spec in load_providers()}
    assert {name: [r.name for r in spec.resources] for name, spec in specs.items()} == {
        # `events`: billing's event log, which announces deleted customers (docs/sandbox.md).
        "billing": ["customers", "invoices", "charges", "subscriptions", "refunds", "events"],
        "commerce": ["charges", "products", "customers", "subscriptions"],
        "direct_debit": ["payments", "refunds", "mandates", "payouts"],
        "gateway": ["transactions", "balances", "list_payments"],
    }


def test_per_resource_primary_keys_override_the_defaults():
    commerce = load_provider(GOOD / "commerce.yaml")
    keys = {view.name: view.primary_key for view in commerce.views}
    assert keys == {
        "charges": ("charge_id",),
        "products": ("product_id",),
        "customers": ("customer_id",),
        "subscriptions": ("subscription_id",),
    }


def test_limit_on_a_cursor_paginator_becomes_a_query_parameter():
    direct_debit = load_provider(GOOD / "direct_debit.yaml")
    endpoint = direct_debit.view("mandates").endpoint
    assert endpoint_params(endpoint) == {"limit": 500}
    assert paginator_config(endpoint.paginator) == {
        "type": "cursor",
        "cursor_path": "meta.cursors.after",
        "cursor_param": "after",
    }


def test_offset_paginator_without_total_stops_on_an_empty_page():
    commerce = load_provider(GOOD / "commerce.yaml")
    config = paginator_config(commerce.view("charges").paginator)
    assert config["total_path"] is None and config["stop_after_empty_page"] is True
    assert config["limit"] == 500


def test_error_handler_becomes_the_provider_retry_policy():
    gateway = load_provider(GOOD / "gateway.yaml")
    policy = gateway.retry_policy
    assert policy.retry_on_status_codes == (429, 500, 502, 503, 504)
    assert (policy.max_retries, policy.backoff_factor) == (3, 2)


def test_snapshot_resources_are_those_without_a_time_cursor():
    specs = {spec.name: spec for spec in load_providers()}
    snapshots = sorted(f"{spec.name}/{r.name}" for spec in specs.values() for r in spec.snapshots)
    assert snapshots == ["commerce/products", "gateway/balances"]


def test_unknown_key_names_file_resource_and_key():
    error = _error("billing", lambda raw: raw["resources"][1]["endpoint"].update(colour="red"))
    assert str(error).startswith("providers/billing.yaml: resources[invoices].endpoint.colour:")
    assert "unknown key" in str(error)


def test_unknown_paginator_type_is_rejected():
    def edit(raw):
        raw["resources"][0]["endpoint"]["paginator"] = {"type": "cursr", "cursor_path": "x"}

    error = _error("gateway", edit)
    assert "resources[transactions].endpoint.paginator" in str(error)
    assert "cursr" in str(error)


def test_unknown_auth_type_is_rejected():
    error = _error("direct_debit", lambda raw: raw["client"]["auth"].update(type="kerberos"))
    assert "client.auth" in error.key and "kerberos" in str(error)


def test_missing_secret_is_rejected():
    error = _error("commerce", lambda raw: raw["client"]["auth"].pop("password"))
    assert error.key == "client.auth.password"
    assert "missing" in error.problem.lower()


def test_secret_written_as_a_literal_is_rejected():
    error = _error("billing", lambda raw: raw["client"]["auth"].update(api_key="bk_live_123"))
    assert error.key == "client.auth.api_key"


def test_secret_with_a_default_value_is_rejected():
    def edit(raw):
        raw["client"]["auth"]["token"] = {"env": "X_TOKEN", "default": "abc"}

    error = _error("direct_debit", edit)
    assert "default" in error.problem


def test_duplicate_resource_names_are_rejected():
    def edit(raw):
        raw["resources"].append(dict(raw["resources"][0]))

    error = _error("billing", edit)
    assert "duplicate resource 'customers'" in str(error)
    assert error.key.startswith("resources[customers]")


def test_cursor_paginator_without_cursor_path_is_rejected():
    error = _error(
        "gateway", lambda raw: raw["resources"][0]["endpoint"]["paginator"].pop("cursor_path")
    )
    assert error.key == "resources[transactions].endpoint.paginator.cursor_path"


def test_missing_data_selector_is_rejected():
    error = _error("gateway", lambda raw: raw["resources"][0]["endpoint"].pop("data_selector"))
    assert "data_selector" in error.key


def test_retry_override_on_one_resource_is_rejected():
    def edit(raw):
        raw["resources"][0]["endpoint"]["error_handler"] = {"max_retries": 9}

    error = _error("gateway", edit)
    assert "resource_defaults.endpoint" in error.problem


def test_invalid_yaml_names_the_line():
    with pytest.raises(ProviderSpecError) as caught:
        parse_provider("client: [unclosed\n", file="providers/x.yaml", name="x")
    assert caught.value.file == "providers/x.yaml" and "line" in caught.value.key


def test_name_must_match_the_file():
    error = _error("billing", lambda raw: raw.update(name="invoicing"))
    assert error.key == "name"


def test_a_new_provider_is_a_new_file(tmp_path):
    (tmp_path / "acme.yaml").write_text(_variant("direct_debit", lambda raw: None))
    [spec] = load_providers(tmp_path)
    assert spec.name == "acme" and len(spec.resources) == 4


def test_providers_dir_adds_and_overrides_provider_files(tmp_path, monkeypatch):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    (ours / "acme.yaml").write_text(_variant("direct_debit", lambda raw: None))
    (theirs / "billing.yaml").write_text(
        _variant("billing", lambda raw: raw.update(description="Our own billing"))
    )
    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", os.pathsep.join([str(ours), str(theirs)]))
    specs = {spec.name: spec for spec in load_providers()}
    assert set(specs) == {"acme", "billing", "commerce", "direct_debit", "gateway"}
    assert specs["billing"].description == "Our own billing"


def test_a_bad_file_in_the_providers_dir_names_its_own_path_and_key(tmp_path, monkeypatch):
    path = tmp_path / "acme.yaml"
    path.write_text(_variant("billing", lambda raw: raw["client"].update(colour="red")))
    monkeypatch.setenv("PAYMENTS_PROVIDERS_DIR", str(tmp_path))
    with pytest.raises(ProviderSpecError) as caught:
        load_providers()
    assert str(path) in str(caught.value) and "client.colour" in str(caught.value)


def test_the_code_location_loads_a_provider_from_the_providers_dir(tmp_path):
    (tmp_path / "acme.yaml").write_text(_variant("direct_debit", lambda raw: None))
    env = {**os.environ, "PAYMENTS_PROVIDERS_DIR": str(tmp_path)}
    probe = (
        "from payments_assets.definitions import defs\n"
        "keys = defs.resolve_asset_graph().get_all_asset_keys()\n"
        "print(sorted(k.to_user_string() for k in keys if k.path[0] == 'acme'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "acme/mandates" in result.stdout and "acme/payments" in result.stdout


# Real provider shapes: paginators, single objects, list parameters, rate budgets -----------


def test_every_paginator_form_translates_to_dlts_own_or_ours():
    forms = {
        "cursor with has_more": (
            {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page",
             "has_more_path": "has_more"},
            {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page",
             "has_more_path": "has_more"},
        ),
        "starting_after": (
            {"type": "cursor", "last_record_field": "id", "cursor_param": "starting_after",
             "has_more_path": "has_more", "limit": 100},
            {"type": "last_record_cursor", "record_field": "id",
             "cursor_param": "starting_after", "has_more_path": "has_more"},
        ),
        "next url": ({"type": "next_url"}, {"type": "json_link", "next_url_path": "next"}),
        "link header": ({"type": "link_header"}, {"type": "header_link", "links_next_key": "next"}),
        "pages": (
            {"type": "page_number", "base_page": 1, "total_path": "total_pages", "limit": 50},
            {"type": "page_number", "page_param": "page", "base_page": 1,
             "total_path": "total_pages", "stop_after_empty_page": True},
        ),
    }  # fmt: skip
    for name, (dialect, dlt) in forms.items():
        spec = parse_provider(
            _variant(
                "billing",
                lambda raw, d=dialect: raw["resources"][0]["endpoint"].update(paginator=d),
            ),
            file="x.yaml",
            name="billing",
        )
        assert paginator_config(spec.view("customers").paginator) == dlt, name
    starting_after = parse_provider(
        _variant("billing", lambda raw: raw["resources"][0]["endpoint"].update(
            paginator=forms["starting_after"][0])), file="x.yaml", name="billing"
    )  # fmt: skip
    assert endpoint_params(starting_after.view("customers").endpoint) == {"limit": 100}


def test_a_cursor_needs_exactly_one_place_to_read_it_from():
    both = {"type": "cursor", "cursor_path": "next", "last_record_field": "id",
            "cursor_param": "after"}  # fmt: skip
    error = _error("billing", lambda raw: raw["resources"][0]["endpoint"].update(paginator=both))
    assert error.key == "resources[customers].endpoint.paginator.cursor_path"
    assert "exactly one" in error.problem


def test_a_single_object_resource_may_drop_the_inherited_key():
    def balance(raw):
        raw["resources"].append(
            {"name": "balance", "primary_key": None, "write_disposition": "replace",
             "endpoint": {"path": "/v1/balance", "data_selector": "$",
                          "paginator": {"type": "single_page"}, "incremental": None}}
        )  # fmt: skip

    spec = parse_provider(_variant("billing", balance), file="x.yaml", name="billing")
    view = spec.view("balance")
    assert view.primary_key == () and view.dlt_primary_key is None
    assert view.write_disposition == "replace" and not view.windowed
    assert spec.view("charges").primary_key == ("id",), "the others keep the default"


def test_merge_without_a_key_is_refused():
    error = _error("billing", lambda raw: raw["resources"][0].update(primary_key=None))
    assert error.key == "resources[customers].primary_key" and "merge" in error.problem


def test_list_and_per_resource_params_add_to_the_defaults():
    def params(raw):
        raw["resource_defaults"]["endpoint"]["params"] = {"expand[]": ["customer", "invoice"]}
        raw["resources"][2]["endpoint"]["params"] = {"status": "succeeded"}

    spec = parse_provider(_variant("billing", params), file="x.yaml", name="billing")
    assert endpoint_params(spec.view("charges").endpoint) == {
        "expand[]": ["customer", "invoice"],
        "status": "succeeded",
    }
    assert spec.view("customers").endpoint.params == {"expand[]": ["customer", "invoice"]}


def test_a_rate_limit_per_provider_and_per_account():
    def budget(raw):
        raw["rate_limit"] = {"requests_per_second": 25, "burst": 5}
        raw["accounts"] = [
            {"name": "eu", "credentials": {"api_key": {"env": "EU_KEY"}}},
            {"name": "us", "credentials": {"api_key": {"env": "US_KEY"}},
             "rate_limit": {"requests_per_second": 100}},
        ]  # fmt: skip

    spec = parse_provider(_variant("billing", budget), file="x.yaml", name="billing")
    assert (spec.rate_limit_of("eu").requests_per_second, spec.rate_limit_of("eu").capacity) == (
        25,
        5,
    )
    assert spec.rate_limit_of("us").capacity == 100
    error = _error("billing", lambda raw: raw.update(rate_limit={"requests_per_second": 0}))
    assert error.key == "rate_limit.requests_per_second"


# Deletes ---------------------------------------------------------------------------------


def test_deletes_resolve_per_resource_over_the_defaults():
    def deletes(raw):
        raw["resource_defaults"]["deletes"] = {"webhooks": ["{resource}.deleted"]}
        raw["resources"][0]["deletes"] = {
            "mode": "hard",
            "when": {"field": "deleted", "values": [True]},
        }

    spec = parse_provider(_variant("billing", deletes), file="x.yaml", name="billing")
    customers, charges = spec.view("customers"), spec.view("charges")
    assert customers.deletes.mode == "hard" and customers.deletes.when.values == (True,)
    assert customers.deletes.webhooks == ("customers.deleted",)
    assert charges.deletes.mode == "soft" and charges.deletes.webhooks == ("charges.deleted",)
    assert columns_config(customers)["_deleted_at"] == {
        "data_type": "timestamp", "nullable": True, "hard_delete": True
    }  # fmt: skip
    assert "hard_delete" not in columns_config(charges)["_deleted_at"]


def test_a_soft_deleted_snapshot_merges_instead_of_replacing():
    gateway = load_provider(GOOD / "gateway.yaml")
    assert gateway.view("balances").deletes.absent_from_snapshot
    assert gateway.view("balances").write_disposition == "merge"  # the gone keep their row
    # Hard mode has no row to keep: the snapshot is replaced, as without deletes.
    products = load_provider(GOOD / "commerce.yaml").view("products")
    assert (products.deletes.mode, products.write_disposition) == ("hard", "replace")
    untracked = parse_provider(
        (GOOD / "gateway.yaml")
        .read_text()
        .replace("    deletes: {absent_from_snapshot: true}\n", ""),
        file="x.yaml",
        name="gateway",
    )
    assert untracked.view("balances").write_disposition == "replace"


def test_deletes_are_checked_against_the_resources():
    absent = _error(
        "billing", lambda raw: raw["resources"][0].update(deletes={"absent_from_snapshot": True})
    )
    assert absent.key == "resources[customers].deletes.absent_from_snapshot"
    assert "windowed" in absent.problem
    unknown = _error(
        "billing",
        lambda raw: raw["resources"][0].update(
            deletes={"events": {"resource": "nope", "types": ["customer.deleted"]}}
        ),
    )
    assert unknown.key == "resources[customers].deletes.events.resource"
