"""Automation on by choice: schedules and run-launching sensors start RUNNING locally (the demo
and the tests that need them), STOPPED in the production profile unless PAYMENTS_AUTOMATION=on."""

from __future__ import annotations

import dagster as dg
import pytest

from payments_assets.automation.sensors.automation import INTERVAL_VARIABLE, automation_interval
from payments_assets.automation.switch import AutomationSwitch, automation_switch

from .test_postgres import definitions_loaded_fresh

AUTOMATION_SENSOR = "payments_automation"
ALERTS = {"run_failure_alert", "check_failure_alert"}  # launch nothing: running in every profile


def _definitions_with(monkeypatch, **environ: str) -> dg.Definitions:
    """The code location loaded anew with only `environ` of the variables that shape automation."""
    for name in ("PAYMENTS_DESTINATION", "PAYMENTS_AUTOMATION", INTERVAL_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return definitions_loaded_fresh()


def _statuses(monkeypatch, **environ: str) -> dict[str, str]:
    defs = _definitions_with(monkeypatch, **environ)
    return {
        **{s.name: s.default_status.value for s in defs.schedules or []},
        **{s.name: s.default_status.value for s in defs.sensors or []},
    }


def _automation(statuses: dict[str, str]) -> set[str]:
    return {status for name, status in statuses.items() if name not in ALERTS}


def test_the_switch_follows_the_profile_unless_set():
    assert automation_switch({}) == AutomationSwitch(True)
    assert automation_switch({"PAYMENTS_DESTINATION": "postgres"}) == AutomationSwitch(False)
    production_on = {"PAYMENTS_DESTINATION": "postgres", "PAYMENTS_AUTOMATION": "on"}
    assert automation_switch(production_on) == AutomationSwitch(True)
    assert automation_switch({"PAYMENTS_AUTOMATION": "OFF"}) == AutomationSwitch(False)
    with pytest.raises(ValueError, match="PAYMENTS_AUTOMATION must be on or off, not 'yes'"):
        automation_switch({"PAYMENTS_AUTOMATION": "yes"})


def test_production_profile_starts_every_schedule_and_sensor_stopped(monkeypatch):
    statuses = _statuses(monkeypatch, PAYMENTS_DESTINATION="postgres")
    assert any(name.endswith("_ingest_schedule") for name in statuses)
    assert any(name.endswith("_webhook_sensor") for name in statuses)
    assert {"payments_automation", "freshness_checks_sensor"} <= set(statuses)
    assert _automation(statuses) == {"STOPPED"}
    assert {statuses[name] for name in ALERTS} == {"RUNNING"}


def test_production_profile_runs_automation_when_switched_on(monkeypatch):
    statuses = _statuses(monkeypatch, PAYMENTS_DESTINATION="postgres", PAYMENTS_AUTOMATION="on")
    assert set(statuses.values()) == {"RUNNING"}


def test_local_profile_runs_automation_unless_switched_off(monkeypatch):
    assert set(_statuses(monkeypatch).values()) == {"RUNNING"}
    statuses = _statuses(monkeypatch, PAYMENTS_AUTOMATION="off")
    assert _automation(statuses) == {"STOPPED"} and {statuses[n] for n in ALERTS} == {"RUNNING"}


def _automation_sensor_interval(monkeypatch, **environ: str) -> int | None:
    sensors = _definitions_with(monkeypatch, **environ).sensors or []
    [sensor] = [s for s in sensors if s.name == AUTOMATION_SENSOR]
    return sensor.minimum_interval_seconds


def test_the_automation_sensor_ticks_every_30_s_unless_the_variable_says_otherwise(monkeypatch):
    assert _automation_sensor_interval(monkeypatch) == 30
    assert _automation_sensor_interval(monkeypatch, **{INTERVAL_VARIABLE: "5"}) == 5
    for wrong in ("0", "-5", "2.5", "soon"):
        with pytest.raises(ValueError, match=f"{INTERVAL_VARIABLE} must be whole seconds"):
            automation_interval({INTERVAL_VARIABLE: wrong})
