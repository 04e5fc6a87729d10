"""Alerts: failed runs and checks reach the notifier; the webhook is retried and never leaked."""

import logging

import dagster as dg
import pytest

from payments_assets.automation.sensors.alerts import check_failure_alert, run_failure_alert
from payments_assets.resources import Alert, AlertDeliveryError, AlertNotifier, alert_notifier

CHARGES = dg.AssetKey(["commerce", "charges"])
TOKEN = "T0KEN-s3cr3t-9f2a"  # in the receiver's URL path, as in a real chat webhook


def notifier_for(receiver, **options) -> AlertNotifier:
    return AlertNotifier(webhook_url=receiver.url, backoff_seconds=0.01, **options)


def report_check(instance, name: str, passed: bool, severity=dg.AssetCheckSeverity.ERROR) -> None:
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=CHARGES,
            check_name=name,
            passed=passed,
            severity=severity,
            description="1 charge_id value(s) appear more than once" if not passed else "ok",
            metadata={},
            blocking=severity == dg.AssetCheckSeverity.ERROR,
        )
    )


def test_a_failed_run_alerts_through_the_webhook(alert_receiver, instance):
    @dg.asset(key=["billing", "invoices_report"])
    def invoices_report() -> None:
        raise RuntimeError("billing API answered HTTP 503 on /v1/invoices")

    result = dg.materialize([invoices_report], instance=instance, raise_on_error=False)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"notifier": notifier_for(alert_receiver)},
    )
    run_failure_alert(context)

    [posted] = alert_receiver.received
    assert posted["path"].endswith(TOKEN)
    alert = posted["json"]
    assert alert["title"] == "Run failed: __ephemeral_asset_job__"
    assert alert["text"].endswith(
        "billing__invoices_report: RuntimeError: billing API answered HTTP 503 on /v1/invoices"
    ), "the step that failed and the error it raised, not Dagster's wrapper"
    assert alert["details"]["run_id"] == result.run_id
    assert alert["details"]["job"] == "__ephemeral_asset_job__"


def test_a_failed_check_alerts_once_per_evaluation(alert_receiver, instance, monkeypatch):
    from payments_assets.definitions import defs

    monkeypatch.setenv("PAYMENTS_ALERT_WEBHOOK_URL", alert_receiver.url)
    notifier = alert_notifier()  # as the code location builds it: the URL is an EnvVar
    cursor: list[str | None] = [None]

    def tick() -> list[dict]:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor[0], definitions=defs, resources={"notifier": notifier}
        )
        check_failure_alert(context)
        cursor[0] = context.cursor
        return [post["json"] for post in alert_receiver.received]

    report_check(instance, "primary_key_unique", passed=False)
    [first] = tick()
    assert first["title"] == "Check failed: commerce/charges primary_key_unique"
    assert first["text"].endswith("\n1 charge_id value(s) appear more than once")
    assert first["severity"] == "error" and first["details"]["blocking"] == "yes"

    assert len(tick()) == 1, "the same evaluation is not alerted twice"
    report_check(instance, "primary_key_unique", passed=True)
    assert len(tick()) == 1, "a passing evaluation is not an alert"
    report_check(instance, "schema_unchanged", passed=False, severity=dg.AssetCheckSeverity.WARN)
    report_check(instance, "primary_key_unique", passed=False)
    latest = tick()
    assert len(latest) == 3, "each new failure alerts again"
    assert {a["details"]["check"]: a["severity"] for a in latest[1:]} == {
        "primary_key_unique": "error",
        "schema_unchanged": "warning",
    }


def test_the_webhook_is_retried_until_it_answers(alert_receiver):
    alert_receiver.failures = [503, 429]
    notifier_for(alert_receiver).notify(Alert("Run failed: billing_windowed_job", "HTTP 503"))
    assert len(alert_receiver.received) == 3
    assert {post["json"]["title"] for post in alert_receiver.received} == {
        "Run failed: billing_windowed_job"
    }


def test_a_webhook_that_keeps_failing_raises_without_revealing_its_url(alert_receiver, caplog):
    alert_receiver.always_fail_with = 500
    unreachable = AlertNotifier(
        webhook_url=f"http://127.0.0.1:9/hooks/{TOKEN}", backoff_seconds=0.01, max_attempts=2
    )
    with caplog.at_level(logging.INFO):
        with pytest.raises(AlertDeliveryError) as refused:
            notifier_for(alert_receiver, max_attempts=3).notify(Alert("Check failed", "dupes"))
        with pytest.raises(AlertDeliveryError) as unanswered:
            unreachable.notify(Alert("Check failed", "dupes"))

    assert len(alert_receiver.received) == 3
    assert "127.0.0.1" in str(refused.value) and "HTTP 500" in str(refused.value)
    assert "ConnectionError" in str(unanswered.value)
    for error in (refused.value, unanswered.value):
        assert TOKEN not in str(error) and error.__cause__ is None and error.__context__ is None
    assert "Check failed" in caplog.text, "the alert was still logged"
    assert TOKEN not in caplog.text


def test_without_a_webhook_an_alert_is_a_log_line(caplog):
    assert alert_notifier(environ={}).webhook_url is None
    with caplog.at_level(logging.INFO):
        AlertNotifier().notify(
            Alert(
                "Check failed: gateway/balances schema_unchanged",
                "new column(s): reserved",
                "warning",
            )
        )
    [record] = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "gateway/balances schema_unchanged — new column(s): reserved" in record.getMessage()


def test_alerts_freshness_and_automation_sensors_start_running():
    from payments_assets.definitions import defs

    status = {sensor.name: sensor.default_status for sensor in defs.sensors or []}
    for name in (
        "run_failure_alert",
        "check_failure_alert",
        "freshness_checks_sensor",
        "payments_automation",
    ):
        assert status[name] == dg.DefaultSensorStatus.RUNNING, name
