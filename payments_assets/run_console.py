"""How much a run prints to its terminal: Dagster's console logger, at the level
`PAYMENTS_RUN_LOG_LEVEL` names (unset: Dagster's own default, every DEBUG event).

The demo sets WARNING unless `make demo VERBOSE=1`, so its terminal is not a wall of step
events; every event is still in the event log, which is what the UI shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg
from dagster._loggers import colored_console_logger

LEVEL_VARIABLE = "PAYMENTS_RUN_LOG_LEVEL"


def run_loggers(environ: Mapping[str, str] | None = None) -> dict[str, dg.LoggerDefinition]:
    """`Definitions(loggers=...)`: a console logger whose level defaults to the variable's (a
    run's config may still set another)."""
    level = (os.environ if environ is None else environ).get(LEVEL_VARIABLE, "").strip().upper()
    if not level:
        return {}
    return {
        "console": dg.LoggerDefinition(
            colored_console_logger.logger_fn,
            config_schema={
                "log_level": dg.Field(str, is_required=False, default_value=level),
                "name": dg.Field(str, is_required=False, default_value="dagster"),
            },
            description=f"Dagster's console logger at {level} ({LEVEL_VARIABLE}).",
        )
    }
