"""Automation on by choice: whether schedules and run-launching sensors start RUNNING.

A first production deploy with real credentials must not call provider APIs on its first tick
before anyone chose to. So the default follows the profile: on locally (the demo builds
everything by itself), off with `PAYMENTS_DESTINATION=postgres`. `PAYMENTS_AUTOMATION=on` or
`off` decides either way. The statuses are defaults: once someone starts or stops a schedule or
sensor in the UI, the instance remembers that choice over any default.

The failure alert sensors are not automation (they launch no run and call no provider) and stay
running in every profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

AUTOMATION_VARIABLE = "PAYMENTS_AUTOMATION"
_CHOICES = {"on": True, "off": False}


@dataclass(frozen=True)
class AutomationSwitch:
    """The default status of every schedule and run-launching sensor."""

    on: bool = True

    @property
    def sensors(self) -> dg.DefaultSensorStatus:
        return dg.DefaultSensorStatus.RUNNING if self.on else dg.DefaultSensorStatus.STOPPED

    @property
    def schedules(self) -> dg.DefaultScheduleStatus:
        return dg.DefaultScheduleStatus.RUNNING if self.on else dg.DefaultScheduleStatus.STOPPED


def automation_switch(environ: Mapping[str, str] | None = None) -> AutomationSwitch:
    """`PAYMENTS_AUTOMATION` (on/off) if set, else on except in the production profile."""
    environ = os.environ if environ is None else environ
    choice = environ.get(AUTOMATION_VARIABLE, "").strip().lower()
    if choice:
        if choice not in _CHOICES:
            raise ValueError(f"{AUTOMATION_VARIABLE} must be on or off, not '{choice}'")
        return AutomationSwitch(_CHOICES[choice])
    return AutomationSwitch(environ.get("PAYMENTS_DESTINATION", "duckdb") != "postgres")


ALWAYS_ON = AutomationSwitch(True)
